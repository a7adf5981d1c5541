package train

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"gopkg.in/yaml.v3"
)

// HistoryFile is the run directory's record of the configuration of every
// part of a run: config.yaml holds only the current one.
const HistoryFile = "config-history.yaml"

// maxHistoryBytes bounds the history file read on resume.
const maxHistoryBytes = 64 << 20

// HistoryEntry is one part of a run: the configuration in effect from the
// step after Step on (Step 0: from the start).
type HistoryEntry struct {
	Step  int64  `yaml:"step"`
	Time  string `yaml:"time"`           // when it took effect, RFC 3339 UTC
	Event string `yaml:"event"`          // "start" or "resume"
	From  string `yaml:"from,omitempty"` // the checkpoint resumed
	Note  string `yaml:"note,omitempty"` // e.g. that an entry was reconstructed
	// Changes maps each changed key (a dotted config path) to "old -> new",
	// against the configuration of the checkpoint resumed.
	Changes map[string]string `yaml:"changes,omitempty"`
	Config  Config            `yaml:"config"`
}

// ConfigChanges lists every key whose value differs between old and new as
// "old -> new", keyed by its dotted path (optimizer.lr).
func ConfigChanges(old, new *Config) map[string]string {
	out := map[string]string{}
	for _, f := range Fields() {
		a, b := f.Get(old), f.Get(new)
		if !reflect.DeepEqual(a, b) {
			out[f.Path] = fmt.Sprintf("%v -> %v", a, b)
		}
	}
	return out
}

// ReadHistory reads DIR/config-history.yaml; a missing file is no entries.
func ReadHistory(dir string) ([]HistoryEntry, error) {
	path := filepath.Join(dir, HistoryFile)
	// data.ReadRegularFile's errors are one-line messages that need not
	// wrap fs.ErrNotExist, so a missing file is told by Lstat first.
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	raw, err := data.ReadRegularFile(path, "configuration history", maxHistoryBytes)
	if err != nil {
		return nil, err
	}
	var h []HistoryEntry
	if err := yaml.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%s: %v; move it aside to start a new history", path, err)
	}
	return h, nil
}

// writeHistory replaces DIR/config-history.yaml with h.
func writeHistory(dir string, h []HistoryEntry) error {
	now := time.Now().UTC().Format(time.RFC3339)
	for i := range h {
		if h[i].Time == "" {
			h[i].Time = now
		}
	}
	var buf bytes.Buffer
	buf.WriteString("# The configuration of every part of this training run, oldest first: each entry\n" +
		"# took effect after its step (a resume from that step's checkpoint) and lists what\n" +
		"# changed against the checkpoint's configuration. config.yaml is the last entry's.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(h); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return data.WriteFileAtomic(filepath.Join(dir, HistoryFile), buf.Bytes())
}

// appendHistory adds e (a resume) to DIR's history. Entries from a part of
// the run after e.Step (a run that went on past the checkpoint resumed, now
// superseded, as its metrics lines are) are dropped. A run without a
// history gets a first entry for the checkpoint's configuration prev.
func appendHistory(dir string, e HistoryEntry, prev *Config) error {
	h, err := ReadHistory(dir)
	if err != nil {
		return err
	}
	keep := h[:0]
	for _, x := range h {
		if x.Step < e.Step || x.Step == 0 && e.Step == 0 && x.Event == "start" {
			keep = append(keep, x)
		}
	}
	h = keep
	if len(h) == 0 {
		h = append(h, HistoryEntry{Step: 0, Event: "start", Config: *prev,
			Note: "written at the resume at step " + fmt.Sprint(e.Step) + ": the configuration of the checkpoint resumed; earlier changes, if any, were not recorded"})
	}
	return writeHistory(dir, append(h, e))
}
