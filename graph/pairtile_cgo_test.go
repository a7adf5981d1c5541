//go:build cgo && !purego

package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gridgpu/gridgpu/internal/simd"
)

// pairTileCase is a random tile for the twin tests: positions in clusters
// (so that near, far and borderline pairs all occur), squared norms around
// 1 with some huge ones (exponents clamped at 700), Gram values in [-1, 1].
func pairTileCase(seed uint64, P, bi, bj int) (sc *pairScratch[float32], tile []float32) {
	r := rand.New(rand.NewPCG(seed, 2))
	sc = &pairScratch[float32]{sq: make([]float64, P), px: make([]float64, P), py: make([]float64, P)}
	for i := 0; i < P; i++ {
		cx, cy := float64(r.IntN(4))*0.3, float64(r.IntN(4))*0.3
		sc.px[i] = float64(float32(cx + 0.04*r.NormFloat64()))
		sc.py[i] = float64(float32(cy + 0.04*r.NormFloat64()))
		sc.sq[i] = 0.5 + r.Float64()
		if r.IntN(20) == 0 {
			sc.sq[i] = 1e3 * r.Float64()
		}
	}
	tile = make([]float32, bi*bj)
	for i := range tile {
		tile[i] = float32(2*r.Float64() - 1)
	}
	return sc, tile
}

// The C twin of the pair loop gives pairTileGo's bits on every path this
// CPU runs: the coefficients written into the tile, the row and column
// sums and both loss sums, on diagonal and off-diagonal tiles, widths that
// leave vector tails, and each term switched on alone.
func TestPairTileTwinBitIdentical(t *testing.T) {
	type shape struct{ bi, bj, i0, j0 int }
	shapes := []shape{{256, 256, 0, 256}, {256, 256, 256, 256}, {37, 37, 512, 512}, {40, 29, 0, 520}, {5, 5, 544, 544}, {1, 1, 548, 548}}
	for _, level := range simd.Levels {
		for si, sh := range shapes {
			for _, terms := range [][2]bool{{true, true}, {true, false}, {false, true}} {
				name := fmt.Sprintf("path %d, tile %d, sep %v inv %v", level, si, terms[0], terms[1])
				sc, tile := pairTileCase(uint64(si*7+level), 549, sh.bi, sh.bj)
				k := &pairKernel{s2: 0.05 * 0.05, inv2sg: 1 / (2 * 0.25 * 0.25), cSep: -0.37, cInv: 0.011, doSep: terms[0], doInv: terms[1], fast: true}
				diag := sh.i0 == sh.j0
				wantTile := append([]float32(nil), tile...)
				wantRow, wantCol := make([]float64, sh.bi), make([]float64, sh.bj)
				gotRow, gotCol := make([]float64, sh.bi), make([]float64, sh.bj)
				for i := range wantRow {
					wantRow[i], gotRow[i] = float64(i), float64(i)
				}
				wse, wiv := pairTileGo(k, wantTile, sh.bi, sh.bj, sh.i0, sh.j0, diag, sc, wantRow, wantCol)
				gse, giv, ok := pairTileF32(k, tile, sh.bi, sh.bj, sh.i0, sh.j0, diag, sc, gotRow, gotCol, level)
				if !ok {
					t.Fatalf("%s: the C twin refused the tile", name)
				}
				same := func(what string, got, want []float64) {
					for i := range want {
						if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
							t.Fatalf("%s: %s[%d] = %v, Go gives %v", name, what, i, got[i], want[i])
						}
					}
				}
				same("sums", []float64{gse, giv}, []float64{wse, wiv})
				same("rowsum", gotRow, wantRow)
				same("colsum", gotCol, wantCol)
				for i := range wantTile {
					if math.Float32bits(tile[i]) != math.Float32bits(wantTile[i]) {
						t.Fatalf("%s: tile[%d] = %v, Go gives %v", name, i, tile[i], wantTile[i])
					}
				}
				if sh.bi*sh.bj >= 1000 && (wse == 0 && terms[0] || wiv == 0 && terms[1]) {
					t.Fatalf("%s: a term summed nothing (sep %v, inv %v): the case misses its pairs", name, wse, wiv)
				}
			}
		}
	}
}

// BenchmarkPairTile: one 256 x 256 off-diagonal tile, pairTileGo against
// the C twin's widest path.
func BenchmarkPairTile(b *testing.B) {
	sc, tile := pairTileCase(1, 512, 256, 256)
	k := &pairKernel{s2: 0.05 * 0.05, inv2sg: 8, cSep: -0.37, cInv: 0.011, doSep: true, doInv: true, fast: true}
	rows, cols := make([]float64, 256), make([]float64, 256)
	work := make([]float32, len(tile))
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			copy(work, tile)
			pairTileGo(k, work, 256, 256, 0, 256, false, sc, rows, cols)
		}
	})
	b.Run("c", func(b *testing.B) {
		for b.Loop() {
			copy(work, tile)
			pairTileF32(k, work, 256, 256, 0, 256, false, sc, rows, cols, simd.Widest)
		}
	})
}
