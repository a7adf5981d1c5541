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
	"sort"
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
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("npz %s is a directory; name a file to write", path)
	}
	tmp, err := os.CreateTemp(dir, "."+base+tempMarker+"*")
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
	if a.F64 != nil {
		return writeFloatsLE(w, a.F64)
	}
	return writeFloatsLE(w, a.F32)
}

// maxDeflateRatio bounds how many bytes deflate can produce per compressed
// byte (the format's limit is about 1032:1).
const maxDeflateRatio = 1032

// ReadNPZ reads every array of a NumPy .npz archive (stored or deflated
// entries, as numpy.savez and numpy.savez_compressed write them), keyed by
// name without the ".npy" suffix. Floating-point, integer and boolean
// arrays of either byte order, in C or Fortran order, are read: float32,
// float16 and integers and booleans of at most 16 bits become F32, float64
// and wider integers F64 (exact below 2^53), and a Fortran-ordered array is
// transposed into C order. Other dtypes (complex, strings, records,
// objects), and any damage to the file, are errors naming the file and the
// array.
//
// Nothing the archive declares is trusted for allocation: entries are
// decompressed as streams, each capped by what its compressed bytes can
// hold, entries may not share data (the trick of zip bombs), the total is
// capped by MaxNPZBytes, and arrays grow with the data actually read.
func ReadNPZ(path string) (map[string]Array, error) {
	fh, size, err := OpenRegular(path, "npz", MaxNPZBytes)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return readNPZ(fh, size, path)
}

func readNPZ(r io.ReaderAt, size int64, path string) (map[string]Array, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("npz %s: not a readable .npz (zip) archive: %w", path, err)
	}
	if len(zr.File) > MaxNPZEntries {
		return nil, fmt.Errorf("npz %s: %d entries, more than the %d this reader accepts", path, len(zr.File), MaxNPZEntries)
	}
	type region struct {
		name       string
		begin, end int64
	}
	regions := make([]region, 0, len(zr.File))
	for _, f := range zr.File {
		off, err := f.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("npz %s: entry %s: %w", path, QuoteForError(f.Name, 64), err)
		}
		if f.CompressedSize64 > uint64(size) || off < 0 || uint64(off) > uint64(size)-f.CompressedSize64 {
			return nil, fmt.Errorf("npz %s: entry %s claims %d compressed bytes beyond the end of the %d-byte file (truncated?)", path, QuoteForError(f.Name, 64), f.CompressedSize64, size)
		}
		regions = append(regions, region{f.Name, off, off + int64(f.CompressedSize64)})
	}
	sort.Slice(regions, func(i, j int) bool { return regions[i].begin < regions[j].begin })
	for i := 1; i < len(regions); i++ {
		if regions[i].begin < regions[i-1].end {
			return nil, fmt.Errorf("npz %s: entries %s and %s share compressed data (a damaged or malicious archive)", path, QuoteForError(regions[i-1].name, 64), QuoteForError(regions[i].name, 64))
		}
	}
	budget := uint64(MaxNPZBytes)
	out := make(map[string]Array, len(zr.File))
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue // directory entry
		}
		name := strings.TrimSuffix(f.Name, ".npy")
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("npz %s: array %s appears twice", path, QuoteForError(name, 64))
		}
		a, n, err := readEntry(f, name, budget)
		if err != nil {
			return nil, fmt.Errorf("npz %s: array %s: %w", path, QuoteForError(name, 64), err)
		}
		budget -= n
		out[name] = a
	}
	return out, nil
}

