package train

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/rundir"
	"gopkg.in/yaml.v3"
)

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
	// RunID identifies the run (see NewRunID); every checkpoint of the run
	// records it, and a resume refuses a checkpoint of another run. Runs
	// started before run ids have none.
	RunID string `yaml:"run_id,omitempty"`
	// Changes maps each changed key (a dotted config path) to "old -> new",
	// against the configuration of the checkpoint resumed.
	Changes map[string]string `yaml:"changes,omitempty"`
	Config  Config            `yaml:"config"`
}

// NewRunID makes the id of a new run: its start time (UTC) and 32 random
// bits, e.g. 20260107T035938Z-3f9a1c2b.
func NewRunID() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on the systems Go supports; the
		// nanoseconds of the clock will do where it does.
		binary.BigEndian.PutUint32(b[:], uint32(time.Now().UnixNano()))
	}
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// RunIDOf is the run id that DIR's config-history.yaml records (its last
// entry that has one); "" for a run without one (started before run ids,
// or no history at all).
func RunIDOf(dir string) (string, error) {
	h, err := ReadHistory(dir)
	if err != nil {
		return "", err
	}
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].RunID != "" {
			return h[i].RunID, nil
		}
	}
	return "", nil
}

// resumeRunID is the run id a resume of ck (read from ckPath) into the run
// directory out goes on with, or the error that refuses ck: a checkpoint
// whose id differs from the one out's history records belongs to another
// run (copied into out, say), and continuing from it would splice two runs
// into one metrics.jsonl. A checkpoint without an id (written before run
// ids) is accepted as out's own. A run directory without one (a run from
// before run ids) takes the checkpoint's id when it is the checkpoint's own
// directory, and a new one otherwise (a resume into a new directory starts
// a run of its own, which begins with the checkpoint).
func resumeRunID(out, ckPath string, ck *Checkpoint) (string, error) {
	id, err := RunIDOf(out)
	if err != nil {
		return "", err
	}
	switch {
	case id != "" && ck.RunID != "" && id != ck.RunID:
		return "", fmt.Errorf("checkpoint %s belongs to run %s, but %s is run %s (%s): it was copied from another run; resume from one of %s's own checkpoints, or resume the other run in its own directory",
			ckPath, shortID(ck.RunID), out, shortID(id), rundir.HistoryFile, out)
	case id != "":
		return id, nil
	case ck.RunID != "" && rundir.SameDir(out, rundir.OfCheckpoint(ckPath)):
		return ck.RunID, nil
	}
	return NewRunID(), nil
}

// shortID writes a run id read from a file for a message: quoted when it
// holds anything but letters, digits and -_.:, and shortened when it is
// absurdly long.
func shortID(id string) string {
	if len(id) > 64 {
		id = id[:61] + "..."
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)) {
			return strconv.Quote(id)
		}
	}
	return id
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

// ReadHistory reads DIR/config-history.yaml (rundir.HistoryFile), the
// configuration of every part of a run (config.yaml holds only the current
// one); a missing file is no entries.
func ReadHistory(dir string) ([]HistoryEntry, error) {
	path := rundir.HistoryPath(dir)
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
	return data.WriteFileAtomic(rundir.HistoryPath(dir), buf.Bytes())
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
		h = append(h, HistoryEntry{Step: 0, Event: "start", Config: *prev, RunID: e.RunID,
			Note: "written at the resume at step " + fmt.Sprint(e.Step) + ": the configuration of the checkpoint resumed; earlier changes, if any, were not recorded"})
	}
	return writeHistory(dir, append(h, e))
}
