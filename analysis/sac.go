package analysis

import (
	"math"
	"sync"

	"gonum.org/v1/gonum/dsp/fourier"
)

// DefaultMinOverlap is the fewest bins valid in both the map and its shifted
// copy for which a SAC value is computed. A Pearson correlation over a
// handful of bins is noise, and at the largest lags only a few bins overlap.
const DefaultMinOverlap = 20

// SAC returns the spatial autocorrelogram of the nx by ny map m (row-major,
// NaN = missing): the Pearson correlation of the map with itself shifted by
// each lag (dx, dy), computed over the bins valid in both copies. The result
// is (2nx-1) by (2ny-1), row-major, with lag (dx, dy) at index
// (dx+nx-1)*(2ny-1) + (dy+ny-1). Lags with fewer than minOverlap valid
// pairs, or where either copy is constant over the overlap, are NaN.
//
// All six sums the correlation needs are masked cross-correlations, so they
// are computed with 2-D FFTs in O(n^2 log n) instead of O(n^4).
func SAC(m []float64, nx, ny, minOverlap int) []float64 {
	sx, sy := 2*nx-1, 2*ny-1
	out := make([]float64, sx*sy)
	for i := range out {
		out[i] = math.NaN()
	}
	// Pearson correlation is invariant to an offset; removing the mean
	// keeps the sums small so that n*S11 - S1^2 does not cancel badly.
	var mean, cnt float64
	for _, v := range m[:nx*ny] {
		if !math.IsNaN(v) {
			mean += v
			cnt++
		}
	}
	if cnt == 0 {
		return out
	}
	mean /= cnt
	var ss float64
	for _, v := range m[:nx*ny] {
		if !math.IsNaN(v) {
			ss += (v - mean) * (v - mean)
		}
	}
	if !(ss/cnt > 1e-24) { // constant map: no correlation is defined
		return out
	}
	varScale := ss / cnt

	px, py := fftSize(sx), fftSize(sy)
	w := make([]complex128, px*py)
	wm := make([]complex128, px*py)
	wm2 := make([]complex128, px*py)
	for i := 0; i < nx; i++ {
		for j := 0; j < ny; j++ {
			v := m[i*ny+j]
			if math.IsNaN(v) {
				continue
			}
			v -= mean
			k := i*py + j
			w[k] = 1
			wm[k] = complex(v, 0)
			wm2[k] = complex(v*v, 0)
		}
	}
	f := getFFT2(px, py)
	defer putFFT2(f)
	f.forward(w)
	f.forward(wm)
	f.forward(wm2)
	// corr(A,B)(l) = sum_p A(p) B(p+l) has spectrum conj(FA)*FB. The six
	// results are real, so two of them share each inverse transform as the
	// real and imaginary parts: X + iY transforms back to x + iy.
	nS12 := make([]complex128, px*py) // n and S12
	s1s2 := make([]complex128, px*py) // S1 = corr(WM,W), S2 = corr(W,WM)
	q1q2 := make([]complex128, px*py) // S11 = corr(WM2,W), S22 = corr(W,WM2)
	for k := range w {
		fw, fm, f2 := w[k], wm[k], wm2[k]
		cw, cm, c2 := cmplxConj(fw), cmplxConj(fm), cmplxConj(f2)
		nS12[k] = cw*fw + 1i*(cm*fm)
		s1s2[k] = cm*fw + 1i*(cw*fm)
		q1q2[k] = c2*fw + 1i*(cw*f2)
	}
	f.inverse(nS12)
	f.inverse(s1s2)
	f.inverse(q1q2)
	inv := 1 / float64(px*py)
	minN := float64(max(minOverlap, 2))
	for dx := -(nx - 1); dx <= nx-1; dx++ {
		kx := (dx + px) % px
		for dy := -(ny - 1); dy <= ny-1; dy++ {
			k := kx*py + (dy+py)%py
			n := math.Round(real(nS12[k]) * inv)
			if n < minN {
				continue
			}
			s12 := imag(nS12[k]) * inv
			s1, s2 := real(s1s2[k])*inv, imag(s1s2[k])*inv
			s11, s22 := real(q1q2[k])*inv, imag(q1q2[k])*inv
			v1 := n*s11 - s1*s1
			v2 := n*s22 - s2*s2
			// Variances that are zero up to FFT rounding mean one copy is
			// constant over the overlap: the correlation is undefined.
			tol := 1e-9 * n * n * varScale
			if v1 <= tol || v2 <= tol {
				continue
			}
			r := (n*s12 - s1*s2) / math.Sqrt(v1*v2)
			out[(dx+nx-1)*sy+dy+ny-1] = max(-1, min(1, r))
		}
	}
	return out
}

func cmplxConj(c complex128) complex128 { return complex(real(c), -imag(c)) }

// fftSize returns the smallest n' >= n whose prime factors are 2, 3 and 5,
// the lengths gonum's mixed-radix FFT handles fastest.
func fftSize(n int) int {
	for m := n; ; m++ {
		k := m
		for _, p := range []int{2, 3, 5} {
			for k%p == 0 {
				k /= p
			}
		}
		if k == 1 {
			return m
		}
	}
}

// fft2 is a 2-D complex FFT on px by py row-major arrays, done as 1-D
// transforms of the rows and then of the columns.
type fft2 struct {
	px, py     int
	rows, cols *fourier.CmplxFFT
	buf, buf2  []complex128
}

// fft2Pool reuses plans: scoring hundreds of maps of one size would
// otherwise rebuild the same twiddle tables each time.
var fft2Pool sync.Map // [2]int -> *sync.Pool

func getFFT2(px, py int) *fft2 {
	p, _ := fft2Pool.LoadOrStore([2]int{px, py}, &sync.Pool{New: func() any {
		return &fft2{px: px, py: py, rows: fourier.NewCmplxFFT(py), cols: fourier.NewCmplxFFT(px),
			buf: make([]complex128, px), buf2: make([]complex128, px)}
	}})
	return p.(*sync.Pool).Get().(*fft2)
}

func putFFT2(f *fft2) {
	p, _ := fft2Pool.Load([2]int{f.px, f.py})
	p.(*sync.Pool).Put(f)
}

func (f *fft2) forward(a []complex128) { f.transform(a, false) }
func (f *fft2) inverse(a []complex128) { f.transform(a, true) } // unnormalised

func (f *fft2) transform(a []complex128, inv bool) {
	for i := 0; i < f.px; i++ {
		row := a[i*f.py : (i+1)*f.py]
		if inv {
			f.rows.Sequence(row, row)
		} else {
			f.rows.Coefficients(row, row)
		}
	}
	for j := 0; j < f.py; j++ {
		for i := 0; i < f.px; i++ {
			f.buf[i] = a[i*f.py+j]
		}
		if inv {
			f.cols.Sequence(f.buf2, f.buf)
		} else {
			f.cols.Coefficients(f.buf2, f.buf)
		}
		for i := 0; i < f.px; i++ {
			a[i*f.py+j] = f.buf2[i]
		}
	}
}
