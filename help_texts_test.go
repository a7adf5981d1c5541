package main

import (
	"io/fs"
	"path"
	"strings"
	"testing"
)

// Every help/NAME.txt is the description of command NAME, or with NAME
// gridgpu of the program: a misnamed file would leave its page without one.
func TestHelpTextsNameCommands(t *testing.T) {
	names := map[string]bool{"gridgpu": true}
	for _, c := range commands() {
		names[c.Name] = true
	}
	files, err := fs.Glob(helpTexts, "help/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("help texts: %v %v", files, err)
	}
	for _, f := range files {
		if n := strings.TrimSuffix(path.Base(f), ".txt"); !names[n] {
			t.Errorf("%s: no command %s", f, n)
		}
	}
}
