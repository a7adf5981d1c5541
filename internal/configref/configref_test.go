package configref

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/train"
)

// TestGenerate checks that the reference has a row for every key and that
// its config file is the first preset, read back as a --config file.
func TestGenerate(t *testing.T) {
	gen, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range train.Fields() {
		if !strings.Contains(gen, "| `"+f.Path+"` | `--"+f.Flag+"` |") {
			t.Errorf("no row for %s (--%s)", f.Path, f.Flag)
		}
	}
	_, rest, _ := strings.Cut(gen, "```yaml\n")
	src, _, ok := strings.Cut(rest, "```\n")
	if !ok {
		t.Fatalf("no YAML block in\n%s", gen)
	}
	want, err := train.Preset(train.PresetNames[0])
	if err != nil {
		t.Fatal(err)
	}
	var got train.Config
	if err := train.ApplyYAML(&got, []byte(src), "generated YAML"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the generated YAML reads back as\n%+v\nwant\n%+v", got, want)
	}
}

// TestUpdate keeps the text around the markers and refuses a document
// without them.
func TestUpdate(t *testing.T) {
	doc := "# head\n\n" + Begin + "\nold table\n" + End + "\n\ntail\n"
	out, err := Update(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "# head\n\n"+Begin+"\n") || !strings.HasSuffix(out, "\n"+End+"\n\ntail\n") || strings.Contains(out, "old table") {
		t.Errorf("Update gave\n%s", out)
	}
	again, err := Update(out)
	if err != nil || again != out {
		t.Errorf("Update is not idempotent: %v", err)
	}
	for _, bad := range []string{"no markers", End + "\n" + Begin + "\n", Begin + Begin + End} {
		if _, err := Update(bad); err == nil {
			t.Errorf("Update(%q) gave no error", bad)
		}
	}
}
