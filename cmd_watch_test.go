package main

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestWatchBadArguments: a path that is no run or sweep, and a port in use,
// are one-line errors that name the problem.
func TestWatchBadArguments(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"watch"}, exitUsage, "needs one or more RUN or SWEEP"},
		{[]string{"watch", dir + "/nope"}, exitUsage, "nope does not exist"},
		{[]string{"watch", dir}, exitUsage, "is neither a run directory"},
		{[]string{"watch", "--port", "70000", "watch/testdata/smoke"}, exitUsage, "--port 70000"},
		{[]string{"watch", "--port", port, "watch/testdata/smoke"}, exitError, "the port is in use"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"gridgpu"}, c.args...), &stdout, &stderr)
		msg := stderr.String()
		if code != c.code || !strings.Contains(msg, c.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("%q: status %d, stderr %q; want %d and one line with %q", c.args, code, msg, c.code, c.want)
		}
	}
}
