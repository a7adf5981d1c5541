package data

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"strconv"
)

// The PyTorch file format that torch.save has written since 1.6 (and
// torch.load reads in every later release): a zip archive, entries stored
// uncompressed with their data aligned to 64 bytes, under one top-level
// folder ("archive/" here):
//
//	archive/data.pkl    the object, pickled (protocol 2); each tensor's
//	                    storage is a persistent id naming a data/ entry
//	archive/byteorder   "little"
//	archive/data/<key>  one storage, raw little-endian values
//	archive/version     "3\n"
//
// WriteTorch writes exactly what torch.save(OrderedDict of float32 tensors)
// writes, so that a stock PyTorch (Debian 12's python3-torch 1.13 included)
// reads it with torch.load, weights_only=True or not, and nothing else
// installed.

// torchAlign is the alignment torch.save gives each entry's data.
const torchAlign = 64

// WriteTorch writes the tensors, in order, to path as a PyTorch state dict
// (an OrderedDict mapping each name to a contiguous float32 CPU tensor).
// The file appears atomically, as WriteSafetensors' do.
func WriteTorch(path string, tensors []Tensor) error {
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		n := Array{Shape: t.Shape}.Len()
		if n < 0 || n != len(t.F32) {
			return fmt.Errorf("torch %s: tensor %q has %d values, shape %v", path, t.Name, len(t.F32), t.Shape)
		}
		if seen[t.Name] {
			return fmt.Errorf("torch %s: tensor name %q appears twice", path, t.Name)
		}
		seen[t.Name] = true
	}
	return atomicReplace(path, func(w io.Writer) error { return writeTorch(w, tensors) })
}

// countWriter counts the bytes that reach the underlying writer.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func writeTorch(w io.Writer, tensors []Tensor) error {
	cw := &countWriter{w: w}
	zw := zip.NewWriter(cw)
	add := func(name string, body []byte) error {
		// The zip writer buffers; flush so that cw.n is the offset at
		// which this entry's local header starts.
		if err := zw.Flush(); err != nil {
			return err
		}
		name = "archive/" + name
		// Local header: 30 bytes, the name, then an extra field padding
		// the data to torchAlign, as torch does: id "FB", length,
		// filler.
		start := cw.n + 30 + int64(len(name)) + 4
		pad := int((torchAlign - start%torchAlign) % torchAlign)
		extra := make([]byte, 4+pad)
		binary.LittleEndian.PutUint16(extra[0:], 0x4246) // "FB"
		binary.LittleEndian.PutUint16(extra[2:], uint16(pad))
		for i := 4; i < len(extra); i++ {
			extra[i] = 'Z'
		}
		fh := &zip.FileHeader{
			Name:               name,
			Method:             zip.Store,
			CRC32:              crc32.ChecksumIEEE(body),
			CompressedSize64:   uint64(len(body)),
			UncompressedSize64: uint64(len(body)),
			Extra:              extra,
			ModifiedDate:       1<<5 | 1, // 1980-01-01, the zip epoch, so files are reproducible
		}
		f, err := zw.CreateRaw(fh)
		if err != nil {
			return err
		}
		_, err = f.Write(body)
		return err
	}
	if err := add("data.pkl", torchPickle(tensors)); err != nil {
		return err
	}
	if err := add("byteorder", []byte("little")); err != nil {
		return err
	}
	for i, t := range tensors {
		raw := make([]byte, 4*len(t.F32))
		for j, v := range t.F32 {
			binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(v))
		}
		if err := add("data/"+strconv.Itoa(i), raw); err != nil {
			return err
		}
	}
	if err := add("version", []byte("3\n")); err != nil {
		return err
	}
	return zw.Close()
}

