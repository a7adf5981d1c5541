package train

import (
	"math"
	"strings"
	"testing"
)

// Measured peak RSS (VmHWM, /usr/bin/time -v) of `gridgpu train --steps 2`
// (one step for the last two) on a 2-core machine, against the estimate:
//
//	preset               measured   estimate
//	tiny                   41 MiB     77 MiB
//	small                  96 MiB    155 MiB
//	medium                517 MiB    657 MiB
//	paper                 965 MiB   1199 MiB
//	paper, B=400         2617 MiB   3537 MiB
//	paper, N=256         3072 MiB   3912 MiB
//
// The estimate is meant to be an upper bound within a factor of two.
func TestEstimateMemoryMatchesMeasurements(t *testing.T) {
	for _, c := range []struct {
		B, T, N, H  int
		measuredMiB float64
	}{
		{16, 20, 32, 64, 41}, {32, 30, 64, 128, 96}, {64, 40, 128, 256, 517}, {130, 60, 128, 256, 965},
		{400, 60, 128, 256, 2617}, {130, 60, 256, 256, 3072},
	} {
		est := EstimateMemory(c.B, c.T, c.N, c.H, 2, UseTrain).Bytes / (1 << 20)
		if est < c.measuredMiB || est > 2*c.measuredMiB {
			t.Errorf("B=%d T=%d N=%d H=%d: estimate %.0f MiB, measured %.0f MiB", c.B, c.T, c.N, c.H, est, c.measuredMiB)
		}
	}
}

func TestEstimateMemoryAbsurdSizes(t *testing.T) {
	for _, s := range [][4]int{{100000, 60, 128, 256}, {130, 100000, 128, 256}, {130, 60, 4096, 256}, {130, 60, 128, 65536}, {math.MaxInt32, math.MaxInt32, math.MaxInt32, math.MaxInt32}} {
		e := EstimateMemory(s[0], s[1], s[2], s[3], 2, UseTrain)
		if !(e.Bytes > 64<<30) || math.IsInf(e.Bytes, 0) {
			t.Errorf("%v: estimate %g bytes", s, e.Bytes)
		}
	}
}

func TestCheckConfigMemory(t *testing.T) {
	old := machineMemory
	t.Cleanup(func() { machineMemory = old })
	machineMemory = func() (float64, string) { return 8 << 30, "available" }
	c, _ := Preset("paper")
	if err := CheckConfigMemory(&c); err != nil {
		t.Errorf("paper on 8 GiB: %v", err)
	}
	for _, mut := range []func(c *Config){
		func(c *Config) { c.Data.BatchSize = 100000 },
		func(c *Config) { c.Data.SeqLen = 100000 },
		func(c *Config) { c.Model.Units = 4096 },
		func(c *Config) { c.Model.Hidden = 65536 },
	} {
		c, _ := Preset("paper")
		mut(&c)
		err := CheckConfigMemory(&c)
		if err == nil || !strings.Contains(err.Error(), "needs about") || !strings.Contains(err.Error(), "8.0 GiB available") || !strings.Contains(err.Error(), "--batch-size") {
			t.Errorf("B=%d T=%d N=%d H=%d: %v", c.Data.BatchSize, c.Data.SeqLen, c.Model.Units, c.Model.Hidden, err)
		}
		c.Run.Device = "cuda:0"
		if err := CheckConfigMemory(&c); err != nil {
			t.Errorf("a CUDA config is checked against host memory: %v", err)
		}
	}
	if have, kind := MachineMemory(); have <= 0 || kind == "" {
		t.Logf("no /proc/meminfo here (%g, %q)", have, kind)
	}
}
