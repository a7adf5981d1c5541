package train

import (
	"strings"
	"testing"
)

// TestParseDevice: the accepted device strings, their Device and canonical
// form, which reads back.
func TestParseDevice(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Device
		str  string
	}{
		{"cpu", Device{Kind: DeviceCPU}, "cpu"},
		{"cuda", Device{Kind: DeviceCUDA}, "cuda:0"},
		{"cuda:0", Device{Kind: DeviceCUDA}, "cuda:0"},
		{"cuda:3", Device{Kind: DeviceCUDA, Index: 3}, "cuda:3"},
		{"cuda:12", Device{Kind: DeviceCUDA, Index: 12}, "cuda:12"},
		{"cuda:007", Device{Kind: DeviceCUDA, Index: 7}, "cuda:7"},
	} {
		d, err := ParseDevice(c.in)
		if err != nil || d != c.want {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v", c.in, d, err, c.want)
			continue
		}
		if d.String() != c.str {
			t.Errorf("ParseDevice(%q).String() = %q, want %q", c.in, d.String(), c.str)
		}
		if d.IsCPU() != (c.want.Kind == DeviceCPU) || d.IsCUDA() != (c.want.Kind == DeviceCUDA) {
			t.Errorf("ParseDevice(%q): IsCPU %v, IsCUDA %v", c.in, d.IsCPU(), d.IsCUDA())
		}
		if again, err := ParseDevice(d.String()); err != nil || again != d {
			t.Errorf("ParseDevice(%q) = %+v, %v: String does not read back", d.String(), again, err)
		}
	}
}

// TestParseDeviceErrors: anything else is refused in one line naming the
// value and the accepted forms.
func TestParseDeviceErrors(t *testing.T) {
	const notDevice = "not a device; give cpu, cuda or cuda:N (N a GPU index: 0, 1, ...)"
	const notIndex = "N in cuda:N must be a GPU index (0, 1, ...)"
	for _, c := range []struct{ in, want string }{
		{"", notDevice},
		{"gpu", notDevice},
		{"tpu", notDevice},
		{"auto", notDevice},
		{"CPU", notDevice},
		{"Cuda:0", notDevice},
		{" cpu", notDevice},
		{"cpu ", notDevice},
		{"cpu:0", notDevice},
		{"cpux", notDevice},
		{"cudax", notDevice},
		{"gpu:0", notDevice},
		{"cuda:", notIndex},
		{"cuda:-1", notIndex},
		{"cuda:+1", notIndex},
		{"cuda:x", notIndex},
		{"cuda:1.5", notIndex},
		{"cuda:0:1", notIndex},
		{"cuda: 1", notIndex},
		{"cuda:99999999999999999999", notIndex},
	} {
		d, err := ParseDevice(c.in)
		if err == nil {
			t.Errorf("ParseDevice(%q) = %+v, want an error", c.in, d)
			continue
		}
		msg := err.Error()
		if want := `device "` + c.in + `": ` + c.want; msg != want {
			t.Errorf("ParseDevice(%q): %q, want %q", c.in, msg, want)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("ParseDevice(%q): %q is more than one line", c.in, msg)
		}
		if d != (Device{}) {
			t.Errorf("ParseDevice(%q) = %+v with its error, want the zero Device", c.in, d)
		}
	}
}

func TestMustParseDevice(t *testing.T) {
	if d := MustParseDevice("cuda:1"); d != (Device{Kind: DeviceCUDA, Index: 1}) {
		t.Errorf("MustParseDevice(cuda:1) = %+v", d)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustParseDevice(gpu) did not panic")
		}
	}()
	MustParseDevice("gpu")
}
