// Package data samples the self-supervised microbatches of the SIC model
// (permuted random-velocity trajectories that all end at the same point) and
// reads and writes the project's file formats: NumPy .npz archives and
// safetensors checkpoints.
package data
