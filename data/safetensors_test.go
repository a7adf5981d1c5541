package data

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	in := []Tensor{
		{Name: "mlp.0.weight", Shape: []int{3, 2}, F32: []float32{1, -2, 3.5, float32(math.Inf(1)), 0, -0}},
		{Name: "g0", Shape: []int{4}, F32: []float32{0.25, 1e-30, -7, math.MaxFloat32}},
		{Name: "scalar", Shape: []int{}, F32: []float32{42}},
		{Name: "empty", Shape: []int{0, 5}, F32: []float32{}},
	}
	meta := map[string]string{"step": "12", "config": "a: 1\nb: [x, y]\n"}
	if err := WriteSafetensors(path, in, meta); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hlen := binary.LittleEndian.Uint64(raw[:8])
	if hlen%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hlen)
	}
	var hdr map[string]any
	if err := json.Unmarshal(raw[8:8+hlen], &hdr); err != nil {
		t.Fatalf("header is not JSON: %v", err)
	}
	f, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata %v, want %v", f.Metadata, meta)
	}
	wantOrder := []string{"mlp.0.weight", "g0", "scalar", "empty"}
	if !reflect.DeepEqual(f.Order, wantOrder) {
		t.Errorf("order %v, want %v", f.Order, wantOrder)
	}
	for _, w := range in {
		g, ok := f.Tensors[w.Name]
		if !ok {
			t.Fatalf("tensor %s missing", w.Name)
		}
		if !reflect.DeepEqual(g.Shape, w.Shape) {
			t.Errorf("%s: shape %v, want %v", w.Name, g.Shape, w.Shape)
		}
		for i := range w.F32 {
			if math.Float32bits(g.F32[i]) != math.Float32bits(w.F32[i]) {
				t.Errorf("%s[%d] = %v, want %v", w.Name, i, g.F32[i], w.F32[i])
			}
		}
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after an atomic write, want 1", len(ents))
	}
}

// writeRaw builds a safetensors file from a header given as JSON text.
func writeRaw(t *testing.T, header string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	buf := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	buf = append(buf, header...)
	buf = append(buf, data...)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSafetensorsRefusesBadFiles(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.safetensors")
	if err := WriteSafetensors(good, []Tensor{{Name: "a", Shape: []int{4}, F32: []float32{1, 2, 3, 4}}}, nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	trunc := filepath.Join(t.TempDir(), "trunc.safetensors")
	os.WriteFile(trunc, raw[:len(raw)-3], 0o644)
	tiny := filepath.Join(t.TempDir(), "tiny.safetensors")
	os.WriteFile(tiny, raw[:5], 0o644)
	shortHeader := filepath.Join(t.TempDir(), "shorthdr.safetensors")
	os.WriteFile(shortHeader, raw[:12], 0o644)

	cases := []struct {
		name, path, want string
	}{
		{"truncated data", trunc, "outside the"},
		{"shorter than length", tiny, "too short"},
		{"truncated header", shortHeader, "truncated"},
		{"bad json", writeRaw(t, `{"a": [1,2`, nil), "header JSON"},
		{"bad dtype", writeRaw(t, `{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, []byte{0}), "dtype"},
		{"size mismatch", writeRaw(t, `{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "needs 12 bytes"},
		{"offsets out of range", writeRaw(t, `{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, make([]byte, 8)), "outside"},
		{"overlap", writeRaw(t, `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "overlap"},
		{"bad metadata", writeRaw(t, `{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"missing", filepath.Join(t.TempDir(), "nope.safetensors"), "no such file"},
	}
	for _, c := range cases {
		_, err := ReadSafetensors(c.path)
		if err == nil {
			t.Errorf("%s: read succeeded, want error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(c.path)) {
			t.Errorf("%s: error %q does not name the file and contain %q", c.name, err, c.want)
		}
	}
}

func TestSafetensorsReadsF64(t *testing.T) {
	data := binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.5))
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(-3))
	f, err := ReadSafetensors(writeRaw(t, `{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`, data))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Tensors["a"].F32; got[0] != 0.5 || got[1] != -3 {
		t.Errorf("got %v", got)
	}
}
