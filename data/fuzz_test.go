package data

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// The fuzz targets feed arbitrary bytes to the readers: they may refuse
// anything, but must never panic, hang or allocate beyond what the input
// could hold. The seed corpora (testdata/fuzz/FuzzReadSafetensors and
// FuzzReadNpz, replayed by plain go test) hold the boundary inputs of the
// hardening report.

func safetensorsSeed(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func FuzzReadSafetensors(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := WriteSafetensors(good, []Tensor{
		{Name: "a", Shape: []int{2, 2}, F32: []float32{1, 2, 3, 4}},
		{Name: "s", Shape: []int{}, F32: []float32{5}},
	}, map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	f.Add(raw)
	f.Add(safetensorsSeed(`{"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}`, nil))
	f.Add(safetensorsSeed(`{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil))
	f.Add(safetensorsSeed(`{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := readSafetensors(bytes.NewReader(b), int64(len(b)), "fuzz.safetensors")
		if err != nil {
			return
		}
		var total int
		for _, tn := range sf.Tensors {
			n := 1
			for _, d := range tn.Shape {
				n *= d
			}
			if n != len(tn.F32) {
				t.Fatalf("tensor %q: shape %v but %d values", tn.Name, tn.Shape, len(tn.F32))
			}
			total += 4 * n
		}
		if total > 2*len(b) {
			t.Fatalf("%d bytes of tensors from a %d-byte file", total, len(b))
		}
	})
}

func FuzzReadNpz(f *testing.F) {
	dir := f.TempDir()
	for i, arrays := range [][]Array{
		testArrays(),
		{{Name: "velocities", Shape: []int{2, 3, 2}, F32: make([]float32, 12)}},
	} {
		p := filepath.Join(dir, "seed"+string(rune('0'+i))+".npz")
		if err := WriteNPZ(p, arrays); err != nil {
			f.Fatal(err)
		}
		raw, _ := os.ReadFile(p)
		f.Add(raw)
	}
	f.Add(buildZip([]zipEntry{{name: "v.npy", method: 0, csize: 10, usize: 10, data: npyBytes("<f4", "(4294967296, 4294967296)")[:10]}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		arrays, err := readNPZ(bytes.NewReader(b), int64(len(b)), "fuzz.npz")
		if err != nil {
			return
		}
		for name, a := range arrays {
			if n := a.Len(); n < 0 || n != len(a.F32)+len(a.F64) {
				t.Fatalf("array %q: shape %v but %d values", name, a.Shape, len(a.F32)+len(a.F64))
			}
		}
	})
}
