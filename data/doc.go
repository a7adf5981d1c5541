// Package data holds what the rest of the program reads and writes: the
// self-supervised microbatches of the SIC model, and the project's file
// formats. It depends on no other package of the project.
//
// # Microbatches
//
// A Batch is B trajectories of T velocity steps, Vel laid out [B][T][2] in
// metres per step; every trajectory starts at the origin, and Positions
// sums the steps sequentially in float32 (as a PyTorch cumulative sum
// would, so that loss masks agree across implementations). A Sampler draws
// them: with AugmentPermute (the paper's data) one set of T velocities,
// each component Uniform(-MaxSpeed, MaxSpeed), is drawn per microbatch and
// every trajectory takes its own permutation of it, so that all of them end
// at the same point; AugmentNone (an ablation) draws every trajectory
// independently. MinSpeedFactor below 1 scales each velocity by its own
// log-uniform factor, for data with slow steps. VelocitySets above 1 splits
// a permuted microbatch into groups, each permuting its own set (so the
// microbatch has T distinct velocities per set).
//
// A Sampler's whole state is one PCG generator: State and SetState save and
// restore it, which is what lets a checkpointed training run continue with
// exactly the microbatches an uninterrupted run would have drawn.
//
// # Files
//
//   - safetensors (WriteSafetensors, ReadSafetensors): named float32
//     tensors and string metadata; the checkpoint format of package train.
//   - NumPy .npz (WriteNPZ, ReadNPZ): named float32 or float64 arrays
//     (Array), written as numpy.savez writes them; read also when
//     compressed or of other numeric dtypes. Ratemaps, population states,
//     exports.
//   - PyTorch .pt (WriteTorch): a state dict that torch.load reads, for
//     export.
//
// Every writer is atomic: the file is written to a temporary file in the
// same directory (its name marked as such, see IsTempName), synced and
// renamed over the target, so a reader never sees a partial file and a
// failed write leaves the old one in place. WriteFileAtomic does the same
// for small text files. Temporaries left by a process killed mid-write are
// garbage; RemoveStaleTemps deletes those older than ProcessStart.
//
// Every reader distrusts its input: files must be regular files
// (OpenRegular, ReadRegularFile: no FIFOs or devices that could block or
// never end) within size limits (MaxConfigBytes, MaxCheckpointBytes,
// MaxNPZBytes, MaxNPZEntries), and nothing a file declares is used to size
// an allocation before it is checked against what the file holds, so a
// damaged or hostile file is refused with an error naming the file and the
// problem.
package data
