package train

import (
	"fmt"
	"strconv"
	"strings"
)

// The kinds of device (Device.Kind), which are also the names of their
// backends (RegisterBackend).
const (
	DeviceCPU  = "cpu"  // the CPU engine, on all cores of the machine
	DeviceCUDA = "cuda" // an NVIDIA GPU, by its index
)

// DeviceForms names the accepted forms of a device string, for messages.
const DeviceForms = "cpu, cuda or cuda:N (N a GPU index: 0, 1, ...)"

// Device is a device string parsed: run.device, the --device flag of train
// and bench, an entry of sweep's --devices. Those stay strings in files and
// on command lines; ParseDevice reads them where they are validated, and
// the rest of the program asks the Device (IsCPU, IsCUDA, Index) rather
// than testing prefixes.
type Device struct {
	Kind  string // DeviceCPU or DeviceCUDA
	Index int    // the GPU index of a CUDA device ("cuda" is cuda:0); 0 for the CPU
}

// ParseDevice reads "cpu", "cuda" (GPU 0) or "cuda:N" (N a decimal GPU
// index). Anything else, spaces and capitals included, is an error of one
// line naming the value and the accepted forms.
func ParseDevice(s string) (Device, error) {
	kind, idx, has := strings.Cut(s, ":")
	switch {
	case kind == DeviceCPU && !has:
		return Device{Kind: DeviceCPU}, nil
	case kind == DeviceCUDA && !has:
		return Device{Kind: DeviceCUDA}, nil
	case kind == DeviceCUDA:
		n, err := strconv.Atoi(idx)
		if err != nil || strings.TrimLeft(idx, "0123456789") != "" {
			return Device{}, fmt.Errorf("device %q: N in cuda:N must be a GPU index (0, 1, ...)", s)
		}
		return Device{Kind: DeviceCUDA, Index: n}, nil
	}
	return Device{}, fmt.Errorf("device %q: not a device; give %s", s, DeviceForms)
}

// MustParseDevice is ParseDevice for strings known to be valid; it panics
// on others.
func MustParseDevice(s string) Device {
	d, err := ParseDevice(s)
	if err != nil {
		panic(err)
	}
	return d
}

// IsCPU reports whether d is the CPU.
func (d Device) IsCPU() bool { return d.Kind == DeviceCPU }

// IsCUDA reports whether d is a CUDA GPU.
func (d Device) IsCUDA() bool { return d.Kind == DeviceCUDA }

// String is the canonical form, "cpu" or "cuda:N" ("cuda" reads as
// cuda:0), which ParseDevice reads back; the zero Device, which ParseDevice
// never returns, is "".
func (d Device) String() string {
	if d.Kind == DeviceCUDA {
		return DeviceCUDA + ":" + strconv.Itoa(d.Index)
	}
	return d.Kind
}
