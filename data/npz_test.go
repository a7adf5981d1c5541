package data

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/internal/testpy"
)

// sameF32 and sameF64 report whether a and b hold the same values bit for
// bit (so NaN equals NaN and -0 differs from 0).
func sameF32(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func sameF64(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

func testArrays() []Array {
	nan32 := float32(math.NaN())
	return []Array{
		{Name: "velocities", Shape: []int{2, 3, 2}, F32: []float32{0.1, -0.2, 0.3, 0, nan32, 1e-38, float32(math.Inf(1)), -1, 2, 3, 4, 5}},
		{Name: "ratemaps", Shape: []int{2, 2, 3}, F64: []float64{1, 2, 3, 4, math.NaN(), 6, 7, 8, 9, math.Inf(-1), 11, -0.0}},
		{Name: "bin_size", Shape: []int{}, F64: []float64{0.05}},
		{Name: "step", Shape: []int{}, F32: []float32{3}},
		{Name: "vec", Shape: []int{5}, F32: []float32{1, 2, 3, 4, 5}},
		{Name: "empty", Shape: []int{0, 3}, F32: []float32{}},
	}
}

func checkSame(t *testing.T, want []Array, got map[string]Array) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d arrays, want %d", len(got), len(want))
	}
	for _, w := range want {
		g, ok := got[w.Name]
		if !ok {
			t.Fatalf("array %q missing", w.Name)
		}
		if g.Name != w.Name || !reflect.DeepEqual(g.Shape, w.Shape) {
			t.Errorf("array %q: got name %q shape %v, want shape %v", w.Name, g.Name, g.Shape, w.Shape)
		}
		if (g.F32 != nil) != (w.F32 != nil) || (g.F64 != nil) != (w.F64 != nil) {
			t.Errorf("array %q: dtype changed", w.Name)
		}
		if !sameF32(g.F32, w.F32) || !sameF64(g.F64, w.F64) {
			t.Errorf("array %q: values differ: got %v %v want %v %v", w.Name, g.F32, g.F64, w.F32, w.F64)
		}
	}
}

// checkRewrite writes again, with write, to path2 what was written to path,
// and fails t with msg unless the two files hold the same bytes.
func checkRewrite(t *testing.T, path, path2 string, write func(path string) error, msg string) {
	t.Helper()
	if err := write(path2); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(path2)
	if !bytes.Equal(a, b) {
		t.Error(msg)
	}
}

func TestNPZRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.npz")
	want := testArrays()
	if err := WriteNPZ(p, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, want, got)

	// Same input, same bytes: entries carry a fixed time stamp.
	checkRewrite(t, p, filepath.Join(dir, "b.npz"), func(q string) error { return WriteNPZ(q, want) }, "writing the same arrays twice gave different files")
	// Data start on a 64-byte boundary inside each entry, as numpy aligns them.
	for _, a := range want {
		if l := len(npyHeader(a)); l%64 != 0 {
			t.Errorf("array %q: header length %d is not a multiple of 64", a.Name, l)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("directory holds %d entries, want 2 (temporary file left behind?)", len(ents))
	}
}

// TestNPZDeflated checks entries compressed as numpy.savez_compressed writes them.
func TestNPZDeflated(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.npz")
	want := testArrays()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, a := range want {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: a.Name + ".npy", Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if err := writeNPY(w, a); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	os.WriteFile(p, buf.Bytes(), 0o644)
	got, err := ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, want, got)
}

