// Package testnet holds known-answer networks for the tests of package
// analysis and of its report (package analysis/report): perfect path
// integrators read out by grid cells, whose modules, periods and state
// spaces are known. Only tests import it.
package testnet

import (
	"math"
	"math/rand/v2"
)

// States maps B walks of T velocities ([B][T][2], metres per step, from
// the origin) to the N-unit states after each step ([B][T][N]): the
// signature of analysis.StatesFunc, which this package cannot name since
// analysis's own tests import it.
type States = func(vel []float32, B, T int) ([]float32, error)

// GridIntegrator is a perfect path integrator read out by grid cells: unit
// u fires max(0, sum of three plane waves) of the integrated position, with
// the period and orientation of its module and a random phase.
func GridIntegrator(periods, orients []float64, perModule int, seed uint64) (int, States) {
	type unit struct {
		kx, ky [3]float64
		px, py float64
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	var units []unit
	for m, lambda := range periods {
		k := 4 * math.Pi / (math.Sqrt(3) * lambda)
		for i := 0; i < perModule; i++ {
			var u unit
			for w := 0; w < 3; w++ {
				th := (orients[m] + 30 + 60*float64(w)) * math.Pi / 180
				u.kx[w], u.ky[w] = k*math.Cos(th), k*math.Sin(th)
			}
			u.px, u.py = rng.Float64()*lambda, rng.Float64()*lambda
			units = append(units, u)
		}
	}
	N := len(units)
	return N, func(vel []float32, B, T int) ([]float32, error) {
		out := make([]float32, B*T*N)
		for b := 0; b < B; b++ {
			var x, y float64
			for t := 0; t < T; t++ {
				x += float64(vel[(b*T+t)*2])
				y += float64(vel[(b*T+t)*2+1])
				for i, u := range units {
					var s float64
					for w := 0; w < 3; w++ {
						s += math.Cos(u.kx[w]*(x-u.px) + u.ky[w]*(y-u.py))
					}
					out[(b*T+t)*N+i] = float32(max(0, s))
				}
			}
		}
		return out, nil
	}
}

// TorusIntegrator is GridIntegrator's two modules (0.3 and 0.42 m, 8 units
// each) plus silent units.
func TorusIntegrator(silent int) (int, States) { return torus(silent, false) }

// TorusWithConstantUnits is TorusIntegrator with n units of constant
// activity in place of the silent ones: unit j is float32(j) everywhere, so
// its grid scores are undefined.
func TorusWithConstantUnits(n int) (int, States) { return torus(n, true) }

// torus is GridIntegrator's two modules followed by extra units, silent or
// constant.
func torus(extra int, constant bool) (int, States) {
	nGrid, grid := GridIntegrator([]float64{0.3, 0.42}, []float64{10, 25}, 8, 5)
	N := nGrid + extra
	return N, func(vel []float32, B, T int) ([]float32, error) {
		g, err := grid(vel, B, T)
		if err != nil {
			return nil, err
		}
		out := make([]float32, B*T*N)
		for i := 0; i < B*T; i++ {
			copy(out[i*N:], g[i*nGrid:(i+1)*nGrid])
			if !constant {
				continue
			}
			for j := nGrid; j < N; j++ {
				out[i*N+j] = float32(j)
			}
		}
		return out, nil
	}
}
