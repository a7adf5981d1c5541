// Package reference is the model and its losses written once, plainly, in
// float64: one loop per sum, in the order the definition reads, with no
// tiles, no BLAS, no goroutines, no buffer reuse and no cleverness. It is
// the definition that the fast implementations are measured against: the
// Gorgonia graph (package graph) and the CUDA kernels (package cuda) are
// both tested against these functions, and this package imports neither.
// Everything here is O(P^2) or worse where the fast code is not; it is
// meant for test sizes, not for training.
//
// # The model
//
// Parameters (Params) are those of nn.Sequential(Linear(2, H), ReLU,
// Linear(H, H), ReLU, Linear(H, N*N)) and a raw initial state g0 in R^N. For
// a velocity v in R^2 the MLP gives an N x N matrix
//
//	h1 = ReLU(W0 v + b0)          [H]
//	h2 = ReLU(W1 h1 + b1)         [H]
//	W(v) = W2 h2 + b2             [N*N], read row-major: W[i][j] = w[i*N+j]
//
// and B trajectories of T velocities each (velocities [B][T][2],
// batch-major) drive the recurrence
//
//	g_{b,0} = NormReLU(g0)
//	g_{b,t} = NormReLU(W(v_{b,t}) g_{b,t-1}),  t = 1..T
//
// with NormReLU(y) = ReLU(y) / ||ReLU(y)||, or the zero vector where
// ||ReLU(y)|| <= ZeroNorm. A zero state stays zero (W 0 = 0): the trajectory
// has lost its code, which is why training reports the fraction of zero
// states.
//
// # The losses
//
// The P = B*T stepped states g_i (t >= 1; g_0 is not one of them) sit at
// positions x_i (the running sums of the velocities, given by the caller as
// the data pipeline computes them). Over the ordered pairs i != j, with
// d_ij = ||g_i - g_j||^2 and the pairs split by ||x_i - x_j|| against
// sigma_x (compared as squares, so that no square root moves a pair across
// the boundary; a pair exactly sigma_x apart is in neither set):
//
//	separation  L_sep = (1/M_far)  sum_{far ij}  exp(-d_ij / (2 sigma_g^2))
//	invariance  L_inv = (1/M_near) sum_{near ij} d_ij
//	capacity    L_cap = -||(1/P) sum_i g_i||^2
//
// M is the number of pairs in the set for the Mean reduction and 1 for Sum;
// a mean over no pairs is 0. The conformal-isometry term compares pairs of
// states of one trajectory, lag steps apart (see CIWindow):
//
//	r_k = ||g_{b,t} - g_{b,t-lag}|| / ||x_{b,t} - x_{b,t-lag}||
//	L_ci = (1/K) sum_k (r_k - c_k)^2
//
// over the K pairs whose displacement is shorter than the window's MaxDist,
// where c_k is the mean of r over k's bin of displacement (the variance of
// r; one bin by default) or a fixed scale. The paper's term is lag 1 and
// MaxDist = sigma_x: consecutive states over small steps. The total is
// lambda_sep L_sep + lambda_inv L_inv + lambda_cap L_cap + lambda_ci L_ci.
//
// # Gradients
//
// Each loss has its gradient with respect to the states (PairGrad,
// CapacityGrad, CIGrad) and NormReLU has its vector-Jacobian product
// (NormReLUGrad), each derived in a comment beside its code; backpropagation
// through the recurrence and the MLP is left to the implementations under
// test, whose gradients are checked against finite differences of these
// losses. The package's own tests check every gradient here the same way.
package reference
