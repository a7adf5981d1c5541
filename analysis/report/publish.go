package report

// Publishing a report whole. WriteReport writes every file into a staging
// directory beside the report directory (".DIR.partial-NNN", locked by the
// writer), then puts it in DIR's place in one step: on Linux an atomic
// exchange of the two names (renameat2 RENAME_EXCHANGE), after which the
// old report, now under the staging name, is removed; elsewhere (or on a
// file system without the exchange) the old report is first renamed aside
// (".DIR.old-NNN", locked too) and the new one renamed into place. A
// reader that opens DIR sees the old report or the new one, never a mix,
// and nothing of the old report stays beside the new one.
//
// A writer killed at any moment leaves DIR as it was (or, between the two
// renames of the fallback, the old report aside): the next WriteReport or
// RemoveStalePartials for DIR puts an old report set aside back, and
// removes staging and set-aside directories that no live process holds.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/runlock"
)

// partialMarker is in the name of WriteReport's staging directories:
// "." + the report directory's name + partialMarker + random digits; and
// oldMarker in the name of an old report set aside while the new one is
// put in place.
const (
	partialMarker = ".partial-"
	oldMarker     = ".old-"
)

// isMarkedOf reports whether name is "." + base + marker + digits.
func isMarkedOf(name, base, marker string) bool {
	digits, ok := strings.CutPrefix(name, "."+base+marker)
	if !ok || digits == "" {
		return false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// isPartialOf reports whether name is one of WriteReport's staging
// directories for a report directory named base.
func isPartialOf(name, base string) bool { return isMarkedOf(name, base, partialMarker) }

// reportTarget is the directory a report for --out dir is published as:
// dir made absolute, or, when dir is a symbolic link, the directory it
// points to (the link stays a link). A dangling link, the root directory,
// and the current directory (or one holding it, which publishing would
// pull from under the shell) are refused.
func reportTarget(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("--out: give the directory to write the report to")
	}
	target, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("--out %s: %w", dir, err)
	}
	if st, err := os.Lstat(target); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		link, _ := os.Readlink(target)
		resolved, err := filepath.EvalSymlinks(target)
		if err != nil {
			return "", fmt.Errorf("--out %s is a symbolic link to %s, which does not exist; create the directory it points to, or remove the link", dir, link)
		}
		target = resolved
	}
	if filepath.Dir(target) == target {
		return "", fmt.Errorf("--out %s: the root directory cannot be a report directory; name a directory below it", dir)
	}
	if wd, err := os.Getwd(); err == nil {
		real := target
		if r, err := filepath.EvalSymlinks(target); err == nil {
			real = r
		}
		if r, err := filepath.EvalSymlinks(wd); err == nil {
			wd = r
		}
		if rel, err := filepath.Rel(real, wd); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "", fmt.Errorf("--out %s is the current directory or holds it; a report is published by putting a new directory in the old one's place: run analyze from outside it", dir)
		}
	}
	return target, nil
}

// isReportFile reports whether a directory entry is something WriteReport
// writes into a report directory (or a leftover of writing one).
func isReportFile(e fs.DirEntry) bool {
	if !e.Type().IsRegular() {
		return false
	}
	switch n := e.Name(); {
	case n == "summary.json", n == "index.html", n == "ratemaps.npz", n == runlock.FileName:
		return true
	case strings.HasSuffix(n, ".png"), data.IsTempName(n):
		return true
	}
	return false
}

