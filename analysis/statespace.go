package analysis

import (
	"math"
	"math/cmplx"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// StateSpaceOptions configures ModuleStateSpace.
type StateSpaceOptions struct {
	MinUnits   int `json:"min_units"`      // fewest units a module needs for its state space
	Components int `json:"pca_components"` // principal components kept before the embedding
	Neighbours int `json:"knn"`            // neighbours per point in the embedding's graph
	MaxPoints  int `json:"max_points"`     // states embedded (the spectral embedding costs MaxPoints^3)
	Dims       int `json:"embedding_dims"` // dimensions of the embedding
}

// DefaultStateSpaceOptions: the paper embeds six principal components.
var DefaultStateSpaceOptions = StateSpaceOptions{MinUnits: 6, Components: 6, Neighbours: 10, MaxPoints: 600, Dims: 3}

// StateSpace is the population activity of one module, as summary.json
// records it (numbers that can be undefined are Num: NaN reads as null).
type StateSpace struct {
	Arena  float64 `json:"arena_m"`
	Module int     `json:"module"`
	Method string  `json:"method"` // the module method: "fourier" or "sac"
	Units  []int   `json:"units"`
	Points int     `json:"points"` // states embedded
	// PCAVariance is the share of the module's state variance along each
	// of the first principal components.
	PCAVariance []float64 `json:"pca_variance"`
	// KA and KB are the module's wave vectors along its two lattice
	// directions (rad/m, 60 degrees apart); a position x has lattice
	// phases KA.x and KB.x (mod 2 pi).
	KA [2]float64 `json:"k_a_rad_per_m"`
	KB [2]float64 `json:"k_b_rad_per_m"`
	// UnitPhases are each unit's phases along KA and KB (radians in
	// [0, 2 pi)): minus the argument of its ratemap's Fourier coefficient
	// at the wave vector.
	UnitPhases [][2]Num `json:"unit_phases"`
	// PhaseSpread is the mean distance from each unit's phase to the
	// nearest other unit's (on the phase torus) over the same for
	// uniformly random phases (Clark-Evans ratio): about 1 for phases
	// spread at random, above 1 for phases that tile the unit cell evenly,
	// well below 1 for phases that cluster.
	PhaseSpread Num `json:"phase_spread"`
	// Continuity is the mean lattice-phase distance between each state
	// and its nearest neighbour in the space of the principal components,
	// over the mean for random pairs: near 0 when the module's state is a
	// function of lattice phase (a torus), near 1 when it is not.
	Continuity Num `json:"continuity"`
	// Figure is the file name of the module's figure in a report ("" until
	// a report names it).
	Figure string `json:"figure"`
	// Embedding holds the points' spectral-embedding coordinates and
	// Phases their lattice phases (KA.x, KB.x mod 2 pi), for the figure.
	Embedding [][]float64  `json:"-"`
	Phases    [][2]float64 `json:"-"`
}

// ModuleStateSpace analyses the states of one module's units: states
// [K][N] sampled at positions pos [K][2]; units the module's members;
// kA, kB its wave vectors; ratemaps the unit-major maps binned by bins
// (for the unit phases).
//
// PCA of the members' states (centred); the first Components principal
// components; a spectral embedding (Laplacian eigenmaps) of those: the
// Neighbours nearest neighbours of each point joined with Gaussian weights
// exp(-d^2/s^2), s the median neighbour distance, the graph symmetrised,
// and the eigenvectors of D^-1/2 W D^-1/2 after the first, scaled by
// D^-1/2, as coordinates. A torus gives points whose colours (lattice
// phases) change smoothly over the embedding.
func ModuleStateSpace(states []float32, pos []float64, N int, units []int, kA, kB [2]float64, ratemaps []float64, bins Binning, opt StateSpaceOptions) StateSpace {
	K := len(pos) / 2
	n := len(units)
	ss := StateSpace{Units: append([]int(nil), units...), KA: kA, KB: kB, PCAVariance: []float64{},
		PhaseSpread: Num(math.NaN()), Continuity: Num(math.NaN())}
	ss.UnitPhases = make([][2]Num, n)
	nb := bins.NB * bins.NB
	if ratemaps != nil {
		unitPhases := make([][2]float64, n)
		for i, u := range units {
			m := ratemaps[u*nb : (u+1)*nb]
			unitPhases[i] = [2]float64{latticePhase(m, bins, kA), latticePhase(m, bins, kB)}
			ss.UnitPhases[i] = [2]Num{Num(unitPhases[i][0]), Num(unitPhases[i][1])}
		}
		ss.PhaseSpread = Num(phaseSpread(unitPhases))
	}
	if K < 3 || n < 1 {
		return ss
	}
	// The members' states, centred.
	X := mat.NewDense(K, n, nil)
	for k := 0; k < K; k++ {
		for i, u := range units {
			X.Set(k, i, float64(states[k*N+u]))
		}
	}
	for i := 0; i < n; i++ {
		var mu float64
		for k := 0; k < K; k++ {
			mu += X.At(k, i)
		}
		mu /= float64(K)
		for k := 0; k < K; k++ {
			X.Set(k, i, X.At(k, i)-mu)
		}
	}
	var cov mat.SymDense
	cov.SymOuterK(1/float64(K), X.T())
	var eig mat.EigenSym
	if !eig.Factorize(&cov, true) {
		return ss
	}
	vals := eig.Values(nil) // ascending
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	d := min(opt.Components, n)
	var total float64
	for _, v := range vals {
		total += max(0, v)
	}
	P := mat.NewDense(K, d, nil)
	for c := 0; c < d; c++ {
		col := n - 1 - c
		if total > 0 {
			ss.PCAVariance = append(ss.PCAVariance, max(0, vals[col])/total)
		}
		for k := 0; k < K; k++ {
			var s float64
			for i := 0; i < n; i++ {
				s += X.At(k, i) * vecs.At(i, col)
			}
			P.Set(k, c, s)
		}
	}
	// Lattice phases of every point, and the continuity of the code.
	phases := make([][2]float64, K)
	for k := 0; k < K; k++ {
		x, y := pos[2*k], pos[2*k+1]
		phases[k] = [2]float64{wrap2pi(kA[0]*x + kA[1]*y), wrap2pi(kB[0]*x + kB[1]*y)}
	}
	ss.Continuity = Num(continuity(P, phases))

	// The spectral embedding of (an even subsample of) the points.
	M := min(K, max(opt.MaxPoints, 10))
	idx := make([]int, M)
	for i := range idx {
		idx[i] = i * K / M
	}
	ss.Points = M
	ss.Phases = make([][2]float64, M)
	for i, k := range idx {
		ss.Phases[i] = phases[k]
	}
	ss.Embedding = spectralEmbedding(P, idx, opt.Neighbours, opt.Dims)
	return ss
}

// latticePhase is minus the argument of the map's Fourier coefficient at
// wave vector k (rad/m), in [0, 2 pi): a map cos(k.x - phi) gives phi.
func latticePhase(m []float64, bins Binning, k [2]float64) float64 {
	var mean float64
	var cnt int
	for _, v := range m {
		if !math.IsNaN(v) {
			mean += v
			cnt++
		}
	}
	if cnt == 0 {
		return math.NaN()
	}
	mean /= float64(cnt)
	var c complex128
	for ix := 0; ix < bins.NB; ix++ {
		for iy := 0; iy < bins.NB; iy++ {
			v := m[ix*bins.NB+iy]
			if math.IsNaN(v) {
				continue
			}
			x, y := bins.Centre(ix, iy)
			c += complex(v-mean, 0) * cmplx.Exp(complex(0, -(k[0]*x+k[1]*y)))
		}
	}
	if c == 0 {
		return math.NaN()
	}
	return wrap2pi(-cmplx.Phase(c))
}

func wrap2pi(a float64) float64 {
	a = math.Mod(a, 2*math.Pi)
	if a < 0 {
		a += 2 * math.Pi
	}
	return a
}

// torusDist is the distance of two points on the (2 pi)^2 phase torus.
func torusDist(a, b [2]float64) float64 {
	d := func(x, y float64) float64 {
		e := math.Mod(math.Abs(x-y), 2*math.Pi)
		return min(e, 2*math.Pi-e)
	}
	return math.Hypot(d(a[0], b[0]), d(a[1], b[1]))
}

// phaseSpread is the Clark-Evans ratio of the phases on the torus.
func phaseSpread(ph [][2]float64) float64 {
	var ok [][2]float64
	for _, p := range ph {
		if !math.IsNaN(p[0]) && !math.IsNaN(p[1]) {
			ok = append(ok, p)
		}
	}
	n := len(ok)
	if n < 2 {
		return math.NaN()
	}
	var s float64
	for i := range ok {
		best := math.Inf(1)
		for j := range ok {
			if i != j {
				best = min(best, torusDist(ok[i], ok[j]))
			}
		}
		s += best
	}
	expect := 0.5 * math.Sqrt(4*math.Pi*math.Pi/float64(n))
	return s / float64(n) / expect
}

// continuity: mean phase distance to the nearest neighbour in P over the
// mean phase distance of random pairs (at most 1000 points are used).
func continuity(P *mat.Dense, phases [][2]float64) float64 {
	K, d := P.Dims()
	M := min(K, 1000)
	idx := make([]int, M)
	for i := range idx {
		idx[i] = i * K / M
	}
	var nn, all float64
	var pairs int
	for a, i := range idx {
		best, bj := math.Inf(1), -1
		for b, j := range idx {
			if a == b {
				continue
			}
			var s float64
			for c := 0; c < d; c++ {
				e := P.At(i, c) - P.At(j, c)
				s += e * e
			}
			if s < best {
				best, bj = s, j
			}
			if b > a {
				all += torusDist(phases[i], phases[j])
				pairs++
			}
		}
		nn += torusDist(phases[i], phases[bj])
	}
	if pairs == 0 || all == 0 {
		return math.NaN()
	}
	return (nn / float64(M)) / (all / float64(pairs))
}

// spectralEmbedding embeds the rows idx of P in dims dimensions
// (Laplacian eigenmaps on a kNN graph; see ModuleStateSpace).
func spectralEmbedding(P *mat.Dense, idx []int, knn, dims int) [][]float64 {
	M := len(idx)
	_, d := P.Dims()
	knn = max(1, min(knn, M-1))
	dist := make([]float64, M*M)
	for a := 0; a < M; a++ {
		for b := a + 1; b < M; b++ {
			var s float64
			for c := 0; c < d; c++ {
				e := P.At(idx[a], c) - P.At(idx[b], c)
				s += e * e
			}
			dist[a*M+b], dist[b*M+a] = s, s
		}
	}
	nbr := make([][]int, M)
	var kth []float64
	order := make([]int, M)
	for a := 0; a < M; a++ {
		for i := range order {
			order[i] = i
		}
		row := dist[a*M : (a+1)*M]
		sort.Slice(order, func(x, y int) bool { return row[order[x]] < row[order[y]] })
		nbr[a] = append([]int(nil), order[1:knn+1]...)
		kth = append(kth, math.Sqrt(row[order[knn]]))
	}
	sort.Float64s(kth)
	s2 := median(kth)
	s2 *= s2
	if !(s2 > 0) {
		s2 = 1
	}
	W := mat.NewSymDense(M, nil)
	for a := 0; a < M; a++ {
		for _, b := range nbr[a] {
			w := math.Exp(-dist[a*M+b] / s2)
			if w > W.At(a, b) {
				W.SetSym(a, b, w)
			}
		}
	}
	deg := make([]float64, M)
	for a := 0; a < M; a++ {
		for b := 0; b < M; b++ {
			deg[a] += W.At(a, b)
		}
		deg[a] = 1 / math.Sqrt(max(deg[a], 1e-300))
	}
	for a := 0; a < M; a++ {
		for b := a; b < M; b++ {
			if v := W.At(a, b); v != 0 {
				W.SetSym(a, b, v*deg[a]*deg[b])
			}
		}
	}
	var eig mat.EigenSym
	out := make([][]float64, M)
	for a := range out {
		out[a] = make([]float64, dims)
	}
	if !eig.Factorize(W, true) {
		return out
	}
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	for c := 0; c < dims && c+1 < M; c++ {
		col := M - 2 - c // skip the largest (trivial) eigenvector
		for a := 0; a < M; a++ {
			out[a][c] = vecs.At(a, col) * deg[a]
		}
	}
	return out
}

// ModuleWaveVectors returns a module's wave vectors (rad/m) along its two
// lattice directions from its period (lattice spacing, m) and orientation
// (lattice vectors, degrees mod 60): |k| = 4 pi / (sqrt(3) period), at
// orientation - 30 and orientation + 30 degrees.
func ModuleWaveVectors(period, orientation float64) (kA, kB [2]float64) {
	k := 4 * math.Pi / (math.Sqrt(3) * period)
	a := (orientation - 30) * math.Pi / 180
	b := (orientation + 30) * math.Pi / 180
	return [2]float64{k * math.Cos(a), k * math.Sin(a)}, [2]float64{k * math.Cos(b), k * math.Sin(b)}
}
