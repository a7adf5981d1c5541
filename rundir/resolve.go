package rundir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ResolveCheckpoint turns a --resume (or --checkpoint) argument into a
// checkpoint file: a file is itself; a run directory or its checkpoints/
// directory means the newest checkpoint named by its latest pointer; a
// pointer file (LatestFile or BestFile) means the checkpoint it names, and
// RUN/latest or RUN/best stand for the pointer in RUN/checkpoints/. A
// pointer must name a plain file in its own directory; symbolic links there
// may not lead out of the run directory.
func ResolveCheckpoint(arg string) (string, error) {
	st, err := os.Stat(arg)
	if err != nil {
		base := filepath.Base(arg)
		if (base == LatestFile || base == BestFile) && os.IsNotExist(err) {
			run := filepath.Dir(arg)
			ckDir := CheckpointsPath(run)
			if _, err := os.Stat(filepath.Join(ckDir, base)); err == nil {
				return resolvePointer(run, ckDir, base)
			}
			if base == BestFile {
				if _, err := os.Stat(filepath.Join(ckDir, LatestFile)); err == nil {
					return "", fmt.Errorf("checkpoint %s: %s has no best checkpoint (%s/%s); it is kept when the run trains with run.keep_best (--keep-best KEY)", arg, run, CheckpointDir, BestFile)
				}
			}
		}
		return "", fmt.Errorf("checkpoint %s: %w", arg, errNoFile(err))
	}
	if !st.IsDir() {
		base := filepath.Base(arg)
		if base != LatestFile && base != BestFile {
			return arg, nil
		}
		// The pointer file itself: follow it.
		return resolvePointer(arg, filepath.Dir(arg), base)
	}
	for _, dir := range []string{CheckpointsPath(arg), arg} {
		if _, err := os.Lstat(filepath.Join(dir, LatestFile)); err != nil {
			continue
		}
		return resolvePointer(arg, dir, LatestFile)
	}
	return "", fmt.Errorf("%s is a directory without a %s pointer (neither in it nor in its %s/); name a checkpoint file", arg, LatestFile, CheckpointDir)
}

// resolvePointer follows the pointer file dir/pointer; arg is what the user
// gave, for messages.
func resolvePointer(arg, dir, pointer string) (string, error) {
	name, _, err := ReadPointer(filepath.Join(dir, pointer))
	if err != nil {
		return "", fmt.Errorf("%s: %w", arg, err)
	}
	path := filepath.Join(dir, name)
	if err := checkInsideRun(path, dir); err != nil {
		return "", err
	}
	return path, nil
}

// checkInsideRun refuses a checkpoint found through a pointer in dir when
// it is a symbolic link leading outside dir's run directory (dir itself, or
// its parent when dir is a checkpoints/ folder).
func checkInsideRun(path, dir string) error {
	lst, err := os.Lstat(path)
	if err != nil || lst.Mode()&os.ModeSymlink == 0 {
		return nil // missing files are reported by the reader
	}
	run := ofFolder(dir)
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("checkpoint %s is a symbolic link that cannot be followed: %w", path, errNoFile(err))
	}
	root, err := filepath.EvalSymlinks(run)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	rel, err := filepath.Rel(root, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("checkpoint %s is a symbolic link to a file outside the run directory %s; refusing to follow it (name the file itself to use it)", path, run)
	}
	return nil
}

func errNoFile(err error) error {
	if os.IsNotExist(err) {
		return fmt.Errorf("no such file or directory")
	}
	return err
}