func TestWriteNPZRejects(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keep.npz")
	if err := WriteNPZ(p, []Array{{Name: "x", Shape: []int{1}, F32: []float32{7}}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		arrays []Array
		want   string
	}{
		{"shape mismatch", []Array{{Name: "x", Shape: []int{2, 2}, F32: []float32{1, 2, 3}}}, "needs 4 values"},
		{"both set", []Array{{Name: "x", Shape: []int{1}, F32: []float32{1}, F64: []float64{1}}}, "both"},
		{"none set", []Array{{Name: "x", Shape: []int{1}}}, "neither"},
		{"empty name", []Array{{Shape: []int{1}, F32: []float32{1}}}, "empty name"},
		{"slash", []Array{{Name: "a/b", Shape: []int{1}, F32: []float32{1}}}, "separator"},
		{"duplicate", []Array{{Name: "x", Shape: []int{}, F32: []float32{1}}, {Name: "x", Shape: []int{}, F32: []float32{1}}}, "twice"},
		{"negative dim", []Array{{Name: "x", Shape: []int{-1}, F32: []float32{}}}, "invalid shape"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := WriteNPZ(p, c.arrays)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %v, want one naming the file and containing %q", err, c.want)
			}
			got, err := ReadNPZ(p)
			if err != nil || got["x"].F32[0] != 7 {
				t.Fatalf("failed write damaged the existing file: %v %v", got, err)
			}
		})
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries after failed writes, want 1", len(ents))
	}
}