// Pickle opcodes (protocol 2), the few this file needs.
const (
	pkProto      = 0x80
	pkGlobal     = 'c'
	pkEmptyTuple = ')'
	pkReduce     = 'R'
	pkMark       = '('
	pkTuple      = 't'
	pkTuple1     = 0x85
	pkTuple2     = 0x86
	pkTuple3     = 0x87
	pkBinUnicode = 'X'
	pkBinInt1    = 'K'
	pkBinInt2    = 'M'
	pkBinInt     = 'J'
	pkLong1      = 0x8a
	pkBinPersID  = 'Q'
	pkNewFalse   = 0x89
	pkSetItems   = 'u'
	pkStop       = '.'
)

// pickler writes the pickle opcodes for the values it is given.
type pickler struct{ b bytes.Buffer }

func (p *pickler) op(c byte) { p.b.WriteByte(c) }

func (p *pickler) global(module, name string) {
	p.op(pkGlobal)
	p.b.WriteString(module + "\n" + name + "\n")
}

func (p *pickler) str(s string) {
	p.op(pkBinUnicode)
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	p.b.Write(n[:])
	p.b.WriteString(s)
}

func (p *pickler) int(v int64) {
	switch {
	case v >= 0 && v < 1<<8:
		p.op(pkBinInt1)
		p.b.WriteByte(byte(v))
	case v >= 0 && v < 1<<16:
		p.op(pkBinInt2)
		p.b.WriteByte(byte(v))
		p.b.WriteByte(byte(v >> 8))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		p.op(pkBinInt)
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(int32(v)))
		p.b.Write(n[:])
	default:
		// LONG1: length, then little-endian two's complement; 8 bytes
		// hold any int64.
		p.op(pkLong1)
		p.b.WriteByte(8)
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(v))
		p.b.Write(n[:])
	}
}

// intTuple pushes a tuple of ints, with the short forms pickle's own
// protocol 2 writer uses for up to three items.
func (p *pickler) intTuple(vs []int64) {
	if len(vs) == 0 {
		p.op(pkEmptyTuple)
		return
	}
	if len(vs) > 3 {
		p.op(pkMark)
	}
	for _, v := range vs {
		p.int(v)
	}
	switch len(vs) {
	case 1:
		p.op(pkTuple1)
	case 2:
		p.op(pkTuple2)
	case 3:
		p.op(pkTuple3)
	default:
		p.op(pkTuple)
	}
}

// emptyOrderedDict pushes collections.OrderedDict().
func (p *pickler) emptyOrderedDict() {
	p.global("collections", "OrderedDict")
	p.op(pkEmptyTuple)
	p.op(pkReduce)
}

// torchPickle returns data.pkl for the state dict: tensor i is
//
//	torch._utils._rebuild_tensor_v2(
//	    persistent_id(("storage", torch.FloatStorage, "<i>", "cpu", numel)),
//	    0, shape, contiguous strides, False, OrderedDict())
func torchPickle(tensors []Tensor) []byte {
	var p pickler
	p.op(pkProto)
	p.b.WriteByte(2)
	p.emptyOrderedDict()
	if len(tensors) > 0 {
		p.op(pkMark)
		for i, t := range tensors {
			p.str(t.Name)
			p.global("torch._utils", "_rebuild_tensor_v2")
			p.op(pkMark) // arguments
			p.op(pkMark) // persistent id
			p.str("storage")
			p.global("torch", "FloatStorage")
			p.str(strconv.Itoa(i))
			p.str("cpu")
			p.int(int64(len(t.F32)))
			p.op(pkTuple)
			p.op(pkBinPersID)
			p.int(0) // storage offset
			size := make([]int64, len(t.Shape))
			stride := make([]int64, len(t.Shape))
			s := int64(1)
			for d := len(t.Shape) - 1; d >= 0; d-- {
				size[d], stride[d] = int64(t.Shape[d]), s
				s *= int64(t.Shape[d])
			}
			p.intTuple(size)
			p.intTuple(stride)
			p.op(pkNewFalse) // requires_grad
			p.emptyOrderedDict()
			p.op(pkTuple)
			p.op(pkReduce)
		}
		p.op(pkSetItems)
	}
	p.op(pkStop)
	return p.b.Bytes()
}
