package data

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/internal/testfs"
)

// Inputs a hostile user might hand the readers. Each must be refused with
// an error naming the file, without a panic and without allocating more
// than the file could hold.

func TestSafetensorsShapeOverflow(t *testing.T) {
	good := `"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`
	cases := []struct {
		name, header, want string
	}{
		{"2^62 with empty offsets", `{` + good + `,"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}`, "needs more bytes than any file holds"},
		{"2^32 x 2^32 wraps to 0", `{` + good + `,"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[4,4]}}`, "overflows"},
		{"product overflows int64", `{"x":{"dtype":"F64","shape":[3037000500,3037000500,2],"data_offsets":[0,0]}}`, "overflows"},
		{"2^61 F32 (width overflow)", `{"x":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,0]}}`, "needs more bytes"},
		{"negative offsets", `{"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, "outside"},
		{"end before begin", `{"x":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, "outside"},
		{"offset past file", `{"x":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775800,9223372036854775804]}}`, "outside"},
		{"dtype BF16", `{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, "dtype"},
		{"shape too large for JSON int", `{"x":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}}`, "header entry"},
	}
	for _, c := range cases {
		path := writeRaw(t, c.header, make([]byte, 4))
		_, err := ReadSafetensors(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and containing %q", c.name, err, path, c.want)
		}
	}
}

// The header-length error must not quote the eight bytes it read: for a
// file of another kind they are that file's contents.
func TestSafetensorsDoesNotEchoContents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(path, []byte("password=hunter2\n"), 0o644)
	_, err := ReadSafetensors(path)
	if err == nil {
		t.Fatal("read a text file as safetensors")
	}
	n := binary.LittleEndian.Uint64([]byte("password"))
	for _, leak := range []string{"password", "hunter2", fmtUint(n)} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q echoes the file's contents (%q)", err, leak)
		}
	}
}

func fmtUint(n uint64) string {
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestReadRegularFileRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.yaml")
	os.WriteFile(small, []byte("model: {}\n"), 0o644)
	big := filepath.Join(dir, "big.yaml")
	os.WriteFile(big, make([]byte, 2048), 0o644)
	cases := []struct {
		name, path, want string
	}{
		{"directory", dir, "is a directory"},
		{"device", "/dev/zero", "is a device"},
		{"too large", big, "over the limit"},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"fifo", testfs.FIFO(t, dir, "fifo"), "named pipe"},
	}
	for _, c := range cases {
		if _, err := os.Stat(c.path); err != nil && c.name != "missing" {
			continue // e.g. no /dev/zero
		}
		done := make(chan error, 1)
		go func() { _, err := ReadRegularFile(c.path, "config file", 1024); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), "config file") {
				t.Errorf("%s: error %v, want one naming the file and containing %q", c.name, err, c.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: ReadRegularFile hangs", c.name)
		}
	}
	b, err := ReadRegularFile(small, "config file", 1024)
	if err != nil || string(b) != "model: {}\n" {
		t.Errorf("regular file: %q, %v", b, err)
	}
	// The safetensors and npz readers use the same checks.
	for _, p := range []string{"/dev/zero", dir} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if _, err := ReadSafetensors(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("ReadSafetensors(%s): %v", p, err)
		}
		if _, err := ReadNPZ(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("ReadNPZ(%s): %v", p, err)
		}
	}
}

// zipEntry is one central-directory record of a hand-built archive.
type zipEntry struct {
	name         string
	method       uint16
	crc          uint32
	csize, usize uint32
	data         []byte // compressed bytes (nil: share the previous entry's local header)
}

// buildZip writes local headers and data for the entries with data, and a
// central directory with every entry; an entry without data points at the
// previous entry's local header, as overlapping zip bombs do.
func buildZip(entries []zipEntry) []byte {
	var buf bytes.Buffer
	le := func(v any) { binary.Write(&buf, binary.LittleEndian, v) }
	// The fields both headers have, from the flags to the name's length.
	fields := func(e zipEntry) {
		le(uint16(0)) // flags
		le(e.method)
		le(uint16(0))    // time
		le(uint16(0x21)) // date
		le(e.crc)
		le(e.csize)
		le(e.usize)
		le(uint16(len(e.name)))
	}
	offsets := make([]uint32, len(entries))
	for i, e := range entries {
		if e.data == nil && i > 0 {
			offsets[i] = offsets[i-1]
			continue
		}
		offsets[i] = uint32(buf.Len())
		le(uint32(0x04034b50))
		le(uint16(20))
		fields(e)
		le(uint16(0))
		buf.WriteString(e.name)
		buf.Write(e.data)
	}
	cdStart := buf.Len()
	for i, e := range entries {
		le(uint32(0x02014b50))
		le(uint16(20))
		le(uint16(20))
		fields(e)
		le(uint16(0))
		le(uint16(0))
		le(uint16(0))
		le(uint16(0))
		le(uint32(0))
		le(offsets[i])
		buf.WriteString(e.name)
	}
	cdLen := buf.Len() - cdStart
	le(uint32(0x06054b50))
	le(uint16(0))
	le(uint16(0))
	le(uint16(len(entries)))
	le(uint16(len(entries)))
	le(uint32(cdLen))
	le(uint32(cdStart))
	le(uint16(0))
	return buf.Bytes()
}

// npyBytes is a .npy header for shape (as Python text) and dtype.
func npyBytes(descr, shape string) []byte {
	dict := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }"
	for (10+len(dict)+1)%64 != 0 {
		dict += " "
	}
	dict += "\n"
	b := append([]byte(npyMagic), 1, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dict)))
	return append(b, dict...)
}

func deflated(t *testing.T, raw []byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "x", Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw)
	zw.Close()
	// Pull the compressed bytes back out.
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.File[0].OpenRaw()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.ReadFrom(rc)
	return out.Bytes()
}

// hostileNPZs are the archives of the report: small files whose headers
// claim (or whose overlapping entries decompress to) gigabytes.
func hostileNPZs(t *testing.T) map[string][]byte {
	hdr := npyBytes("<f4", "(34359738368,)") // 2^35 floats = 128 GiB
	body := deflated(t, hdr)
	crc := crc32.ChecksumIEEE(hdr)
	out := map[string][]byte{
		// The zip claims a huge uncompressed size; the npy header a huge shape.
		"declared size": buildZip([]zipEntry{{name: "velocities.npy", method: zip.Deflate, crc: crc, csize: uint32(len(body)), usize: 0xFFFFFFF0, data: body}}),
		// A stored entry claiming more than it occupies.
		"stored mismatch": buildZip([]zipEntry{{name: "velocities.npy", method: zip.Store, crc: crc, csize: uint32(len(hdr)), usize: 1 << 31, data: hdr}}),
		// An honest size but a shape beyond it.
		"shape beyond entry": buildZip([]zipEntry{{name: "velocities.npy", method: zip.Store, crc: crc, csize: uint32(len(hdr)), usize: uint32(len(hdr)), data: hdr}}),
		// Shape whose product overflows.
		"shape overflow": func() []byte {
			h := npyBytes("<f4", "(4294967296, 4294967296, 4)")
			return buildZip([]zipEntry{{name: "v.npy", method: zip.Store, crc: crc32.ChecksumIEEE(h), csize: uint32(len(h)), usize: uint32(len(h)), data: h}})
		}(),
	}
	// Overlapping entries: one deflate stream of 1 MiB of zeros behind an npy
	// header, referenced by 200 central-directory records.
	payload := append(npyBytes("<f4", "(262144,)"), make([]byte, 1<<20)...)
	comp := deflated(t, payload)
	ents := []zipEntry{{name: "a0.npy", method: zip.Deflate, crc: crc32.ChecksumIEEE(payload), csize: uint32(len(comp)), usize: uint32(len(payload)), data: comp}}
	for i := 1; i < 200; i++ {
		e := ents[0]
		e.name, e.data = "a"+fmtUint(uint64(i))+".npy", nil
		ents = append(ents, e)
	}
	out["overlapping entries"] = buildZip(ents)
	return out
}

func TestNPZHostileArchives(t *testing.T) {
	dir := t.TempDir()
	want := map[string]string{
		"declared size":       "more than its",
		"stored mismatch":     "stored entry declares",
		"shape beyond entry":  "truncated",
		"shape overflow":      "overflows",
		"overlapping entries": "share compressed data",
	}
	for name, raw := range hostileNPZs(t) {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".npz")
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := ReadNPZ(path)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), want[name]) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s (%d bytes): error %v, want one naming the file and containing %q", name, len(raw), err, want[name])
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("%s (%d bytes): reading allocated %d MiB", name, len(raw), grew>>20)
		}
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, ".step-00000002.safetensors.tmp-123")
	fresh := filepath.Join(dir, ".latest.tmp-456")
	keep := filepath.Join(dir, "step-00000002.safetensors")
	for _, p := range []string{old, fresh, keep} {
		os.WriteFile(p, []byte("x"), 0o600)
	}
	past := time.Now().Add(-time.Hour)
	os.Chtimes(old, past, past)
	os.Chtimes(keep, past, past)
	removed, err := RemoveStaleTemps(dir, time.Now().Add(-time.Minute))
	if err != nil || len(removed) != 1 || removed[0] != filepath.Base(old) {
		t.Errorf("removed %v, %v; want only %s", removed, err, filepath.Base(old))
	}
	for p, want := range map[string]bool{old: false, fresh: true, keep: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", p, err == nil, want)
		}
	}
	if r, err := RemoveStaleTemps(filepath.Join(dir, "missing"), time.Now()); err != nil || r != nil {
		t.Errorf("missing dir: %v %v", r, err)
	}
}

// The atomic writers name their temporaries so that RemoveStaleTemps finds
// them, and refuse to write over a directory.
func TestAtomicWritersTempNamesAndDirectories(t *testing.T) {
	for _, name := range []string{".x.safetensors.tmp-1234", ".b.npz.tmp-99", ".latest.tmp-1"} {
		if !IsTempName(name) {
			t.Errorf("IsTempName(%q) = false", name)
		}
	}
	for _, name := range []string{"step-1.safetensors", "latest", "tmp-1", ".hidden"} {
		if IsTempName(name) {
			t.Errorf("IsTempName(%q) = true", name)
		}
	}
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	if err := WriteNPZ(sub, testArrays()); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("WriteNPZ over a directory: %v", err)
	}
	if err := WriteSafetensors(sub, nil, nil); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("WriteSafetensors over a directory: %v", err)
	}
}

func TestSamplerRefusesAbsurdSpeeds(t *testing.T) {
	for _, v := range []float64{1e300, math.Inf(1), math.NaN(), 0, -1} {
		if _, err := NewSampler(1, 2, 3, AugmentPermute, v); err == nil || !strings.Contains(err.Error(), "max speed") {
			t.Errorf("max speed %g: %v", v, err)
		}
	}
	if _, err := NewSampler(1, 2, 3, AugmentPermute, MaxSpeedLimit); err != nil {
		t.Errorf("max speed %g: %v", MaxSpeedLimit, err)
	}
}
