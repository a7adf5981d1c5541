// Package driverprobe checks, before gorgonia.org/cu is initialised, that an
// NVIDIA driver and GPU are usable, and otherwise exits with one clear line.
//
// gorgonia.org/cu calls cuInit from its package init and on failure prints a
// link and exits. Go initialises packages in import-path order among those
// whose own imports are done, and this package imports only what cu itself
// imports, so "github.com/gridgpu/..." is initialised before "gorgonia.org/cu".
// It loads libcuda.so.1 with dlopen and calls cuInit and cuDeviceGetCount.
// Built only with the `gridgpu_cuda` build tag.
package driverprobe
