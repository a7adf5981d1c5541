// Package analysis measures the spatial tuning of a trained network: it
// drives the network along smooth random walks in square arenas (the motion
// model of Sorscher et al.), bins each unit's activation into a ratemap,
// computes spatial autocorrelograms (SACs), grid scores (by default the
// published scorer of Banino et al. 2018, see ScorerBanino), grid scales and
// orientations, groups grid cells into modules by SAC scale and by the
// Fourier spectra of their ratemaps (FourierAnalyse, FourierModules),
// embeds each module's population states (ModuleStateSpace), and relates
// distances in neural space to distances in physical space. Analyze runs
// the whole protocol. The package also reads a run's training curves
// (ReadTrainingCurves), counts grid cells from reports' summaries
// (GridCells), scores the idealised grid codes of the loss landscape
// (ScoreCodes) and estimates an analysis's memory (CheckResources).
//
// This package is the science only: numbers, and the summary.json schema
// (Summary) that holds them. It draws nothing and imports no plotting
// library, so that the trainer (package train), which evaluates grid cells
// during training with Analyze, links none of it. The report (every PNG
// figure, the training-curve figures, index.html, writing and publishing
// a report directory, the landscape's phase diagram) is package
// analysis/report.
//
// Conventions: a ratemap of nx by ny bins is stored row-major as
// m[ix*ny+iy], ix along x and iy along y; missing (unvisited) bins are NaN.
// Angles are in degrees, counter-clockwise from the +x axis. Undefined
// results (the score of a constant map, the scale of a map without
// periodic peaks) are NaN in Go and null in JSON.
package analysis
