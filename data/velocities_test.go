package data

import (
	"math"
	"testing"
)

// The disk distribution: every velocity inside the disk of the box's area,
// uniform over it (the mean speed and the share inside half the radius),
// and isotropic (no four-fold harmonic), where the box has a clear one.
func TestDiskVelocities(t *testing.T) {
	const maxSpeed = 0.15
	harmonic := func(kind string) (c4, meanSpeed, inner float64) {
		s, err := NewSampler(7, 50, 40, AugmentNone, maxSpeed)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetVelocities(kind); err != nil {
			t.Fatal(err)
		}
		R := 2 * maxSpeed / math.Sqrt(math.Pi)
		n := 0
		for k := 0; k < 20; k++ {
			b := s.Next()
			for i := 0; i+1 < len(b.Vel); i += 2 {
				x, y := float64(b.Vel[i]), float64(b.Vel[i+1])
				r := math.Hypot(x, y)
				if kind == VelocitiesDisk && r > R*(1+1e-6) {
					t.Fatalf("velocity (%g, %g) outside the disk of radius %g", x, y, R)
				}
				c4 += math.Cos(4 * math.Atan2(y, x))
				meanSpeed += r
				if r < R/2 {
					inner++
				}
				n++
			}
		}
		return c4 / float64(n), meanSpeed / float64(n), inner / float64(n)
	}
	c4, speed, inner := harmonic(VelocitiesDisk)
	// 40000 velocities: the standard error of the harmonic is ~0.0035.
	if math.Abs(c4) > 0.02 {
		t.Errorf("disk: mean cos(4 theta) = %.4f, want ~0 (isotropic)", c4)
	}
	if want := 2.0 / 3 * 2 * maxSpeed / math.Sqrt(math.Pi); math.Abs(speed-want) > 0.002 {
		t.Errorf("disk: mean speed %.4f, want %.4f", speed, want)
	}
	if math.Abs(inner-0.25) > 0.01 {
		t.Errorf("disk: %.3f of the velocities within half the radius, want 0.25 (uniform over the area)", inner)
	}
	// The box's corners make a four-fold harmonic: the mean of cos(4 theta)
	// over the square is -0.12 or so, far outside the disk's noise.
	c4box, _, _ := harmonic(VelocitiesBox)
	if math.Abs(c4box) < 0.05 {
		t.Errorf("box: mean cos(4 theta) = %.4f; the test cannot tell the distributions apart", c4box)
	}
	s, _ := NewSampler(1, 2, 2, AugmentPermute, maxSpeed)
	if err := s.SetVelocities("ring"); err == nil {
		t.Error("velocities \"ring\" accepted")
	}
}
