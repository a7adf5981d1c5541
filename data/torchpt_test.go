package data

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/internal/testpy"
)

func torchTestTensors() []Tensor {
	big := make([]float32, 300*2)
	for i := range big {
		big[i] = float32(i) * 0.25
	}
	return []Tensor{
		{Name: "mlp.0.weight", Shape: []int{300, 2}, F32: big},
		{Name: "mlp.0.bias", Shape: []int{3}, F32: []float32{1, -2, float32(math.Inf(1))}},
		{Name: "x4", Shape: []int{1, 2, 1, 2}, F32: []float32{1, 2, 3, 4}},
		{Name: "scalar", Shape: nil, F32: []float32{7}},
		{Name: "empty", Shape: []int{0, 70000}, F32: []float32{}},
	}
}

// TestTorchLayout checks the archive's entries: names and order, stored
// uncompressed, data aligned to 64 bytes, the storages' bytes, the version
// record and the pickle's framing; and that writing is reproducible.
func TestTorchLayout(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.pt")
	ts := torchTestTensors()
	if err := WriteTorch(path, ts); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	want := []string{"archive/data.pkl", "archive/byteorder", "archive/data/0", "archive/data/1", "archive/data/2", "archive/data/3", "archive/data/4", "archive/version"}
	if len(zr.File) != len(want) {
		t.Fatalf("%d entries, want %d", len(zr.File), len(want))
	}
	body := map[string][]byte{}
	for i, f := range zr.File {
		if f.Name != want[i] {
			t.Errorf("entry %d is %s, want %s", i, f.Name, want[i])
		}
		if f.Method != zip.Store {
			t.Errorf("%s: method %d, want stored", f.Name, f.Method)
		}
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		if off%64 != 0 {
			t.Errorf("%s: data at offset %d, not 64-aligned", f.Name, off)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc) // checks the CRC too
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		body[f.Name] = b
	}
	if string(body["archive/version"]) != "3\n" || string(body["archive/byteorder"]) != "little" {
		t.Errorf("version %q, byteorder %q", body["archive/version"], body["archive/byteorder"])
	}
	for i, tn := range ts {
		raw := body["archive/data/"+string(rune('0'+i))]
		if len(raw) != 4*len(tn.F32) {
			t.Errorf("%s: storage of %d bytes, want %d", tn.Name, len(raw), 4*len(tn.F32))
			continue
		}
		for j, v := range tn.F32 {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])); math.Float32bits(got) != math.Float32bits(v) {
				t.Errorf("%s[%d] = %v, want %v", tn.Name, j, got, v)
			}
		}
	}
	pkl := body["archive/data.pkl"]
	if !bytes.HasPrefix(pkl, []byte("\x80\x02ccollections\nOrderedDict\n)R(")) || !bytes.HasSuffix(pkl, []byte("u.")) {
		t.Errorf("data.pkl framing: %q", pkl)
	}
	for _, tn := range ts {
		if !bytes.Contains(pkl, []byte(tn.Name)) {
			t.Errorf("data.pkl lacks %s", tn.Name)
		}
	}
	checkRewrite(t, path, filepath.Join(dir, "m2.pt"), func(q string) error { return WriteTorch(q, ts) }, "two writes of the same tensors differ")
}

func TestWriteTorchRejects(t *testing.T) {
	dir := t.TempDir()
	for name, ts := range map[string][]Tensor{
		"short": {{Name: "a", Shape: []int{2, 2}, F32: []float32{1, 2, 3}}},
		"twice": {{Name: "a", Shape: []int{1}, F32: []float32{1}}, {Name: "a", Shape: []int{1}, F32: []float32{1}}},
	} {
		p := filepath.Join(dir, name+".pt")
		if err := WriteTorch(p, ts); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s: file written despite the error", name)
		}
	}
}

// TestTorchLoadsOurs has PyTorch read the file.
func TestTorchLoadsOurs(t *testing.T) {
	py := testpy.Python3(t, "torch")
	path := filepath.Join(t.TempDir(), "m.pt")
	ts := torchTestTensors()
	if err := WriteTorch(path, ts); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, collections, torch
for wo in (False, True):
    sd = torch.load(sys.argv[1], weights_only=wo)
    assert type(sd) is collections.OrderedDict, type(sd)
    print(" ".join("%s:%s:%s:%s:%r" % (k, str(v.dtype), tuple(v.shape), v.is_contiguous(), v.flatten()[:3].tolist()) for k, v in sd.items()))
`
	out := testpy.Run(t, py, "", "-c", script, path)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := "mlp.0.weight:torch.float32:(300, 2):True:[0.0, 0.25, 0.5] mlp.0.bias:torch.float32:(3,):True:[1.0, -2.0, inf] " +
		"x4:torch.float32:(1, 2, 1, 2):True:[1.0, 2.0, 3.0] scalar:torch.float32:():True:[7.0] empty:torch.float32:(0, 70000):True:[]"
	if len(lines) != 2 || lines[0] != want || lines[1] != want {
		t.Errorf("torch.load gave\n%s\nwant (twice)\n%s", out, want)
	}
}
