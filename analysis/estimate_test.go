package analysis

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Analyses the machine cannot hold, or that cannot end within a week, are
// refused before they start (issue 19 F5, F6), in one line naming the flag
// and the largest value of it that fits; the value named fits and the next
// one does not.
func TestCheckResources(t *testing.T) {
	const GiB = 1 << 30
	base := DefaultOptions()
	base.Workers = 2
	cases := []struct {
		name    string
		set     func(o *Options)
		have    float64
		samples string // ResourceFlags.Samples
		want    string // "" for accepted
		flag    string // the flag whose largest fitting value is named
		memory  bool   // the limit is memory (else time)
	}{
		{"defaults", func(o *Options) {}, 4 * GiB, "", "", "", false},
		{"defaults, memory unknown", func(o *Options) {}, 0, "", "", "", false},
		{"a billion steps", func(o *Options) { o.Steps = 1e9 }, 16 * GiB, "", "--steps 1000000000: the analysis needs about", "--steps", true},
		{"a billion steps, states", func(o *Options) { o.Steps = 1e9; o.Arenas = []float64{2} }, 16 * GiB, "--samples", "--steps 1000000000: the analysis needs about", "--steps", true},
		{"fine bins in large arenas", func(o *Options) { o.BinsPerMetre = 400; o.Arenas = []float64{4, 5} }, 4 * GiB, "", "--bins 400: the analysis needs about", "--bins", true},
		{"a billion distance samples", func(o *Options) { o.DistanceSamples = 1e9; o.Trajectories = 1e8 }, 16 * GiB, "", "--distance-samples 1000000000: the analysis needs about", "--distance-samples", true},
		{"states' samples", func(o *Options) { o.DistanceSamples = 1e9; o.Trajectories = 1e8 }, 16 * GiB, "--samples", "--samples 1000000000: the analysis needs about", "--samples", true},
		{"1e15 walks", func(o *Options) { o.Trajectories = 1e15 }, 16 * GiB, "", "--trajectories 1000000000000000: the analysis would take at least", "--trajectories", false},
		{"1e15 walks, memory unknown", func(o *Options) { o.Trajectories = 1e15 }, 0, "", "over the limit of a week", "--trajectories", false},
		{"long walks, memory unknown", func(o *Options) { o.Steps = 1e13 }, 0, "", "--steps 10000000000000: the analysis would take at least", "--steps", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := base
			c.set(&o)
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			err := CheckResources(8, 16, o, c.have, "available", ResourceFlags{Samples: c.samples})
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line with %q", msg, c.want)
			}
			m := regexp.MustCompile(`the most that (?:fits|can end within a week) is (--[a-z-]+) (\d+)`).FindStringSubmatch(msg)
			if m == nil || m[1] != c.flag {
				t.Fatalf("error %q names no largest value of %s", msg, c.flag)
			}
			v, _ := strconv.Atoi(m[2])
			fits := func(v int) bool {
				p := o
				switch c.flag {
				case "--steps":
					p.Steps = v
				case "--trajectories":
					p.Trajectories = v
				case "--bins":
					p.BinsPerMetre = v
				default:
					p.DistanceSamples = v
				}
				if c.memory {
					return EstimateMemory(8, 16, p).Bytes <= c.have
				}
				return EstimateSeconds(8, 16, p) <= MaxSeconds
			}
			if !fits(v) || fits(v+1) {
				t.Errorf("%s %d fits: %v; %d fits: %v; want the largest value that fits", c.flag, v, fits(v), v+1, fits(v+1))
			}
		})
	}
}

// The estimate is of the right size: the default analysis of a paper-size
// network needs well under a GiB, and the estimate grows with each flag it
// names.
func TestEstimateMemoryGrows(t *testing.T) {
	o := DefaultOptions()
	o.Workers = 4
	e := EstimateMemory(128, 256, o)
	if e.Bytes < 64<<20 || e.Bytes > 1<<30 {
		t.Errorf("default analysis of N=128, H=256: %.3g bytes", e.Bytes)
	}
	for _, set := range []func(o *Options){
		func(o *Options) { o.Steps *= 1000 },
		func(o *Options) { o.BinsPerMetre *= 10 },
		func(o *Options) { o.DistanceSamples *= 1000 },
		func(o *Options) { o.Workers *= 4 },
		func(o *Options) { o.Arenas = append(o.Arenas, 5) },
	} {
		p := o
		set(&p)
		if f := EstimateMemory(128, 256, p); f.Bytes <= e.Bytes {
			t.Errorf("%+v: %.3g bytes, no more than the default's %.3g", f, f.Bytes, e.Bytes)
		}
	}
}
