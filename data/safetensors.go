package data

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// The safetensors format (https://github.com/huggingface/safetensors): an
// 8-byte little-endian header length n, n bytes of JSON header, then the raw
// little-endian tensor data. The header maps each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} with offsets relative to
// the start of the data section, plus an optional "__metadata__" map of
// strings. The format is written by hand here because it is small and
// because the project needs exact control over validation messages.

// maxSafetensorsHeader bounds the JSON header; the reference implementation
// refuses headers over 100 MB as well, and a corrupt length must not make us
// allocate gigabytes.
const maxSafetensorsHeader = 100 << 20

// Tensor is one named float32 tensor, row-major.
type Tensor struct {
	Name  string
	Shape []int
	F32   []float32
}

// SafeFile is a parsed safetensors file. Tensors of dtype F64 are converted
// to float32 on reading (so that checkpoints saved from a float64 PyTorch
// model still load); other dtypes are refused.
type SafeFile struct {
	Metadata map[string]string
	Tensors  map[string]Tensor
	Order    []string // tensor names in data order
}

type stEntry struct {
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// WriteSafetensors writes the tensors (as F32, in the given order) and the
// metadata to path atomically: a reader sees the old file or the complete
// new one, never a partial write, even after a crash.
func WriteSafetensors(path string, tensors []Tensor, metadata map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	seen := make(map[string]bool, len(tensors))
	var off int64
	for _, t := range tensors {
		if t.Name == "" || t.Name == "__metadata__" {
			return fmt.Errorf("safetensors %s: invalid tensor name %q", path, t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("safetensors %s: tensor %q given twice", path, t.Name)
		}
		seen[t.Name] = true
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors %s: tensor %q has negative dimension in shape %v", path, t.Name, t.Shape)
			}
			n *= d
		}
		if n != len(t.F32) {
			return fmt.Errorf("safetensors %s: tensor %q has %d values but shape %v", path, t.Name, len(t.F32), t.Shape)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = stEntry{Dtype: "F32", Shape: shape, DataOffsets: [2]int64{off, off + 4*int64(n)}}
		off += 4 * int64(n)
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors %s: encoding header: %w", path, err)
	}
	// Pad with spaces so the data section starts 8-byte aligned, as the
	// reference writer does; JSON parsers ignore trailing whitespace.
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	return atomicReplace(path, func(w io.Writer) error {
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(hj); err != nil {
			return err
		}
		for _, t := range tensors {
			if err := writeFloatsLE(w, t.F32); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReadSafetensors parses path. Every problem (not a regular file, too
// large, truncation, bad header JSON, unsupported dtype, shapes whose size
// overflows, offsets outside the data section or overlapping, shape and size
// disagreeing) is an error naming the file and the problem. The header is
// checked completely before any tensor is allocated, and no allocation is
// larger than what the file holds.
func ReadSafetensors(path string) (*SafeFile, error) {
	fh, size, err := OpenRegular(path, "checkpoint", MaxCheckpointBytes)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return readSafetensors(fh, size, path)
}

// readSafetensors parses a safetensors file of size bytes read through r.
func readSafetensors(r io.ReaderAt, size int64, path string) (*SafeFile, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: not a valid safetensors file: %s", path, fmt.Sprintf(format, a...))
	}
	if size < 8 {
		return nil, bad("file is %d bytes, too short for the 8-byte header length (truncated?)", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, bad("reading the header length: %v", err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > maxSafetensorsHeader {
		// The value is not quoted: for a file of another kind it is just
		// eight bytes of its contents.
		return nil, bad("the header length field is implausible (over %d bytes); the file is damaged or of another kind", maxSafetensorsHeader)
	}
	if uint64(size-8) < hlen {
		return nil, bad("header says %d bytes of JSON but the file has only %d bytes after the length (truncated?)", hlen, size-8)
	}
	hdr := make([]byte, hlen)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, bad("reading the header: %v", err)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &header); err != nil {
		return nil, bad("header JSON: %v", err)
	}
	dataStart := int64(8 + hlen)
	dataLen := size - dataStart
	f := &SafeFile{Metadata: map[string]string{}, Tensors: map[string]Tensor{}}
	if m, ok := header["__metadata__"]; ok {
		if err := json.Unmarshal(m, &f.Metadata); err != nil {
			return nil, bad("__metadata__ is not a map of strings: %v", err)
		}
		delete(header, "__metadata__")
	}
	type span struct {
		name       string
		e          stEntry
		n          int64 // values
		width      int64 // bytes per value
		begin, end int64
	}
	spans := make([]span, 0, len(header))
	for name, rawEntry := range header {
		var e stEntry
		if err := json.Unmarshal(rawEntry, &e); err != nil {
			return nil, bad("header entry %s: %v", QuoteForError(name, 64), err)
		}
		qn := QuoteForError(name, 64)
		n := int64(1)
		for _, d := range e.Shape {
			if d < 0 {
				return nil, bad("tensor %s has a negative dimension in shape %v", qn, e.Shape)
			}
			if d != 0 && n > math.MaxInt64/int64(d) {
				return nil, bad("tensor %s: the size of shape %v overflows", qn, e.Shape)
			}
			n *= int64(d)
		}
		var width int64
		switch e.Dtype {
		case "F32":
			width = 4
		case "F64":
			width = 8
		default:
			return nil, bad("tensor %s has dtype %s; only F32 (and F64, converted) are supported", qn, QuoteForError(e.Dtype, 16))
		}
		b, en := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || en < b || en > dataLen {
			return nil, bad("tensor %s has data offsets [%d, %d] outside the %d-byte data section (truncated?)", qn, b, en, dataLen)
		}
		if n > (en-b)/width || n*width != en-b {
			if n > math.MaxInt64/width {
				return nil, bad("tensor %s: shape %v of %s needs more bytes than any file holds, but its offsets span %d", qn, e.Shape, e.Dtype, en-b)
			}
			return nil, bad("tensor %s: shape %v of %s needs %d bytes but its offsets span %d", qn, e.Shape, e.Dtype, n*width, en-b)
		}
		if int64(int(n)) != n {
			return nil, bad("tensor %s: shape %v is too large for this machine", qn, e.Shape)
		}
		spans = append(spans, span{name, e, n, width, b, en})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		if spans[i].end != spans[j].end {
			return spans[i].end < spans[j].end
		}
		return spans[i].name < spans[j].name
	})
	for i := 1; i < len(spans); i++ {
		// Empty tensors occupy no bytes and may share an offset.
		if spans[i].begin < spans[i-1].end {
			return nil, bad("tensors %s and %s overlap in the data section", QuoteForError(spans[i-1].name, 64), QuoteForError(spans[i].name, 64))
		}
	}
	// Only now, with every entry checked against the file's size, allocate
	// and read the data, in chunks.
	buf := make([]byte, 1<<16)
	for _, s := range spans {
		t := Tensor{Name: s.name, Shape: s.e.Shape, F32: make([]float32, s.n)}
		per := int64(len(buf)) / s.width
		for i := int64(0); i < s.n; i += per {
			k := min(per, s.n-i)
			seg := buf[:k*s.width]
			if _, err := r.ReadAt(seg, dataStart+s.begin+i*s.width); err != nil {
				return nil, bad("reading tensor %s: %v (truncated?)", QuoteForError(s.name, 64), err)
			}
			dst := t.F32[i : i+k]
			if s.width == 4 {
				for j := range dst {
					dst[j] = math.Float32frombits(binary.LittleEndian.Uint32(seg[4*j:]))
				}
			} else {
				for j := range dst {
					dst[j] = float32(math.Float64frombits(binary.LittleEndian.Uint64(seg[8*j:])))
				}
			}
		}
		if t.Shape == nil {
			t.Shape = []int{}
		}
		f.Tensors[s.name] = t
		f.Order = append(f.Order, s.name)
	}
	return f, nil
}

// atomicReplace writes path through fill: into a temporary file in the same
// directory, fsynced, renamed over path, then the directory fsynced so the
// rename itself survives a crash.
func atomicReplace(path string, fill func(io.Writer) error) (err error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("writing %s: it is a directory; name a file to write", path)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempMarker+"*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = fill(bw); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: fsync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; checkpoints are ordinary files.
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		// Some file systems refuse fsync on directories; the data is
		// already safe in the file, so that is not an error.
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// WriteFileAtomic writes data to path atomically (see atomicReplace); for
// small text files such as configs and pointer files.
func WriteFileAtomic(path string, data []byte) error {
	return atomicReplace(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
