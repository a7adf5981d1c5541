package data

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Array is one named n-dimensional array; exactly one of F32/F64 is set.
// Shape is in C (row-major) order; an empty Shape is a 0-d (scalar) array
// holding one value.
type Array struct {
	Name  string
	Shape []int
	F32   []float32
	F64   []float64
}

// Len is the number of values the shape asks for (1 for a 0-d array), or -1
// when a dimension is negative or the product overflows.
func (a Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		if d < 0 {
			return -1
		}
		if d != 0 && n > math.MaxInt/d {
			return -1
		}
		n *= d
	}
	return n
}

// Float64s returns the values as float64, converting float32 data.
func (a Array) Float64s() []float64 {
	if a.F64 != nil {
		return a.F64
	}
	out := make([]float64, len(a.F32))
	for i, v := range a.F32 {
		out[i] = float64(v)
	}
	return out
}

// npyMagic starts every .npy file; the next two bytes are the format version.
const npyMagic = "\x93NUMPY"

// zipTime is the modification time stamped on every entry, so that writing
// the same arrays twice gives byte-identical files.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// WriteNPZ writes arrays to path as an uncompressed NumPy .npz archive with
// one "<name>.npy" entry per array (little-endian, C order), as numpy.savez
// does. The file appears atomically: it is written to a temporary file in
// the same directory, synced and renamed over path, so readers never see a
// partial archive and a failed write leaves an existing file untouched.
func WriteNPZ(path string, arrays []Array) error {
	seen := make(map[string]bool, len(arrays))
	for _, a := range arrays {
		if err := checkArray(a); err != nil {
			return fmt.Errorf("npz %s: %w", path, err)
		}
		if seen[a.Name] {
			return fmt.Errorf("npz %s: array name %q appears twice", path, a.Name)
		}
		seen[a.Name] = true
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("npz %s: %w", path, err)
	}
	// Whatever goes wrong below, the temporary file must not stay behind.
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	zw := zip.NewWriter(tmp)
	for _, a := range arrays {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: a.Name + ".npy", Method: zip.Store, Modified: zipTime})
		if err != nil {
			return fmt.Errorf("npz %s: array %q: %w", path, a.Name, err)
		}
		if err := writeNPY(w, a); err != nil {
			return fmt.Errorf("npz %s: array %q: %w", path, a.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("npz %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("npz %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("npz %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("npz %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("npz %s: %w", path, err)
	}
	ok = true
	// Sync the directory so the rename itself survives a crash; some file
	// systems do not support this, which is not worth failing the write for.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func checkArray(a Array) error {
	if a.Name == "" {
		return errors.New("array with empty name")
	}
	if strings.ContainsAny(a.Name, "/\\\x00") {
		return fmt.Errorf("array name %q contains a path separator or NUL", a.Name)
	}
	if a.F32 != nil && a.F64 != nil {
		return fmt.Errorf("array %q: both F32 and F64 are set; set exactly one", a.Name)
	}
	n := a.Len()
	if n < 0 {
		return fmt.Errorf("array %q: invalid shape %v", a.Name, a.Shape)
	}
	got := len(a.F32) + len(a.F64)
	if a.F32 == nil && a.F64 == nil && n != 0 {
		return fmt.Errorf("array %q: neither F32 nor F64 is set", a.Name)
	}
	if got != n {
		return fmt.Errorf("array %q: shape %v needs %d values, have %d", a.Name, a.Shape, n, got)
	}
	return nil
}

// npyHeader returns the .npy preamble (magic, version, header length and the
// header dict) for a, padded so the data starts on a 64-byte boundary as
// numpy does.
func npyHeader(a Array) []byte {
	descr := "<f4"
	if a.F64 != nil {
		descr = "<f8"
	}
	var shape string
	switch len(a.Shape) {
	case 0:
		shape = "()"
	case 1:
		shape = "(" + strconv.Itoa(a.Shape[0]) + ",)"
	default:
		parts := make([]string, len(a.Shape))
		for i, d := range a.Shape {
			parts[i] = strconv.Itoa(d)
		}
		shape = "(" + strings.Join(parts, ", ") + ")"
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
	// Version 1.0 stores the header length in 2 bytes; 2.0 in 4 bytes, for
	// shapes with so many dimensions that the dict is longer than 65535.
	pre := 10
	major := byte(1)
	if len(dict)+1+pre+64 > math.MaxUint16 {
		pre, major = 12, 2
	}
	total := pre + len(dict) + 1
	pad := (64 - total%64) % 64
	hlen := len(dict) + pad + 1
	buf := make([]byte, 0, pre+hlen)
	buf = append(buf, npyMagic...)
	buf = append(buf, major, 0)
	if major == 1 {
		buf = binary.LittleEndian.AppendUint16(buf, uint16(hlen))
	} else {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(hlen))
	}
	buf = append(buf, dict...)
	buf = append(buf, bytes.Repeat([]byte{' '}, pad)...)
	return append(buf, '\n')
}

// writeNPY writes a as a complete .npy file.
func writeNPY(w io.Writer, a Array) error {
	if _, err := w.Write(npyHeader(a)); err != nil {
		return err
	}
	// Convert in chunks: one buffer the size of a large array would double
	// peak memory for nothing.
	const chunk = 1 << 16
	buf := make([]byte, 0, 8*chunk)
	if a.F64 != nil {
		for i := 0; i < len(a.F64); i += chunk {
			buf = buf[:0]
			for _, v := range a.F64[i:min(i+chunk, len(a.F64))] {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i < len(a.F32); i += chunk {
		buf = buf[:0]
		for _, v := range a.F32[i:min(i+chunk, len(a.F32))] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// ReadNPZ reads every array of a NumPy .npz archive (stored or deflated
// entries, as numpy.savez and numpy.savez_compressed write them), keyed by
// name without the ".npy" suffix. Only little-endian float32 ('<f4') and
// float64 ('<f8') arrays in C order are supported; anything else, and any
// damage to the file, is an error naming the file and the array.
func ReadNPZ(path string) (map[string]Array, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("npz %s: not a readable .npz (zip) archive: %w", path, err)
	}
	defer zr.Close()
	out := make(map[string]Array, len(zr.File))
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue // directory entry
		}
		name := strings.TrimSuffix(f.Name, ".npy")
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("npz %s: array %q appears twice", path, name)
		}
		a, err := readEntry(f, name)
		if err != nil {
			return nil, fmt.Errorf("npz %s: array %q: %w", path, name, err)
		}
		out[name] = a
	}
	return out, nil
}

func readEntry(f *zip.File, name string) (Array, error) {
	rc, err := f.Open()
	if err != nil {
		return Array{}, err
	}
	defer rc.Close()
	a, err := readNPY(rc, name, f.UncompressedSize64)
	if err != nil {
		return Array{}, err
	}
	// Reading to the end makes archive/zip verify the entry's CRC-32.
	var one [1]byte
	n, err := io.ReadFull(rc, one[:])
	if n > 0 {
		return Array{}, errors.New("trailing bytes after the array data")
	}
	if err != io.EOF {
		return Array{}, fmt.Errorf("corrupt entry: %w", err)
	}
	return a, nil
}

var (
	reDescr   = regexp.MustCompile(`['"]descr['"]\s*:\s*['"]([^'"]*)['"]`)
	reFortran = regexp.MustCompile(`['"]fortran_order['"]\s*:\s*(True|False)`)
	reShape   = regexp.MustCompile(`['"]shape['"]\s*:\s*\(([^)]*)\)`)
)

// readNPY parses one .npy stream. size is the entry's declared uncompressed
// size, used to refuse headers that claim more data than there is before
// allocating for them.
func readNPY(r io.Reader, name string, size uint64) (Array, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return Array{}, fmt.Errorf("truncated .npy header: %w", err)
	}
	if string(pre[:6]) != npyMagic {
		return Array{}, errors.New("not a .npy array (bad magic bytes)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Array{}, fmt.Errorf("truncated .npy header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Array{}, fmt.Errorf("truncated .npy header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return Array{}, fmt.Errorf("unsupported .npy format version %d.%d", pre[6], pre[7])
	}
	if uint64(hlen) > size {
		return Array{}, fmt.Errorf("corrupt .npy header: length %d exceeds entry size %d", hlen, size)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return Array{}, fmt.Errorf("truncated .npy header: %w", err)
	}
	h := string(hdr)
	m := reDescr.FindStringSubmatch(h)
	if m == nil {
		return Array{}, fmt.Errorf("corrupt .npy header (no descr): %q", h)
	}
	descr := m[1]
	var item int
	switch descr {
	case "<f4":
		item = 4
	case "<f8":
		item = 8
	default:
		return Array{}, fmt.Errorf("dtype %q is not supported; save it as little-endian float32 ('<f4') or float64 ('<f8')", descr)
	}
	mf := reFortran.FindStringSubmatch(h)
	if mf == nil {
		return Array{}, fmt.Errorf("corrupt .npy header (no fortran_order): %q", h)
	}
	m2 := reShape.FindStringSubmatch(h)
	if m2 == nil {
		return Array{}, fmt.Errorf("corrupt .npy header (no shape): %q", h)
	}
	a := Array{Name: name, Shape: []int{}}
	for _, s := range strings.Split(m2[1], ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		s = strings.TrimSuffix(s, "L") // Python 2 writers append L to longs
		d, err := strconv.Atoi(s)
		if err != nil || d < 0 {
			return Array{}, fmt.Errorf("corrupt .npy header (bad shape %q)", m2[1])
		}
		a.Shape = append(a.Shape, d)
	}
	n := a.Len()
	if n < 0 {
		return Array{}, fmt.Errorf("corrupt .npy header (shape %v overflows)", a.Shape)
	}
	if mf[1] == "True" && len(a.Shape) > 1 {
		// Fortran order is only a different layout when there are at least
		// two dimensions; refuse rather than silently transpose.
		return Array{}, fmt.Errorf("array is stored in Fortran order; save it in C order (numpy.ascontiguousarray)")
	}
	if n > 0 && uint64(n) > size/uint64(item) {
		return Array{}, fmt.Errorf("truncated: shape %v needs %d bytes of data, entry has %d bytes in all", a.Shape, n*item, size)
	}
	const chunk = 1 << 16
	buf := make([]byte, item*min(n, chunk))
	if item == 4 {
		a.F32 = make([]float32, n)
	} else {
		a.F64 = make([]float64, n)
	}
	for i := 0; i < n; i += chunk {
		k := min(chunk, n-i)
		b := buf[:k*item]
		if _, err := io.ReadFull(r, b); err != nil {
			return Array{}, fmt.Errorf("truncated data (shape %v): %w", a.Shape, err)
		}
		if item == 4 {
			for j := 0; j < k; j++ {
				a.F32[i+j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
			}
		} else {
			for j := 0; j < k; j++ {
				a.F64[i+j] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*j:]))
			}
		}
	}
	return a, nil
}