// rawNPZ builds an archive whose one entry "arr.npy" holds a hand-made
// header and data.
func rawNPZ(t *testing.T, dir, header string, data []byte) string {
	t.Helper()
	var npy bytes.Buffer
	npy.WriteString(npyMagic)
	npy.Write([]byte{1, 0, byte(len(header)), byte(len(header) >> 8)})
	npy.WriteString(header)
	npy.Write(data)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("arr.npy")
	w.Write(npy.Bytes())
	zw.Close()
	p := filepath.Join(dir, "raw.npz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadNPZErrors(t *testing.T) {
	dir := t.TempDir()
	eight := make([]byte, 8)
	cases := []struct {
		name   string
		header string
		data   []byte
		want   string
	}{
		{"complex", "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n", eight, "\"<c8\""},
		{"string", "{'descr': '<U2', 'fortran_order': False, 'shape': (1,), }\n", eight, "\"<U2\""},
		{"float128", "{'descr': '<f16', 'fortran_order': False, 'shape': (1,), }\n", eight, "\"<f16\""},
		{"short data", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", eight, "truncated"},
		{"long data", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", eight, "trailing"},
		{"no shape", "{'descr': '<f4', 'fortran_order': False, }\n", eight, "no shape"},
		{"bad shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }\n", eight, "bad shape"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := rawNPZ(t, dir, c.header, c.data)
			_, err := ReadNPZ(p)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"arr"`) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %v, want one naming file, array and containing %q", err, c.want)
			}
		})
	}
	// A Fortran-ordered 1-d array has the same layout as C order: accepted.
	p := rawNPZ(t, dir, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", eight)
	if _, err := ReadNPZ(p); err != nil {
		t.Errorf("1-d Fortran array: %v", err)
	}

	// Damage to the archive itself.
	good := filepath.Join(dir, "good.npz")
	if err := WriteNPZ(good, testArrays()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	files := map[string][]byte{
		"truncated.npz": b[:len(b)/2],
		"notzip.npz":    []byte("hello, this is not a zip archive at all"),
	}
	// Flip a data byte inside the first entry: the CRC check must catch it.
	flipped := append([]byte(nil), b...)
	flipped[30+len("velocities.npy")+64+3] ^= 0xff
	files["crc.npz"] = flipped
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, content, 0o644)
		if _, err := ReadNPZ(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
	if _, err := ReadNPZ(filepath.Join(dir, "missing.npz")); err == nil {
		t.Error("missing file: no error")
	}
}

func havePythonNumpy(t *testing.T) string {
	t.Helper()
	return testpy.Python3(t, "numpy")
}

// TestNPZNumpyReadsOurs checks that numpy loads what WriteNPZ writes.
func TestNPZNumpyReadsOurs(t *testing.T) {
	py := havePythonNumpy(t)
	p := filepath.Join(t.TempDir(), "ours.npz")
	if err := WriteNPZ(p, testArrays()); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np
z = np.load(sys.argv[1])
assert sorted(z.files) == sorted(["velocities", "ratemaps", "bin_size", "step", "vec", "empty"]), z.files
v = z["velocities"]; assert v.dtype == np.float32 and v.shape == (2, 3, 2), (v.dtype, v.shape)
assert v[0, 0, 1] == np.float32(-0.2) and np.isnan(v[0, 2, 0]) and np.isinf(v[1, 0, 0]), v
r = z["ratemaps"]; assert r.dtype == np.float64 and r.shape == (2, 2, 3)
assert r[1, 0, 2] == 9 and np.isnan(r[0, 1, 1]) and r[1, 1, 0] == -np.inf
b = z["bin_size"]; assert b.shape == () and b.dtype == np.float64 and float(b) == 0.05
assert z["step"].shape == () and z["step"].dtype == np.float32
assert list(z["vec"]) == [1, 2, 3, 4, 5]
assert z["empty"].shape == (0, 3)
print("ok")
`
	if out := testpy.Run(t, py, "", "-c", script, p); !strings.Contains(out, "ok") {
		t.Fatalf("numpy could not load our file:\n%s", out)
	}
}

// TestNPZReadsNumpy checks that ReadNPZ loads numpy.savez and
// numpy.savez_compressed output, and names the array numpy wrote as int.
func TestNPZReadsNumpy(t *testing.T) {
	py := havePythonNumpy(t)
	dir := t.TempDir()
	script := `
import sys, numpy as np
a = np.arange(24, dtype=np.float32).reshape(2, 3, 4); a[0, 0, 1] = np.nan
b = np.linspace(0, 1, 5)
np.savez(sys.argv[1] + "/plain.npz", a=a, b=b, s=np.float64(0.025))
np.savez_compressed(sys.argv[1] + "/comp.npz", a=a, b=b, s=np.float64(0.025))
np.savez(sys.argv[1] + "/int.npz", a=a, i=np.arange(3))
np.savez(sys.argv[1] + "/fortran.npz", f=np.asfortranarray(a))
m = np.arange(6, dtype=np.float64).reshape(2, 3)
np.savez(sys.argv[1] + "/other.npz", ratemaps=m.T, be=a.astype(">f4"), i2=np.array([-2, 300], dtype=">i2"),
	u1=np.array([0, 7, 255], dtype=np.uint8), b=np.array([True, False]), h=np.array([1.0, -2.5], dtype=np.float16))
`
	testpy.Run(t, py, "", "-c", script, dir)
	for _, name := range []string{"plain.npz", "comp.npz"} {
		got, err := ReadNPZ(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a := got["a"]
		if !reflect.DeepEqual(a.Shape, []int{2, 3, 4}) || a.F32 == nil || a.F32[23] != 23 || !math.IsNaN(float64(a.F32[1])) || a.F32[4] != 4 {
			t.Errorf("%s: a = %+v", name, a)
		}
		b := got["b"]
		if !reflect.DeepEqual(b.Shape, []int{5}) || b.F64 == nil || b.F64[1] != 0.25 {
			t.Errorf("%s: b = %+v", name, b)
		}
		s := got["s"]
		if len(s.Shape) != 0 || len(s.F64) != 1 || s.F64[0] != 0.025 {
			t.Errorf("%s: s = %+v", name, s)
		}
	}
	// Integer, Fortran-ordered, big-endian, boolean and float16 arrays are
	// converted.
	sameA := func(what string, got []float32) {
		if len(got) != 24 || got[23] != 23 || got[4] != 4 || got[5] != 5 || !math.IsNaN(float64(got[1])) {
			t.Errorf("%s: %v, want a's values in C order", what, got)
		}
	}
	got, err := ReadNPZ(filepath.Join(dir, "int.npz"))
	if err != nil || !reflect.DeepEqual(got["i"].F64, []float64{0, 1, 2}) {
		t.Errorf("int.npz: %v, %+v", err, got["i"])
	}
	if got, err = ReadNPZ(filepath.Join(dir, "fortran.npz")); err != nil || !reflect.DeepEqual(got["f"].Shape, []int{2, 3, 4}) {
		t.Errorf("fortran.npz: %v, %+v", err, got["f"])
	} else {
		sameA("fortran.npz", got["f"].F32)
	}
	if got, err = ReadNPZ(filepath.Join(dir, "other.npz")); err != nil {
		t.Fatalf("other.npz: %v", err)
	}
	if r := got["ratemaps"]; !reflect.DeepEqual(r.Shape, []int{3, 2}) || !reflect.DeepEqual(r.F64, []float64{0, 3, 1, 4, 2, 5}) {
		t.Errorf("m.T: %+v, want shape [3 2] and 0 3 1 4 2 5", r)
	}
	sameA("big-endian", got["be"].F32)
	for name, want := range map[string][]float32{"i2": {-2, 300}, "u1": {0, 7, 255}, "b": {1, 0}, "h": {1, -2.5}} {
		if !reflect.DeepEqual(got[name].F32, want) {
			t.Errorf("%s: %+v, want %v", name, got[name], want)
		}
	}
}

// TestReadNPZConverts: big-endian, integer, boolean, float16 and
// Fortran-ordered arrays (np.savez(f, ratemaps=m.T) of a C-ordered m) are
// read and converted: values exact, C order.
func TestReadNPZConverts(t *testing.T) {
	dir := t.TempDir()
	be32 := func(vs ...float32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	le64 := func(vs ...float64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	var i8 []byte
	for _, v := range []int64{-3, 1 << 40, 7} {
		i8 = binary.LittleEndian.AppendUint64(i8, uint64(v))
	}
	var i2be []byte
	for _, v := range []int16{-2, 300} {
		i2be = binary.BigEndian.AppendUint16(i2be, uint16(v))
	}
	// m = [[1, 2, 3], [4, 5, 6]]; m.T is (3, 2) in Fortran order, whose
	// bytes are m's in C order: 1 2 3 4 5 6. In C order m.T is 1 4 2 5 3 6.
	cases := []struct {
		name, header string
		data         []byte
		shape        []int
		f32          []float32
		f64          []float64
	}{
		{"big-endian float32", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", be32(1.5, -2), []int{2}, []float32{1.5, -2}, nil},
		{"int64", "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }\n", i8, []int{3}, nil, []float64{-3, 1 << 40, 7}},
		{"big-endian int16", "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }\n", i2be, []int{2}, []float32{-2, 300}, nil},
		{"uint8", "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }\n", []byte{0, 7, 255}, []int{3}, []float32{0, 7, 255}, nil},
		{"bool", "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }\n", []byte{1, 0, 1}, []int{3}, []float32{1, 0, 1}, nil},
		// float16 1.0 = 0x3c00, -2.5 = 0xc100, 2^-24 (smallest subnormal) = 0x0001
		{"float16", "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }\n", []byte{0x00, 0x3c, 0x00, 0xc1, 0x01, 0x00}, []int{3}, []float32{1, -2.5, 1.0 / (1 << 24)}, nil},
		{"fortran float64 (m.T)", "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }\n", le64(1, 2, 3, 4, 5, 6), []int{3, 2}, nil, []float64{1, 4, 2, 5, 3, 6}},
		{"fortran big-endian float32 3-d", "{'descr': '>f4', 'fortran_order': True, 'shape': (2, 2, 2), }\n", be32(0, 1, 2, 3, 4, 5, 6, 7), []int{2, 2, 2},
			// C index (i, j, k) holds Fortran offset i + 2j + 4k.
			[]float32{0, 4, 2, 6, 1, 5, 3, 7}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := rawNPZ(t, dir, c.header, c.data)
			arrs, err := ReadNPZ(p)
			if err != nil {
				t.Fatal(err)
			}
			a := arrs["arr"]
			if !reflect.DeepEqual(a.Shape, c.shape) {
				t.Errorf("shape %v, want %v", a.Shape, c.shape)
			}
			if c.f32 != nil && !reflect.DeepEqual(a.F32, c.f32) || c.f64 != nil && !reflect.DeepEqual(a.F64, c.f64) {
				t.Errorf("values F32 %v F64 %v, want %v %v", a.F32, a.F64, c.f32, c.f64)
			}
		})
	}
}
