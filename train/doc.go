// Package train runs SIC training: it turns a configuration into a run
// directory of checkpoints and metrics, on the CPU or (in a CUDA build) a
// GPU, and continues any run exactly where it stopped.
//
// # Configuration
//
// A Config has the sections model, data, loss, optimizer, scheduler and run
// (and gpu, the GPU engine's settings). Preset gives a named starting point
// (PresetNames: the paper's setting, the demo recipe, benchmark sizes);
// ApplyYAML lays a config file over it, refusing unknown keys; Fields
// describes every leaf, from which the command line makes one flag each.
// Validate checks the whole; the effective config is written to the run
// directory as config.yaml, a config file that reproduces the run.
//
// # Engines
//
// An Engine owns the parameters and AdamW state on one device and takes
// whole optimiser steps: the gradient averaged over the step's
// microbatches (gradient accumulation), its global norm clipped, one AdamW
// update. A step whose loss or gradient is not finite returns an error
// naming the term and changes nothing. Backends register themselves by
// device kind (RegisterBackend; "cpu" here, "cuda" from package cuda), and
// NewEngine picks one for a Device, a device string such as "cpu" or
// "cuda:0" read by ParseDevice, the one reader of device strings.
//
// # The training loop
//
// Run drives one run: it builds the engine (a bad device fails before any
// file is written), a data.Sampler seeded from run.seed and the Plateau
// scheduler, then, step after step, draws the microbatches, calls
// Engine.Step with the scheduler's learning rate, feeds the step's loss to
// the scheduler, appends a line to metrics.jsonl on logging steps (Metrics;
// with the grid evaluation's keys on evaluation steps, see Evaluate),
// shows progress on Options.Log, and writes checkpoints. Cancelling the
// context finishes the current step, writes a checkpoint and returns an
// InterruptedError.
//
// # Checkpoints and exact resume
//
// A Checkpoint is the complete state after a step: config, step count,
// parameters, AdamW moments and step, the sampler's generator state, the
// scheduler's state and the training time so far, in one safetensors file
// in RUN/checkpoints/, with the pointer file "latest" naming the newest
// (the run directory's layout, names and pointers are package rundir's). Checkpoints are committed atomically: the pointer moves
// only once the file is complete, old ones (beyond run.keep_checkpoints)
// are removed only after that, and a checkpoint holding a NaN, an Inf or
// an absurd magnitude is never written, so the latest checkpoint can
// always be resumed. With run.keep_best a second pointer, "best", names the
// best checkpoint by a metrics key, which retention never removes
// (rundir.BestFile; a new best at a step between checkpoints gets a
// checkpoint).
//
// The invariant: resuming a checkpoint of step k and running to step n
// gives the same parameters, optimiser state, sampler state, scheduler
// state and metrics lines (timing aside), bit for bit, as one run to step
// n. LoadCheckpoint reads everything back (rundir.ResolveCheckpoint turns a
// run directory into its latest checkpoint), Options.Resume continues from it,
// and metrics lines the stopped run wrote past step k are trimmed. Settings
// may change on resume (run.steps, learning rate, weights); each resume
// and what it changed is recorded in config-history.yaml (ReadHistory) and
// on the first metrics line after it. Each run has an id (NewRunID) in its
// history and in every checkpoint; a resume refuses a checkpoint of another
// run (RunIDOf). LoadParams reads only the model, for the commands that use
// a trained network.
//
// # Around the loop
//
// EstimateMemory and CheckConfigMemory refuse a CPU run that cannot fit in
// memory before it starts; MeasureStep times a few steps for
// `gridgpu train --dry-run`, and SlowRunNote says when a run will take
// more than a day.
package train
