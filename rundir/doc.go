// Package rundir is the layout of a training run directory, the one place
// that knows where a run's files are, what they are named and how to read
// the ones that several commands share:
//
//	RUN/config.yaml              the effective configuration (ConfigFile)
//	RUN/config-history.yaml      every part of a resumed run (HistoryFile)
//	RUN/metrics.jsonl            one JSON object a logged step (MetricsFile)
//	RUN/checkpoints/             step-NNNNNNNN.safetensors (CheckpointName)
//	RUN/checkpoints/latest       pointer to the newest checkpoint (LatestFile)
//	RUN/checkpoints/best         pointer to the best one (BestFile)
//	RUN/eval/step-NNNNNNNN.png   in-training evaluation pictures (EvalDir)
//
// It names the files and parses checkpoint names, reads and writes the
// latest and best pointers, turns what a user gives for a checkpoint (a run
// directory, its checkpoints/, a pointer, a file) into a checkpoint file
// (ResolveCheckpoint) and a checkpoint back into its run directory
// (OfCheckpoint, Find), and reads metrics.jsonl (ReadMetrics) whole lines
// at a time, a last line still being written or cut short by a crash
// included.
//
// What the files mean is the business of their writers and readers:
// package train writes the run and owns the configuration and checkpoint
// formats, analysis draws the curves, sweep and watch report on runs. This
// package imports none of them (only data, for the hardened file readers),
// so that every one of them can import it.
package rundir
