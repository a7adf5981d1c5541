// Command configref regenerates the configuration reference in
// docs/config.md (the text between the markers of package
// internal/configref) from the configuration's struct tags and presets.
//
//	go run ./scripts/configref          # rewrite docs/config.md
//	go run ./scripts/configref -check   # exit 1 if docs/config.md is stale
//
// Run it from the repository root after changing a key, a flag, a help text
// or a preset; the test TestConfigReferenceIsCurrent fails until then.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gridgpu/gridgpu/internal/configref"
)

func main() {
	doc := flag.String("doc", configref.DocPath, "the Markdown file holding the generated markers")
	check := flag.Bool("check", false, "only check: exit 1 if the file is stale, writing nothing")
	flag.Parse()
	if err := run(*doc, *check); err != nil {
		fmt.Fprintln(os.Stderr, "configref:", err)
		os.Exit(1)
	}
}

func run(path string, check bool) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated, err := configref.Update(string(old))
	if err != nil {
		return err
	}
	if updated == string(old) {
		return nil
	}
	if check {
		return fmt.Errorf("%s is stale: run go run ./scripts/configref", path)
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(updated), info.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	fmt.Fprintln(os.Stderr, "configref: wrote", path)
	return nil
}
