package data

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Limits on what the readers accept. They are far above anything this
// program writes (a paper-size checkpoint is about 51 MB) and keep a damaged
// or hostile file from making the process allocate without bound.
const (
	// MaxConfigBytes bounds YAML config files and other small text files.
	MaxConfigBytes = 1 << 20
	// MaxCheckpointBytes bounds safetensors files.
	MaxCheckpointBytes = 16 << 30
	// MaxNPZBytes bounds .npz archives, and the decompressed size of all
	// their entries together.
	MaxNPZBytes = 16 << 30
	// MaxNPZEntries bounds the number of entries of an .npz archive.
	MaxNPZEntries = 10000
)

// OpenRegular opens path for reading after checking that it is a regular
// file (not a directory, device, FIFO or socket) of at most maxBytes bytes
// (0: no limit). The mode is checked before opening, so that opening a FIFO
// cannot block, and again on the open file, so that a file swapped in
// between is caught. what names the file's role in messages ("checkpoint",
// "config file").
func OpenRegular(path, what string, maxBytes int64) (*os.File, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", what, path, describeOpenErr(err))
	}
	if err := regularOK(path, what, st, maxBytes); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", what, path, describeOpenErr(err))
	}
	st2, err := f.Stat()
	if err == nil {
		err = regularOK(path, what, st2, maxBytes)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st2.Size(), nil
}

func regularOK(path, what string, st fs.FileInfo, maxBytes int64) error {
	m := st.Mode()
	switch {
	case m.IsDir():
		return fmt.Errorf("%s %s is a directory, not a file", what, path)
	case m&fs.ModeNamedPipe != 0:
		return fmt.Errorf("%s %s is a named pipe (FIFO), not a regular file", what, path)
	case m&fs.ModeSocket != 0:
		return fmt.Errorf("%s %s is a socket, not a regular file", what, path)
	case m&fs.ModeDevice != 0:
		return fmt.Errorf("%s %s is a device, not a regular file", what, path)
	case !m.IsRegular():
		return fmt.Errorf("%s %s is not a regular file", what, path)
	}
	if maxBytes > 0 && st.Size() > maxBytes {
		return fmt.Errorf("%s %s is %s, over the limit of %s", what, path, FormatBytes(float64(st.Size())), FormatBytes(float64(maxBytes)))
	}
	return nil
}

func describeOpenErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("no such file or directory")
	case errors.Is(err, fs.ErrPermission):
		return errors.New("permission denied")
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReadRegularFile reads a whole regular file of at most maxBytes bytes (see
// OpenRegular); what names the file's role in messages.
func ReadRegularFile(path, what string, maxBytes int64) ([]byte, error) {
	f, size, err := OpenRegular(path, what, maxBytes)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	limit := size
	if maxBytes > 0 {
		limit = maxBytes
	}
	// The file may grow between the stat and the read: read at most one
	// byte past the limit so that growth is noticed, never more.
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, describeOpenErr(err))
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s %s grew past the limit of %s while being read", what, path, FormatBytes(float64(limit)))
	}
	return b, nil
}

// FormatBytes renders a size for messages: "512 B", "1.5 MiB", "3.2 GiB".
func FormatBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	if n >= 1024 { // beyond EiB
		return fmt.Sprintf("%.3g %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

// QuoteForError quotes at most n bytes of s for an error message, so that a
// damaged file never turns into a huge or unreadable error line.
func QuoteForError(s string, n int) string {
	if len(s) <= n {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:n], len(s))
}

// tempMarker is in the name of every temporary file the atomic writers
// create: "." + final name + tempMarker + random digits.
const tempMarker = ".tmp-"

// ProcessStart is when this process started (near enough: when the package
// was initialised). Temporary files older than it belong to an earlier
// process that died before renaming them.
var ProcessStart = time.Now()

// IsTempName reports whether name is one of the atomic writers' temporary
// files.
func IsTempName(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempMarker)
}

// RemoveStaleTemps removes the atomic writers' temporary files in dir
// (not below it) last modified before the given time: they were left by a
// process killed in the middle of a write, and no reader ever sees them. It
// returns the names removed. A missing dir is not an error.
func RemoveStaleTemps(dir string, before time.Time) ([]string, error) {
	return removeStaleTemps(dir, before, IsTempName)
}

// RemoveStaleTempsOf removes the temporary files that the atomic writers
// left beside path when writing path itself (".NAME.tmp-*", NAME being
// path's base name) and that were last modified before the given time: a
// process killed while writing path left them. Other files' temporaries in
// the same directory are left alone. It returns the names removed.
func RemoveStaleTempsOf(path string, before time.Time) ([]string, error) {
	prefix := "." + filepath.Base(path) + tempMarker
	return removeStaleTemps(filepath.Dir(path), before, func(name string) bool { return strings.HasPrefix(name, prefix) })
}

// ReadDirIfExists is os.ReadDir, except that a missing dir is no error: it
// has no entries.
func ReadDirIfExists(dir string) ([]os.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return ents, err
}

// removeStaleTemps removes the regular files of dir whose names match and
// that were last modified before the given time, and returns their names.
// A missing dir is not an error.
func removeStaleTemps(dir string, before time.Time, match func(name string) bool) ([]string, error) {
	ents, err := ReadDirIfExists(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range ents {
		if !e.Type().IsRegular() || !match(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(before) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}