// readEntry reads one entry of at most budget decompressed bytes and
// returns its array and its size.
func readEntry(f *zip.File, name string, budget uint64) (Array, uint64, error) {
	limit := f.UncompressedSize64
	switch f.Method {
	case zip.Store:
		if f.UncompressedSize64 != f.CompressedSize64 {
			return Array{}, 0, fmt.Errorf("stored entry declares %d bytes but occupies %d", f.UncompressedSize64, f.CompressedSize64)
		}
	case zip.Deflate:
		if most := f.CompressedSize64*maxDeflateRatio + 1024; limit > most {
			return Array{}, 0, fmt.Errorf("entry declares %d bytes uncompressed, more than its %d compressed bytes can hold", f.UncompressedSize64, f.CompressedSize64)
		}
	default:
		return Array{}, 0, fmt.Errorf("compression method %d is not supported (only stored and deflated entries)", f.Method)
	}
	if limit > budget {
		return Array{}, 0, fmt.Errorf("the archive decompresses to more than %s in all, over this reader's limit", FormatBytes(float64(MaxNPZBytes)))
	}
	rc, err := f.Open()
	if err != nil {
		return Array{}, 0, err
	}
	defer rc.Close()
	// archive/zip itself refuses entries longer or shorter than declared;
	// the cap is a second line of defence.
	lr := io.LimitReader(rc, int64(limit)+1)
	a, err := readNPY(lr, name, limit)
	if err != nil {
		return Array{}, 0, err
	}
	// Reading to the end makes archive/zip verify the entry's CRC-32.
	var one [1]byte
	n, err := io.ReadFull(lr, one[:])
	if n > 0 {
		return Array{}, 0, errors.New("trailing bytes after the array data")
	}
	if err != io.EOF {
		return Array{}, 0, fmt.Errorf("corrupt entry: %w", err)
	}
	return a, limit, nil
}

// maxNPYHeader bounds the .npy header dict (numpy itself refuses headers
// over 10000 bytes unless told otherwise).
const maxNPYHeader = 1 << 20

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
	if hlen > maxNPYHeader {
		return Array{}, fmt.Errorf("corrupt .npy header: length %d is implausible (over %d)", hlen, maxNPYHeader)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return Array{}, fmt.Errorf("truncated .npy header: %w", err)
	}
	h := string(hdr)
	m := reDescr.FindStringSubmatch(h)
	if m == nil {
		return Array{}, errors.New("corrupt .npy header (no descr key)")
	}
	descr := m[1]
	dt, ok := parseDescr(descr)
	if !ok {
		return Array{}, fmt.Errorf("dtype %s is not supported; save a floating-point, integer or boolean array (numpy's f2, f4, f8, i1 to i8, u1 to u8, b1)", QuoteForError(descr, 16))
	}
	item := dt.size
	mf := reFortran.FindStringSubmatch(h)
	if mf == nil {
		return Array{}, errors.New("corrupt .npy header (no fortran_order key)")
	}
	m2 := reShape.FindStringSubmatch(h)
	if m2 == nil {
		return Array{}, errors.New("corrupt .npy header (no shape key)")
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
			return Array{}, fmt.Errorf("corrupt .npy header (bad shape %s)", QuoteForError(m2[1], 64))
		}
		a.Shape = append(a.Shape, d)
	}
	n := a.Len()
	if n < 0 {
		return Array{}, fmt.Errorf("corrupt .npy header (shape %v overflows)", a.Shape)
	}
	// Fortran order is only a different layout with two or more
	// dimensions; the data is then transposed after reading.
	fortran := mf[1] == "True" && len(a.Shape) > 1
	if n > 0 && uint64(n) > size/uint64(item) {
		return Array{}, fmt.Errorf("truncated: shape %v needs %.0f bytes of data, entry has %d bytes in all", a.Shape, float64(n)*float64(item), size)
	}
	// The arrays grow with the data actually read (the first chunk is
	// allocated at once), so a header that lies about the size costs no
	// more memory than the data that is really there.
	const chunk = 1 << 16
	buf := make([]byte, item*min(n, chunk))
	wide := dt.wide()
	if !wide {
		a.F32 = make([]float32, 0, min(n, chunk))
	} else {
		a.F64 = make([]float64, 0, min(n, chunk))
	}
	for i := 0; i < n; i += chunk {
		k := min(chunk, n-i)
		b := buf[:k*item]
		if _, err := io.ReadFull(r, b); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Array{}, fmt.Errorf("truncated data (shape %v needs %d bytes, the entry ends after %d): %w", a.Shape, n*item, i*item, err)
		}
		switch {
		case dt == npyF4:
			for j := 0; j < k; j++ {
				a.F32 = append(a.F32, math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:])))
			}
		case dt == npyF8:
			for j := 0; j < k; j++ {
				a.F64 = append(a.F64, math.Float64frombits(binary.LittleEndian.Uint64(b[8*j:])))
			}
		case wide:
			for j := 0; j < k; j++ {
				a.F64 = append(a.F64, dt.decode(b[item*j:]))
			}
		default:
			for j := 0; j < k; j++ {
				a.F32 = append(a.F32, float32(dt.decode(b[item*j:])))
			}
		}
	}
	if n == 0 {
		// Empty arrays are non-nil, as callers tell F32 from F64 by nil.
		if !wide {
			a.F32 = []float32{}
		} else {
			a.F64 = []float64{}
		}
	}
	if fortran {
		if a.F32 != nil {
			a.F32 = fortranToC(a.F32, a.Shape)
		} else {
			a.F64 = fortranToC(a.F64, a.Shape)
		}
	}
	return a, nil
}

