package analysis

import (
	"math"
)

// DistanceCurve relates distance in neural space to distance in the arena:
// for pairs of sampled states, the mean and standard deviation of
// ||g_i - g_j|| in bins of ||x_i - x_j||.
type DistanceCurve struct {
	Spatial []float64 `json:"spatial_m"` // bin centres, m
	Mean    []Num     `json:"neural_mean"`
	Std     []Num     `json:"neural_std"`
	Pairs   []int64   `json:"pairs"`
}

// NeuralDistanceCurve bins all pairs of the k samples (positions pos
// [k][2], states [k][N]) by spatial distance into nbins bins over
// [0, maxDist]; pairs farther apart are left out. Empty bins have NaN mean.
func NeuralDistanceCurve(pos []float64, states []float32, N, nbins int, maxDist float64) DistanceCurve {
	k := len(pos) / 2
	sum := make([]float64, nbins)
	sum2 := make([]float64, nbins)
	cnt := make([]int64, nbins)
	w := maxDist / float64(nbins)
	for i := 0; i < k; i++ {
		gi := states[i*N : (i+1)*N]
		for j := i + 1; j < k; j++ {
			d := math.Hypot(pos[2*i]-pos[2*j], pos[2*i+1]-pos[2*j+1])
			b := int(d / w)
			if b >= nbins {
				continue
			}
			gj := states[j*N : (j+1)*N]
			var s float64
			for u := range gi {
				e := float64(gi[u] - gj[u])
				s += e * e
			}
			nd := math.Sqrt(s)
			sum[b] += nd
			sum2[b] += nd * nd
			cnt[b]++
		}
	}
	c := DistanceCurve{Spatial: make([]float64, nbins), Mean: make([]Num, nbins), Std: make([]Num, nbins), Pairs: cnt}
	for b := 0; b < nbins; b++ {
		c.Spatial[b] = (float64(b) + 0.5) * w
		if cnt[b] == 0 {
			c.Mean[b], c.Std[b] = Num(math.NaN()), Num(math.NaN())
			continue
		}
		n := float64(cnt[b])
		m := sum[b] / n
		c.Mean[b] = Num(m)
		c.Std[b] = Num(math.Sqrt(max(0, sum2[b]/n-m*m)))
	}
	return c
}
