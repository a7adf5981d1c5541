package rundir

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gridgpu/gridgpu/data"
)

// Pointer files (LatestFile, BestFile) sit beside the checkpoints and hold
// a checkpoint's file name on their first line. The best pointer holds the
// metrics key and its value at that checkpoint on the second ("loss
// 0.0123"), so that a resumed run continues with the same best. Both are
// written atomically: a reader sees the old pointer or the new one.

// MaxPointerBytes bounds a pointer file, which holds one name (and a key
// and a value).
const MaxPointerBytes = 4096

// ReadPointer reads a pointer file: the checkpoint's file name on its
// first line, and the rest. The name must be a plain name in the pointer's
// directory; the pointer must be a regular file of at most MaxPointerBytes.
func ReadPointer(ptr string) (name, rest string, err error) {
	b, err := data.ReadRegularFile(ptr, "pointer file", MaxPointerBytes)
	if err != nil {
		return "", "", err
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	name = strings.TrimSpace(first)
	if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
		return "", "", fmt.Errorf("pointer file %s does not name a checkpoint (it holds %s)", ptr, data.QuoteForError(name, 64))
	}
	return name, rest, nil
}

// WriteLatest points dir's latest pointer (dir a checkpoints/ folder) at
// the checkpoint file name.
func WriteLatest(dir, name string) error {
	return data.WriteFileAtomic(filepath.Join(dir, LatestFile), []byte(name+"\n"))
}

// Latest is the checkpoint dir's latest pointer names (dir a checkpoints/
// folder): its file name, which must be a CheckpointName of a file that
// exists, and its step.
func Latest(dir string) (name string, step int64, err error) {
	ptr := filepath.Join(dir, LatestFile)
	if name, _, err = ReadPointer(ptr); err != nil {
		return "", 0, err
	}
	step, ok := CheckpointStep(name)
	if !ok {
		return "", 0, fmt.Errorf("pointer file %s names %s, not a checkpoint of the form %s", ptr, data.QuoteForError(name, 64), CheckpointName(0))
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		return "", 0, fmt.Errorf("pointer file %s names %s: %w", ptr, name, errNoFile(err))
	}
	return name, step, nil
}

// Best is what a best pointer records.
type Best struct {
	Name  string  // the checkpoint's file name
	Key   string  // the metrics key it is best by
	Value float64 // the key's value at the checkpoint's step
}

// WriteBest points dir's best pointer (dir a checkpoints/ folder) at b.
func WriteBest(dir string, b Best) error {
	text := fmt.Sprintf("%s\n%s %s\n", b.Name, b.Key, strconv.FormatFloat(b.Value, 'g', -1, 64))
	return data.WriteFileAtomic(filepath.Join(dir, BestFile), []byte(text))
}

// ReadBest reads dir's best pointer; a pointer without a key and a number
// on its second line is an error.
func ReadBest(dir string) (Best, error) {
	ptr := filepath.Join(dir, BestFile)
	name, rest, err := ReadPointer(ptr)
	if err != nil {
		return Best{}, err
	}
	f := strings.Fields(rest)
	if len(f) < 2 {
		return Best{}, fmt.Errorf("pointer file %s holds no key and value after the checkpoint's name", ptr)
	}
	v, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		return Best{}, fmt.Errorf("pointer file %s: the value of %s is %s, not a number", ptr, data.QuoteForError(f[0], 64), data.QuoteForError(f[1], 64))
	}
	return Best{Name: name, Key: f[0], Value: v}, nil
}
