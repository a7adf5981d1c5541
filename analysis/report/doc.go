// Package report draws and writes what package analysis measures: its one
// concern is presentation. It turns an analysis.Result into a report
// directory (WriteReport: summary.json, ratemaps.npz, the PNG figures and
// index.html, published whole so that a reader never sees a mix of two
// reports), draws a run's training curves into that report, draws the
// in-training evaluation's ratemap picture (EvalPicturePNG, which the CLI
// hands to train.Options.EvalPicture) and the loss landscape's phase
// diagram (PhaseDiagramPNG).
//
// It computes no science: every number comes from package analysis, which
// does not import this package or any plotting library, so that the
// trainer links no figure code. The figures use gonum.org/v1/plot.
package report
