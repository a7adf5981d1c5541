// Package graph defines the SIC model of Schaeffer, Khona et al. (NeurIPS
// 2023) as a Gorgonia computation graph: an MLP that maps each velocity to an
// N x N recurrent matrix, a velocity-gated recurrence with Norm-ReLU unrolled
// over T steps, and the separation, invariance, capacity and conformal
// isometry losses. The hidden layers, the last layer together with the
// recurrence, and the losses are custom Gorgonia ops with analytic backward
// passes (each derivation sits beside its code): the P x P pair matrix and
// the P x N^2 gradient of the recurrent matrices are never materialised, and
// every buffer is allocated once per graph. Package reference holds the
// same model and losses as plain float64 loops; this package's tests
// measure the graph against it.
//
// Matrix products go through gonum's BLAS interface. The default build
// registers OpenBLAS (cgo, Debian package libopenblas-dev); the build tag
// purego, or CGO_ENABLED=0, keeps gonum's pure-Go implementation. Work is
// spread over GOMAXPROCS goroutines in fixed partitions, so that sums run in
// an order that does not depend on their number or scheduling. EnableTiming and TakeTimings expose a per-phase time
// breakdown for benchmarks.
package graph
