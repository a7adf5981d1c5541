// Package editdist measures how far apart two names are, for the "did you
// mean" hints of unknown flags, config keys and sweep-file keys: one
// distance, so that every hint of the program agrees on what is close.
package editdist

// Distance is the Levenshtein distance between a and b: the fewest
// single-byte insertions, deletions and substitutions that turn a into b.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Close reports whether a distance d from a name of length n is small
// enough to suggest: at most 2 edits, or a third of the name for long ones.
func Close(d, n int) bool { return d <= max(2, n/3) }

// Closest returns the candidate nearest to name, when it is Close; the
// first of equally near ones wins. ok is false when none is close (or name
// is itself a candidate's exact spelling: nothing to suggest).
func Closest(name string, candidates []string) (best string, ok bool) {
	bestD := -1
	for _, c := range candidates {
		d := Distance(name, c)
		if d == 0 {
			return "", false
		}
		if Close(d, len(name)) && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best, bestD >= 0
}
