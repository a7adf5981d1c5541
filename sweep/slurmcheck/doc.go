// Package slurmcheck holds no code: its test runs the job array that
// 'gridgpu sweep --emit slurm' writes on a real one-node Slurm
// (scripts/slurm-test.sh), with a gridgpu built from this repository. It is
// a package of its own so that the minute it takes has a test binary, and a
// timeout, of its own.
package slurmcheck
