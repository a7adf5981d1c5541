// Package graph defines the SIC model of Schaeffer, Khona et al. (NeurIPS
// 2023) as a Gorgonia computation graph: an MLP that maps each velocity to an
// N x N recurrent matrix, a velocity-gated recurrence with Norm-ReLU unrolled
// over T steps, and the separation, invariance, capacity and conformal
// isometry losses. The recurrence and the pairwise losses are custom Gorgonia
// ops with analytic backward passes (each derivation sits beside its code), so
// the P x P pair matrix is never materialised.
package graph
