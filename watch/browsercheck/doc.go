// Package browsercheck holds no code: its test loads the pages of 'gridgpu
// watch' (package watch) in a real headless Chromium, Debian's chromium
// package, installed when missing and the test runs as root. It is a
// package of its own so that the browser's seconds have a test binary, and
// a timeout, of their own.
package browsercheck
