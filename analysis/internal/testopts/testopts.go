// Package testopts holds the quick analysis protocol that the external
// tests of package analysis and the tests of analysis/report run. Only
// tests import it; analysis's own (internal) tests cannot, since it imports
// analysis.
package testopts

import "github.com/gridgpu/gridgpu/analysis"

// Small is a quick protocol: two small arenas, few short walks.
func Small() analysis.Options {
	o := analysis.DefaultOptions()
	o.Arenas = []float64{1, 2}
	o.BinsPerMetre = 10
	o.Trajectories = 12
	o.Steps = 150
	o.DistanceSamples = 300
	return o
}