// npyDType is a .npy element type: kind 'f' (float), 'i' (signed), 'u'
// (unsigned) or 'b' (bool), its size in bytes and byte order.
type npyDType struct {
	kind byte
	size int
	big  bool
}

var (
	npyF4 = npyDType{kind: 'f', size: 4}
	npyF8 = npyDType{kind: 'f', size: 8}
)

// nativeBig is whether this machine is big-endian ('=' in a descr).
var nativeBig = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// parseDescr parses a simple dtype string such as "<f4", ">i8", "|u1",
// "|b1" or "<f2".
func parseDescr(d string) (npyDType, bool) {
	if len(d) < 2 {
		return npyDType{}, false
	}
	var dt npyDType
	switch d[0] {
	case '<', '|':
		d = d[1:]
	case '>':
		dt.big, d = true, d[1:]
	case '=':
		dt.big, d = nativeBig, d[1:]
	}
	if len(d) != 2 {
		return npyDType{}, false
	}
	dt.kind = d[0]
	dt.size = int(d[1] - '0')
	switch {
	case dt.kind == 'f' && (dt.size == 2 || dt.size == 4 || dt.size == 8):
	case (dt.kind == 'i' || dt.kind == 'u') && (dt.size == 1 || dt.size == 2 || dt.size == 4 || dt.size == 8):
	case dt.kind == 'b' && dt.size == 1:
	default:
		return npyDType{}, false
	}
	if dt.size == 1 {
		dt.big = false
	}
	return dt, true
}

// wide reports whether values of dt need float64 (F64) to be held exactly.
func (dt npyDType) wide() bool {
	return dt.kind == 'f' && dt.size == 8 || (dt.kind == 'i' || dt.kind == 'u') && dt.size >= 4
}

// decode returns the value of the element starting at b[0].
func (dt npyDType) decode(b []byte) float64 {
	var bits uint64
	var order binary.ByteOrder = binary.LittleEndian
	if dt.big {
		order = binary.BigEndian
	}
	switch dt.size {
	case 1:
		bits = uint64(b[0])
	case 2:
		bits = uint64(order.Uint16(b))
	case 4:
		bits = uint64(order.Uint32(b))
	case 8:
		bits = order.Uint64(b)
	}
	switch dt.kind {
	case 'f':
		switch dt.size {
		case 2:
			return float64(halfToFloat32(uint16(bits)))
		case 4:
			return float64(math.Float32frombits(uint32(bits)))
		}
		return math.Float64frombits(bits)
	case 'i':
		shift := 64 - 8*uint(dt.size)
		return float64(int64(bits<<shift) >> shift)
	case 'b':
		if bits != 0 {
			return 1
		}
		return 0
	}
	return float64(bits)
}

// halfToFloat32 converts an IEEE 754 binary16 value exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: frac * 2^-24
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// fortranToC reorders values stored in Fortran (column-major) order for
// shape into C (row-major) order.
func fortranToC[T float32 | float64](v []T, shape []int) []T {
	out := make([]T, len(v))
	k := len(shape)
	stride := make([]int, k) // Fortran strides
	s := 1
	for i := 0; i < k; i++ {
		stride[i] = s
		s *= shape[i]
	}
	idx := make([]int, k)
	off := 0
	for c := range out {
		out[c] = v[off]
		// Advance the C-order odometer, last index fastest.
		for d := k - 1; d >= 0; d-- {
			idx[d]++
			off += stride[d]
			if idx[d] < shape[d] {
				break
			}
			off -= idx[d] * stride[d]
			idx[d] = 0
		}
	}
	return out
}
