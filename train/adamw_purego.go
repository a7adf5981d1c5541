//go:build !cgo || purego

package train

// adamwChunk updates one range: in the build without C, adamwGo itself.
func adamwChunk(p, g, m, v []float32, a *adamwArgs) { adamwGo(p, g, m, v, a) }
