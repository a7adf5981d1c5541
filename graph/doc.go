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
// an order that does not depend on their number or scheduling.
// EnableTiming and TakeTimings expose a per-phase time breakdown for
// benchmarks.
//
// # Files
//
// terms.go lists the loss terms (TermSpecs) and holds Losses; config.go the
// loss settings; one file per loss op: separation_invariance.go (the two
// pairwise terms, computed in one pass over the pairs), capacity.go,
// conformal.go; recurrence.go and linear.go the network's ops; model.go
// builds the graph from them; forward.go is the float32 forward pass
// without a graph that package analysis runs; states_loss.go the loss of
// given states (idealised codes, gridgpu landscape) through the same ops.
// The MLP runs on the distinct velocities of a microbatch when its
// trajectories share them (recurrence.go, "Distinct velocities").
//
// # Adding a loss term
//
// Outside the graph everything that lists the terms is derived from
// TermSpecs: the config keys and their validation and flags, the
// metrics.jsonl keys, the progress line, the loss command's output, the
// averaging over microbatches (CPU and CUDA), the training curves and the
// sweep tables. A new term therefore touches, on the CPU:
//
//   - terms.go: its Term constant and TermSpecs row;
//   - config.go: its weight in LossConfig (YAML key, help text) and its
//     value in PaperLoss;
//   - a new file with its op, forward and backward, the derivation in a
//     comment;
//   - model.go: the op in newModel, its value in run and allTerms;
//   - package reference: its plain definition, which the tests compare
//     the op against (and a finite-difference case in model_test.go);
//   - README.md: the config table's row for the weight (a test requires
//     one for every key).
//
// The CUDA engine must then either refuse a non-zero weight (one check in
// cuda/engine.go, as for the conformal-isometry variants) or implement it:
// the kernel in a file of its own in cuda/kernels/ and its slot in
// cuda/kernels/common.cuh (then make ptx), the slot and termSlots in
// cuda/slots.go (tests check both against the kernel sources), a
// launch function in cuda/kernels.go (checked against the kernel's
// signature) and its stages in cuda/engine.go.
package graph
