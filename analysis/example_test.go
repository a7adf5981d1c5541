package analysis_test

import (
	"fmt"
	"math"

	"github.com/gridgpu/gridgpu/analysis"
)

// A synthetic grid cell: the sum of three plane waves 60 degrees apart is
// a hexagonal lattice, here with peaks 0.5 m apart in a 2 m arena of 40 by
// 40 bins, one lattice direction at 10 degrees. Both scorers give it a
// score60 far above the grid-cell threshold (and above its score90), and
// the SAC's six nearest peaks give back the lattice's spacing and
// orientation.
func ExampleScorer_Score() {
	const (
		n       = 40   // bins per side
		binSize = 0.05 // m
		spacing = 0.5  // m between neighbouring peaks
		orient  = 10.0 // degrees
	)
	k := 4 * math.Pi / (math.Sqrt(3) * spacing / binSize) // wave number, per bin
	m := make([]float64, n*n)                             // m[ix*n+iy]
	for w := range 3 {
		th := (orient + 30 + 60*float64(w)) * math.Pi / 180
		for ix := range n {
			for iy := range n {
				m[ix*n+iy] += math.Cos(k * (math.Cos(th)*float64(ix) + math.Sin(th)*float64(iy)))
			}
		}
	}

	s := analysis.Scorer{BinSize: binSize}
	score, _ := s.Score(m, n, n)
	fmt.Printf("score60 %.2f, score90 %.2f (banino)\n", score.Score60, score.Score90)
	fmt.Printf("score60 %.2f (rings)\n", score.RingsScore60)
	fmt.Printf("grid cell: %v\n", score.Score60 > analysis.GridThreshold(analysis.ScorerBanino))
	fmt.Printf("scale %.2f m, orientation %.0f degrees\n", score.Scale, score.Orientation)
	// Output:
	// score60 1.41, score90 0.28 (banino)
	// score60 1.40 (rings)
	// grid cell: true
	// scale 0.50 m, orientation 10 degrees
}
