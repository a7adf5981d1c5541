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
// conformal.go; recurrence.go and linear.go the network's ops; procs.go
// the parallel loops (parallelFor, on internal/workpool); model.go
// builds the graph from them; forward.go is the float32 forward pass
// without a graph that package analysis runs; states_loss.go the loss of
// given states (idealised codes, gridgpu landscape) through the same ops.
// The MLP runs on the distinct velocities of a microbatch when its
// trajectories share them (recurrence.go, "Distinct velocities").
//
// # Adding a loss term
//
// Outside the graph, the code that lists the terms derives them from
// TermSpecs: the config keys and their validation and flags, the
// metrics.jsonl keys, the progress line, the loss command's output, the
// averaging over microbatches (CPU and CUDA), the training curves and the
// sweep tables; so do this package's tests of every term (finite
// differences of each term alone, the every-term comparison with package
// reference, AllTerms). A term the CUDA engine does not implement touches
// these files (a throwaway term checked the list):
//
//   - terms.go: its Term constant, after the others and before NumTerms,
//     and its TermSpecs row;
//   - config.go: its weight in LossConfig (yaml and json key the row's
//     WeightKey, usage tag the help text; Problems checks it from
//     TermSpecs), and its value in PaperLoss unless that is 0;
//   - a new file with its op, forward and backward, the derivation in a
//     comment (for a scalar term of the states that is cheap enough to
//     recompute in the backward pass, newScalarTerm in capacity.go builds
//     the op from the two functions);
//   - model.go: the op's field in model; the op in newModel, weighted and
//     appended after the other terms; its value in runRows (l.Term); and
//     in termsOfStates, from the states (AllTerms and LossOfStates), with
//     allTerms passing the graph's value where it has one;
//   - reference/loss.go (or a file of its own in package reference): its
//     plain definition, its key in TermKeys and its value in Loss's Terms
//     (the tests here pass weights and read values by key;
//     TestReferenceHasEveryTerm fails while the key is missing);
//   - docs/config.md: regenerated with `go run ./scripts/configref`
//     (TestConfigReferenceIsCurrent); README.md has no table of the keys.
//
// That is 6 files for the tests to pass (LossOfStates and AllTerms share
// model.go's termsOfStates, where the term's value from states goes).
// Two more are needed to be complete but no test asks for them: a
// hand-computed value in TestLossOfStatesByHand (states_loss_test.go; the
// comparisons with package reference check every term) and the formula in
// reference/doc.go. The term must be non-zero on the tests' microbatches
// (requireLiveTerms). No CUDA file: the terms the kernels
// compute are cuda/slots.go's cudaTerms, NewEngine refuses a non-zero
// weight for any other term (train it with --device cpu), and the engine
// reports such a term as 0.
//
// To implement the term on CUDA as well: its kernel in a file of its own in
// cuda/kernels/ (cuda/emu/emu.cc includes every .cu file and has each
// kernel in its K(...) table: TestKernelSourcesListed), and in
// cuda/kernels/common.cuh its scalar slots, its value's slot S_L<KEY> among
// S_LSEP..S_LTOT-1 (they are full: S_LTOT and S_ZFRAC move, which
// optimiser.cu's finiteness check over S_LSEP..S_LTOT follows) and its
// index T_<KEY> with NUM_TERMS one more; its value in loss_finalize
// (cuda/kernels/loss.cu); then make ptx (every module that includes
// common.cuh may change). In Go: the slots in cuda/slots.go and in
// TestSlotsMatchKernels's table (cuda/slots_test.go), its cudaTerms entry
// (in Term order, at its T_ index), a launch function in cuda/kernels.go
// (checked against the kernel's signature) and its stages in
// cuda/engine.go.
package graph
