package train

import "sort"

// Backends lists the registered device kinds ("cpu", and "cuda" in a CUDA
// build), sorted.
func Backends() []string {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	names := make([]string, 0, len(backends))
	for k := range backends {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
