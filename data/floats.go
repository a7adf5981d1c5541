package data

import (
	"encoding/binary"
	"io"
	"math"
)

// writeFloatsLE writes vals to w as little-endian IEEE floats, the byte
// order of both file formats, in chunks: one buffer the size of a large
// array would double peak memory for nothing.
func writeFloatsLE[T float32 | float64](w io.Writer, vals []T) error {
	const chunk = 1 << 13 // values per write: 64 KiB of float64
	buf := make([]byte, 0, 8*chunk)
	for i := 0; i < len(vals); i += chunk {
		buf = buf[:0]
		for _, v := range vals[i:min(i+chunk, len(vals))] {
			buf = appendFloatLE(buf, v)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// appendFloatLE appends v's 4 or 8 bytes, little-endian.
func appendFloatLE[T float32 | float64](buf []byte, v T) []byte {
	if f, ok := any(v).(float32); ok {
		return binary.LittleEndian.AppendUint32(buf, math.Float32bits(f))
	}
	return binary.LittleEndian.AppendUint64(buf, math.Float64bits(float64(v)))
}
