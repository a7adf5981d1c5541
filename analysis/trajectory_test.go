package analysis

import (
	"fmt"
	"math"
	"testing"
)

func TestTrajectoriesStayInsideAndCover(t *testing.T) {
	for _, c := range []struct {
		L            float64
		n, steps     int
		binsPerMetre int
		minVisited   float64
	}{
		{0.5, 20, 500, 20, 0.99},
		{1, 50, 500, 20, 0.99},
		{2, 100, 500, 20, 0.99},
		{4, 200, 500, 10, 0.98},
	} {
		t.Run(fmt.Sprintf("L%g", c.L), func(t *testing.T) {
			vel, pos := Trajectories(DefaultMotion, c.L, c.n, c.steps, 42)
			half := c.L / 2
			acc := NewAccumulator(1, NewBinning(c.L, c.binsPerMetre))
			var path float64
			var nearWall int
			for i := 0; i < c.n; i++ {
				var x, y float64 // integrate the float32 velocities as the network does
				for s := 0; s < c.steps; s++ {
					k := (i*c.steps + s) * 2
					px, py := pos[k], pos[k+1]
					if math.Abs(px) > half || math.Abs(py) > half {
						t.Fatalf("walk %d step %d at (%g, %g), outside the %g m arena", i, s, px, py, c.L)
					}
					x += float64(vel[k])
					y += float64(vel[k+1])
					if math.Abs(x-px) > 1e-5 || math.Abs(y-py) > 1e-5 {
						t.Fatalf("walk %d step %d: velocities sum to (%g, %g), position is (%g, %g)", i, s, x, y, px, py)
					}
					if s == 0 && math.Hypot(px, py) > 0.2 {
						t.Fatalf("walk %d does not start at the origin: first position (%g, %g)", i, px, py)
					}
					path += math.Hypot(float64(vel[k]), float64(vel[k+1]))
					if half-math.Abs(px) < DefaultMotion.Border || half-math.Abs(py) < DefaultMotion.Border {
						nearWall++
					}
				}
				acc.Add(pos[i*c.steps*2:(i+1)*c.steps*2], make([]float32, c.steps))
			}
			cov := acc.Coverage(DefaultMotion.Dt)
			if cov.VisitedFraction < c.minVisited {
				t.Errorf("visited %.3f of bins, want at least %.2f", cov.VisitedFraction, c.minVisited)
			}
			if cov.OutsideSamples != 0 {
				t.Errorf("%d samples outside", cov.OutsideSamples)
			}
			// Rayleigh mean speed is b*sqrt(pi/2) = 1.02 m/s; walls slow the
			// walker down a little.
			speed := path / (float64(c.n*c.steps) * DefaultMotion.Dt)
			if speed < 0.6 || speed > 1.1 {
				t.Errorf("mean speed %.3f m/s, want about 1 (Rayleigh scale %.3f)", speed, DefaultMotion.SpeedScale)
			}
			// The walker must not hug the walls: the border strip is a
			// small part of the arena and it is left quickly.
			strip := 1 - math.Pow(1-2*DefaultMotion.Border/c.L, 2)
			if frac := float64(nearWall) / float64(c.n*c.steps); frac > 3*strip {
				t.Errorf("%.3f of samples within %.2f m of a wall (strip is %.3f of the area)", frac, DefaultMotion.Border, strip)
			}
		})
	}
}

// TestTrainingWalks checks the --walks training preset: steps about as
// long as training steps (Uniform(-0.15, 0.15)^2 velocities, mean length
// 0.115 m), 30 per walk from the origin, inside the arena.
func TestTrainingWalks(t *testing.T) {
	var o Options
	if err := o.SetWalks(WalksTraining); err != nil {
		t.Fatal(err)
	}
	if o.Motion.Dt != 0.1 || o.Steps != 30 || o.Trajectories != 4000 || o.Motion.SpeedScale != DefaultMotion.SpeedScale {
		t.Fatalf("training walks: %+v", o)
	}
	for _, L := range []float64{1, 2, 4} {
		vel, pos := Trajectories(o.Motion, L, 2000, o.Steps, 3)
		var path, far float64
		for k := 0; k < len(vel); k += 2 {
			path += math.Hypot(float64(vel[k]), float64(vel[k+1]))
			if math.Abs(pos[k]) > L/2 || math.Abs(pos[k+1]) > L/2 {
				t.Fatalf("L=%g: position (%g, %g) outside the arena", L, pos[k], pos[k+1])
			}
			far = max(far, math.Hypot(pos[k], pos[k+1]))
		}
		mean := path / float64(len(vel)/2)
		t.Logf("L=%g m: mean step %.4f m, farthest point %.2f m from the origin", L, mean, far)
		// Rayleigh mean speed 1.024 m/s times 0.1 s, a little less where
		// walls slow the walker.
		if mean < 0.09 || mean > 0.105 {
			t.Errorf("L=%g: mean step %.4f m, want about 0.10", L, mean)
		}
	}
}

