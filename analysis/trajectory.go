package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Motion is the random-walk model of Sorscher et al. (2019, 2023): a smooth
// walk whose speed is drawn afresh each step and whose heading diffuses,
// turning away from walls it comes close to.
type Motion struct {
	Dt         float64 `json:"dt_s"`                 // seconds per step
	SpeedScale float64 `json:"speed_scale_m_per_s"`  // Rayleigh scale of the speed
	TurnSigma  float64 `json:"turn_sigma_rad_per_s"` // standard deviation of the turn rate
	Border     float64 `json:"border_m"`             // distance from a wall within which the walk turns away
	WallSlow   float64 `json:"wall_slow"`            // speed factor while turning away from a wall
}

// DefaultMotion is the model of Sorscher et al.
var DefaultMotion = Motion{Dt: 0.02, SpeedScale: 0.13 * 2 * math.Pi, TurnSigma: 11.52, Border: 0.03, WallSlow: 0.25}

// Validate reports a parameter that would make the walk meaningless.
func (m Motion) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"dt", m.Dt}, {"speed scale", m.SpeedScale}, {"turn sigma", m.TurnSigma}, {"wall slow-down", m.WallSlow}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("motion model: %s is %g, must be positive", f.name, f.v)
		}
	}
	if !(m.Border >= 0) {
		return fmt.Errorf("motion model: border is %g, must be at least 0", m.Border)
	}
	return nil
}

// Trajectories draws n walks of steps steps each in the square arena of
// side L centred on the origin, all starting at the origin with a uniformly
// random heading. It returns the velocities ([n][steps][2], metres per step,
// float32 as the network takes them) and the positions after each step
// ([n][steps][2], float64). Walk i depends only on (seed, L, i), so any
// subset of walks can be regenerated, in any order, in parallel.
//
// The update follows Sorscher et al.'s trajectory generator: the step uses
// the current heading; when the walker is within Border of its nearest wall
// and heading into it, the speed drops to WallSlow times and the heading
// turns by the angle that makes it parallel to the wall; then the heading
// diffuses by Normal(0, TurnSigma*Dt). That rule only looks at the nearest
// wall, so in a corner (or after a rare very fast step) a step can still
// cross a wall; such a step is reflected off the wall, heading included, so
// that the walk never leaves the arena and the velocity stays the true
// displacement.
func Trajectories(m Motion, L float64, n, steps int, seed uint64) (vel []float32, pos []float64) {
	vel = make([]float32, n*steps*2)
	pos = make([]float64, n*steps*2)
	for i := 0; i < n; i++ {
		Walk(m, L, steps, seed, i, vel[i*steps*2:(i+1)*steps*2], pos[i*steps*2:(i+1)*steps*2])
	}
	return vel, pos
}

// walkStream mixes the arena size and walk index into the PCG stream so
// walks differ between arenas and between indices.
func walkStream(L float64, i int) uint64 {
	return math.Float64bits(L)*0x9e3779b97f4a7c15 ^ uint64(i)*0xbf58476d1ce4e5b9
}

// Walk draws walk number i of Trajectories into vel and pos (each steps*2).
func Walk(m Motion, L float64, steps int, seed uint64, i int, vel []float32, pos []float64) {
	WalkFrom(m, L, steps, seed, i, 0, 0, vel, pos)
}

// WalkFrom is Walk starting at (x0, y0) instead of the origin; from the
// origin it is exactly Walk.
func WalkFrom(m Motion, L float64, steps int, seed uint64, i int, x0, y0 float64, vel []float32, pos []float64) {
	rng := rand.New(rand.NewPCG(seed, walkStream(L, i)))
	h := rng.Float64() * 2 * math.Pi
	half := L / 2
	x, y := x0, y0
	for t := 0; t < steps; t++ {
		// Rayleigh(b) by inversion: b*sqrt(-2 ln U), U in (0, 1].
		v := m.SpeedScale * math.Sqrt(-2*math.Log(1-rng.Float64()))
		turn := 0.0
		// Nearest wall and its outward normal direction.
		d, theta := half-x, 0.0
		if dd := half - y; dd < d {
			d, theta = dd, math.Pi/2
		}
		if dd := half + x; dd < d {
			d, theta = dd, math.Pi
		}
		if dd := half + y; dd < d {
			d, theta = dd, 3*math.Pi/2
		}
		a := math.Remainder(h-theta, 2*math.Pi) // heading relative to the normal, in [-pi, pi]
		if d < m.Border && math.Abs(a) < math.Pi/2 {
			v *= m.WallSlow
			turn = math.Copysign(math.Pi/2-math.Abs(a), a)
		}
		turn += m.Dt * m.TurnSigma * rng.NormFloat64()
		step := v * m.Dt
		nx, ny := x+step*math.Cos(h), y+step*math.Sin(h)
		// Reflection off the walls (see the function comment).
		if nx > half {
			nx, h = 2*half-nx, math.Pi-h
		} else if nx < -half {
			nx, h = -2*half-nx, math.Pi-h
		}
		if ny > half {
			ny, h = 2*half-ny, -h
		} else if ny < -half {
			ny, h = -2*half-ny, -h
		}
		vel[2*t], vel[2*t+1] = float32(nx-x), float32(ny-y)
		x, y = nx, ny
		pos[2*t], pos[2*t+1] = x, y
		h += turn
	}
}

// StartPosition is the start of walk i under StartUniform: uniform over the
// arena less a margin of Border from the walls (seeded by seed, L and i, on
// a stream of its own so that the walk itself is Walk's).
func StartPosition(m Motion, L float64, seed uint64, i int) (x, y float64) {
	rng := rand.New(rand.NewPCG(seed^0x5851f42d4c957f2d, walkStream(L, i)))
	s := max(0, L-2*m.Border)
	return (rng.Float64() - 0.5) * s, (rng.Float64() - 0.5) * s
}

// BurnIn fills vel (steps*2) with the straight path from the origin to
// (x, y) in equal steps: the velocities that carry the network's state
// from g0, which belongs to the origin, to the start of a walk at (x, y).
func BurnIn(x, y float64, vel []float32) {
	n := len(vel) / 2
	for t := 0; t < n; t++ {
		vel[2*t], vel[2*t+1] = float32(x/float64(n)), float32(y/float64(n))
	}
}
