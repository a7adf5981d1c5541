// Package analysis measures the spatial tuning of a trained network: it
// drives the network along smooth random walks in square arenas (the motion
// model of Sorscher et al.), bins each unit's activation into a ratemap,
// computes spatial autocorrelograms (SACs), grid scores (by default the
// published scorer of Banino et al. 2018, see ScorerBanino), grid scales and
// orientations, groups grid cells into modules by SAC scale and by the
// Fourier spectra of their ratemaps (FourierAnalyse, FourierModules),
// embeds each module's population states (ModuleStateSpace), and relates
// distances in neural space to distances in physical space. Analyze runs
// the whole protocol and writes summary.json, ratemaps.npz, PNG figures and
// an index.html report.
//
// Conventions: a ratemap of nx by ny bins is stored row-major as
// m[ix*ny+iy], ix along x and iy along y; missing (unvisited) bins are NaN.
// Angles are in degrees, counter-clockwise from the +x axis. Undefined
// results (the score of a constant map, the scale of a map without
// periodic peaks) are NaN in Go and null in JSON.
package analysis