func TestTrajectoriesSeeded(t *testing.T) {
	v1, _ := Trajectories(DefaultMotion, 2, 3, 100, 7)
	v2, _ := Trajectories(DefaultMotion, 2, 3, 100, 7)
	v3, _ := Trajectories(DefaultMotion, 2, 3, 100, 8)
	v4, _ := Trajectories(DefaultMotion, 3, 3, 100, 7)
	same, diff3, diff4 := true, false, false
	for i := range v1 {
		same = same && v1[i] == v2[i]
		diff3 = diff3 || v1[i] != v3[i]
		diff4 = diff4 || v1[i] != v4[i]
	}
	if !same || !diff3 || !diff4 {
		t.Errorf("same seed same walks: %v; other seed differs: %v; other arena differs: %v", same, diff3, diff4)
	}
	// Walk i does not depend on how many walks are drawn.
	v5, _ := Trajectories(DefaultMotion, 2, 1, 100, 7)
	for i := range v5 {
		if v5[i] != v1[i] {
			t.Fatal("walk 0 changes with the number of walks")
		}
	}
}

func TestBinning(t *testing.T) {
	b := NewBinning(2, 20)
	if b.NB != 40 || math.Abs(b.BinSize()-0.05) > 1e-15 {
		t.Fatalf("binning %+v", b)
	}
	for _, c := range []struct {
		x, y   float64
		ix, iy int
	}{{-1, -1, 0, 0}, {1, 1, 39, 39}, {0, 0, 20, 20}, {-0.001, 0.049, 19, 20}, {0.97, -0.97, 39, 0}} {
		if k := b.Index(c.x, c.y); k != c.ix*40+c.iy {
			t.Errorf("Index(%g, %g) = (%d, %d), want (%d, %d)", c.x, c.y, k/40, k%40, c.ix, c.iy)
		}
	}
	if x, y := b.Centre(0, 39); math.Abs(x+0.975) > 1e-12 || math.Abs(y-0.975) > 1e-12 {
		t.Errorf("Centre(0, 39) = (%g, %g)", x, y)
	}
}

func TestRatemapsNaNForUnvisited(t *testing.T) {
	acc := NewAccumulator(2, NewBinning(1, 4))
	acc.Add([]float64{-0.4, -0.4, -0.4, -0.4, 0.4, 0.4}, []float32{1, 0, 3, 0, 5, 6})
	rm := acc.Ratemaps()
	if rm[0] != 2 || rm[16] != 0 || rm[15] != 5 || rm[16+15] != 6 {
		t.Errorf("ratemaps %v", rm)
	}
	nan := 0
	for _, v := range rm {
		if math.IsNaN(v) {
			nan++
		}
	}
	if nan != 2*14 {
		t.Errorf("%d NaN bins, want %d", nan, 2*14)
	}
	if acc.ZeroState != 0 || acc.Samples != 3 {
		t.Errorf("samples %d zero %d", acc.Samples, acc.ZeroState)
	}
}

func TestNeuralDistanceCurve(t *testing.T) {
	// States that encode position linearly: neural distance equals spatial
	// distance times the gain, in every bin.
	var pos []float64
	var st []float32
	for i := 0; i < 30; i++ {
		x, y := float64(i%6)*0.1, float64(i/6)*0.1
		pos = append(pos, x, y)
		st = append(st, float32(2*x), float32(2*y))
	}
	c := NeuralDistanceCurve(pos, st, 2, 10, 1)
	for b := range c.Spatial {
		if c.Pairs[b] == 0 {
			continue
		}
		lo, hi := 2*float64(b)*0.1, 2*float64(b+1)*0.1
		if m := float64(c.Mean[b]); m < lo-1e-6 || m > hi+1e-6 {
			t.Errorf("bin %d: mean neural distance %g outside [%g, %g]", b, m, lo, hi)
		}
	}
}
