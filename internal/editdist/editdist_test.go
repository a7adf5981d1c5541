package editdist

import "testing"

func TestDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"lr", "lr", 0},
		{"lamda-cap", "lambda-cap", 1},
		{"unit", "units", 1},
		{"kitten", "sitting", 3},
		{"sigma_g", "sigma_x", 1},
		{"optimiser", "optimizer", 1},
	}
	for _, c := range cases {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Distance(c.b, c.a); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (symmetry)", c.b, c.a, got, c.want)
		}
	}
}

func TestClosest(t *testing.T) {
	flags := []string{"lambda-cap", "lambda-ci", "lambda-sep", "lr", "steps", "seed"}
	cases := []struct {
		name, want string
		ok         bool
	}{
		{"lamda-cap", "lambda-cap", true},
		{"step", "steps", true},
		{"frobnicate", "", false},
		{"steps", "", false}, // an exact name: nothing to suggest
		{"lambda-c", "lambda-ci", true},
	}
	for _, c := range cases {
		got, ok := Closest(c.name, flags)
		if got != c.want || ok != c.ok {
			t.Errorf("Closest(%q) = %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
