//go:build !linux

package report

// exchange: only Linux swaps two names in one step; elsewhere publish sets
// the old report aside first.
func exchange(a, b string) error { return errNoExchange }