// CheckOutDir reports whether dir can receive a report: it must not exist,
// be empty, or (with overwrite) be a directory that holds a report and
// nothing else, since publishing replaces the whole directory. Call it
// before the analysis so a long run does not end in this error.
func CheckOutDir(dir string, overwrite bool) error {
	target, err := reportTarget(dir)
	if err != nil {
		return err
	}
	st, err := os.Stat(target)
	if errors.Is(err, fs.ErrNotExist) {
		parent := filepath.Dir(target)
		if pst, err := os.Stat(parent); err != nil || !pst.IsDir() {
			return fmt.Errorf("--out %s: parent directory %s does not exist; create it first", dir, parent)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("--out %s: exists and is not a directory; choose a directory path", dir)
	}
	ents, err := os.ReadDir(target)
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	if len(ents) > 0 && !overwrite {
		return fmt.Errorf("--out %s: directory is not empty; choose a new directory or pass --overwrite to replace the report in it", dir)
	}
	var foreign []string
	for _, e := range ents {
		if !isReportFile(e) {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) > 0 {
		sort.Strings(foreign)
		more := ""
		if len(foreign) > 1 {
			more = fmt.Sprintf(" and %d more", len(foreign)-1)
		}
		return fmt.Errorf("--out %s holds %s%s, which a report does not; --overwrite replaces the whole report directory, so it takes only one that holds a report: choose another --out", dir, foreign[0], more)
	}
	return nil
}

// claimLeftover takes the lock of a staging or set-aside directory p that
// a writer left behind: one last modified before the given time that no
// live process holds. ok is false when p must be left alone. Where the file
// system has no locks, the time alone decides.
func claimLeftover(p string, before time.Time) (lk *runlock.Lock, ok bool) {
	info, err := os.Stat(p)
	if err != nil || !info.ModTime().Before(before) {
		return nil, false
	}
	lk, err = runlock.Exclusive(p, "report staging directory")
	if err != nil && !errors.Is(err, runlock.ErrUnsupported) {
		return nil, false
	}
	return lk, true
}

// RemoveStalePartials cleans up after WriteReports into the report
// directory dir that were killed: their staging directories (".DIR.partial-*"
// beside it) and old reports set aside (".DIR.old-*") that no live process
// holds and that were last modified before the given time are removed,
// except that an old report set aside is put back in dir's place when dir
// is missing (a writer killed between its two renames). Directories of
// other report directories are left alone. It returns the names removed
// or put back.
func RemoveStalePartials(dir string, before time.Time) []string {
	target, err := reportTarget(dir)
	if err != nil {
		return nil
	}
	parent, base := filepath.Dir(target), filepath.Base(target)
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	_, err = os.Lstat(target)
	missing := errors.Is(err, fs.ErrNotExist)
	var done []string
	for _, e := range ents {
		name := e.Name()
		old := isMarkedOf(name, base, oldMarker)
		if !e.IsDir() || !old && !isPartialOf(name, base) {
			continue
		}
		p := filepath.Join(parent, name)
		lk, ok := claimLeftover(p, before)
		if !ok {
			continue
		}
		if old && missing && os.Rename(p, target) == nil {
			os.Remove(filepath.Join(target, runlock.FileName))
			missing = false
		} else if os.RemoveAll(p) != nil {
			lk.Release()
			continue
		}
		lk.Release()
		done = append(done, name)
	}
	return done
}

// ProbeOutDir checks, before any work, that WriteReport will be able to
// publish the report directory dir (which CheckOutDir has accepted): it
// creates and removes a staging directory beside dir and, when dir exists,
// a file inside it (the old report is removed once the new one is in
// place). A read-only parent or file system is reported here rather than
// after the analysis.
func ProbeOutDir(dir string) error {
	target, err := reportTarget(dir)
	if err != nil {
		return err
	}
	parent := filepath.Dir(target)
	stage, err := os.MkdirTemp(parent, "."+filepath.Base(target)+partialMarker)
	if err != nil {
		return fmt.Errorf("--out %s: cannot write in %s: %v", dir, parent, pathErrCause(err))
	}
	os.Remove(stage)
	if st, err := os.Stat(target); err == nil && st.IsDir() {
		f, err := os.CreateTemp(target, ".write-probe.tmp-")
		if err != nil {
			return fmt.Errorf("--out %s: cannot write in it: %v", dir, pathErrCause(err))
		}
		f.Close()
		os.Remove(f.Name())
	}
	return nil
}

// pathErrCause is the cause of a file-system error without the path it
// names (a random temporary name means nothing to the user).
func pathErrCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// newStage creates the locked staging directory of a report for target
// (dir as the user gave it, for messages).
func newStage(dir, target string) (string, *runlock.Lock, error) {
	stage, err := os.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+partialMarker)
	if err != nil {
		return "", nil, fmt.Errorf("--out %s: cannot create a staging directory beside it: %v", dir, pathErrCause(err))
	}
	lk, err := runlock.Exclusive(stage, "report staging directory")
	if err != nil && !errors.Is(err, runlock.ErrUnsupported) {
		os.RemoveAll(stage)
		return "", nil, fmt.Errorf("--out %s: %v", dir, err)
	}
	return stage, lk, nil
}

// exchangeDirs swaps the names a and b atomically; errNoExchange where the
// system or file system cannot. Tests replace it.
var exchangeDirs = exchange

// errNoExchange says that the names cannot be swapped atomically here.
var errNoExchange = errors.New("no atomic exchange of names")

// publish puts the staging directory stage in target's place (see the top
// of this file); dir is --out as the user gave it, for messages.
func publish(dir, stage, target string) error {
	if err := os.Chmod(stage, 0o755); err != nil {
		return fmt.Errorf("--out %s: %v", dir, pathErrCause(err))
	}
	syncDir(stage)
	if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(stage, target); err != nil {
			return fmt.Errorf("--out %s: %v", dir, pathErrCause(err))
		}
	} else if err := exchangeDirs(stage, target); err == nil {
		// The old report now has the staging directory's name.
		os.RemoveAll(stage)
	} else if errors.Is(err, errNoExchange) {
		if err := replaceAside(dir, stage, target); err != nil {
			return err
		}
	} else {
		return fmt.Errorf("--out %s: %v", dir, pathErrCause(err))
	}
	// The staging directory's lock file came along; the lock itself is
	// held until WriteReport returns.
	os.Remove(filepath.Join(target, runlock.FileName))
	syncDir(filepath.Dir(target))
	return nil
}

// replaceAside is publish without an atomic exchange: the old report is
// locked and renamed aside, the new one renamed into place, the old one
// removed. Killed between the renames, the old report is put back by the
// next RemoveStalePartials.
func replaceAside(dir, stage, target string) error {
	lk, err := runlock.Exclusive(target, "report directory")
	if err != nil && !errors.Is(err, runlock.ErrUnsupported) {
		return fmt.Errorf("--out %s: %v", dir, err)
	}
	defer lk.Release()
	// A unique name, that of a directory made and removed again (os.Rename
	// does not replace a directory).
	aside, err := os.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+oldMarker)
	if err == nil {
		err = os.Remove(aside)
	}
	if err != nil {
		os.Remove(filepath.Join(target, runlock.FileName))
		return fmt.Errorf("--out %s: cannot set the old report aside: %v", dir, pathErrCause(err))
	}
	if err := os.Rename(target, aside); err != nil {
		os.Remove(filepath.Join(target, runlock.FileName))
		return fmt.Errorf("--out %s: cannot set the old report aside: %v", dir, pathErrCause(err))
	}
	if err := os.Rename(stage, target); err != nil {
		if os.Rename(aside, target) == nil {
			os.Remove(filepath.Join(target, runlock.FileName))
		}
		return fmt.Errorf("--out %s: %v", dir, pathErrCause(err))
	}
	os.RemoveAll(aside)
	return nil
}

// syncDir makes renames in dir durable; not every file system supports it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
