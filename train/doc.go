// Package train runs SIC training: configuration and presets, the engine
// abstraction over devices (CPU graph or CUDA), AdamW with global-norm
// clipping and gradient accumulation, ReduceLROnPlateau, metrics, atomic
// checkpoints and exact resume.
package train
