package report

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/analysis"
	"github.com/gridgpu/gridgpu/analysis/internal/testopts"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/runlock"
)

// smallResult analyses a small network in the given arenas.
func smallResult(t *testing.T, arenas ...float64) *analysis.Result {
	t.Helper()
	opt := testopts.Small()
	opt.Arenas = arenas
	res, err := analysis.Analyze(context.Background(), graph.InitParams(8, 16, 1), opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// reportView is what a reader sees of a report directory opened once: its
// file names and the arenas summary.json lists.
type reportView struct {
	files  []string
	arenas int
}

// readReport reads dir through one open handle of the directory, as a
// reader that opens the report and then its files does. replaced is true
// when dir named another directory once the reading was done: the one
// read was replaced meanwhile (and may have been half removed), which is
// no view of a published report.
func readReport(dir string) (v reportView, replaced bool, err error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return reportView{}, false, err
	}
	defer root.Close()
	defer func() {
		a, errA := root.Stat(".")
		b, errB := os.Stat(dir)
		replaced = errA != nil || errB != nil || !os.SameFile(a, b)
	}()
	v, err = readRoot(root)
	return
}

func readRoot(root *os.Root) (reportView, error) {
	d, err := root.Open(".")
	if err != nil {
		return reportView{}, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return reportView{}, err
	}
	sort.Strings(names)
	v := reportView{files: names}
	b, err := root.ReadFile("summary.json")
	if err != nil {
		return v, err
	}
	var s analysis.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return v, err
	}
	v.arenas = len(s.Arenas)
	return v, nil
}

// An --overwrite publishes the new report whole (issue 19 F3, F20): a
// reader sees the old report or the new one, never a mix, and a report of
// fewer arenas leaves none of the old arenas' figures; nothing is left
// beside it. With the atomic exchange and without it (other systems, file
// systems that lack it).
func TestPublishReplacesWholeReport(t *testing.T) {
	two, one := smallResult(t, 1, 2), smallResult(t, 1)
	for _, exchange := range []bool{true, false} {
		name := "exchange"
		if !exchange {
			name = "set aside"
		}
		t.Run(name, func(t *testing.T) {
			if !exchange {
				old := exchangeDirs
				exchangeDirs = func(a, b string) error { return errNoExchange }
				t.Cleanup(func() { exchangeDirs = old })
			}
			parent := t.TempDir()
			out := filepath.Join(parent, "report")
			if err := WriteReport(out, two, ReportInfo{}, false); err != nil {
				t.Fatal(err)
			}
			oldView, _, err := readReport(out)
			if err != nil || oldView.arenas != 2 {
				t.Fatalf("first report: %+v, %v", oldView, err)
			}

			// A reader opening the report again and again while it is
			// replaced, twice over.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var mixes []string
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					v, replaced, err := readReport(out)
					if replaced || err != nil && os.IsNotExist(err) && !exchange {
						// Set aside, the name is missing for a moment.
						continue
					}
					if err != nil {
						mixes = append(mixes, err.Error())
						continue
					}
					has2m := false
					for _, f := range v.files {
						has2m = has2m || strings.Contains(f, "_2m")
					}
					if has2m != (v.arenas == 2) {
						mixes = append(mixes, strings.Join(v.files, " "))
					}
				}
			}()
			for i := 0; i < 2; i++ {
				res := one
				if i == 1 {
					res = two
				}
				if err := WriteReport(out, res, ReportInfo{}, true); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteReport(out, one, ReportInfo{}, true); err != nil {
				t.Fatal(err)
			}
			close(stop)
			wg.Wait()
			if len(mixes) > 0 {
				t.Errorf("a reader saw %d mixed or broken reports, e.g. %s", len(mixes), mixes[0])
			}
			v, _, err := readReport(out)
			if err != nil || v.arenas != 1 {
				t.Fatalf("report after the overwrite: %+v, %v", v, err)
			}
			for _, f := range v.files {
				if strings.Contains(f, "_2m") || f == runlock.FileName {
					t.Errorf("%s left in the report of one arena", f)
				}
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 1 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("beside the report: %v", names)
			}
		})
	}
}

// An --out that is a symbolic link is followed: the report goes into the
// directory it points to and the link stays a link (issue 19 F21). A link
// to nothing is refused in one line.
func TestPublishFollowsSymlink(t *testing.T) {
	res := smallResult(t, 1)
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	link := filepath.Join(dir, "link")
	if err := os.Symlink("real", link); err != nil {
		t.Skip(err)
	}
	for _, overwrite := range []bool{false, true} {
		if err := WriteReport(link, res, ReportInfo{}, overwrite); err != nil {
			t.Fatalf("overwrite %v: %v", overwrite, err)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("overwrite %v: --out is no longer a symbolic link (%v)", overwrite, err)
		}
		if _, err := os.Stat(filepath.Join(real, "summary.json")); err != nil {
			t.Fatalf("overwrite %v: no report in the link's target: %v", overwrite, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("%d entries beside the report, want real and link", len(ents))
	}
	dangling := filepath.Join(dir, "dangling")
	os.Symlink("nowhere", dangling)
	err := WriteReport(dangling, res, ReportInfo{}, false)
	if err == nil || !strings.Contains(err.Error(), "--out "+dangling+" is a symbolic link to nowhere, which does not exist") {
		t.Errorf("a dangling link: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); !os.IsNotExist(err) {
		t.Error("the dangling link's target was created")
	}
}

// --overwrite replaces the whole directory, so it takes only a directory
// that holds a report: a run directory (or anything else) is refused,
// naming what is in the way.
func TestCheckOutDirOverwriteTakesOnlyReports(t *testing.T) {
	for _, c := range []struct {
		name  string
		make  func(dir string)
		want  string // "" for accepted
		empty bool
	}{
		{"a report", func(d string) {
			for _, f := range []string{"summary.json", "index.html", "ratemaps.npz", "ratemaps_1m.png", ".lock", ".summary.json.tmp-123"} {
				os.WriteFile(filepath.Join(d, f), nil, 0o644)
			}
		}, "", false},
		{"a run directory", func(d string) {
			os.Mkdir(filepath.Join(d, "checkpoints"), 0o755)
			os.WriteFile(filepath.Join(d, "metrics.jsonl"), nil, 0o644)
			os.WriteFile(filepath.Join(d, "summary.json"), nil, 0o644)
		}, "holds checkpoints and 1 more, which a report does not", false},
		{"notes beside a report", func(d string) {
			os.WriteFile(filepath.Join(d, "summary.json"), nil, 0o644)
			os.WriteFile(filepath.Join(d, "notes.txt"), nil, 0o644)
		}, "holds notes.txt, which a report does not", false},
	} {
		d := filepath.Join(t.TempDir(), "out")
		os.Mkdir(d, 0o755)
		c.make(d)
		err := CheckOutDir(d, true)
		if c.want == "" && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// What a killed WriteReport leaves is cleaned up by the next one into the
// same directory: a staging directory that no live process holds is
// removed (one a live process holds is kept, whatever its age), and an old
// report set aside when the report directory is missing (killed between
// the two renames of a publish without the exchange) is put back.
func TestRemoveStalePartialsLeftovers(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	mk := func(p string, files ...string) {
		os.Mkdir(p, 0o755)
		for _, f := range files {
			os.WriteFile(filepath.Join(p, f), []byte(f), 0o644)
		}
		os.Chtimes(p, past, past)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "report")
	mk(filepath.Join(dir, ".report.partial-111"), "ratemaps.npz")
	live := filepath.Join(dir, ".report.partial-222")
	mk(live, "ratemaps.npz")
	lk, err := runlock.Exclusive(live, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Release()
	os.Chtimes(live, past, past)
	mk(filepath.Join(dir, ".report.old-333"), "summary.json", "index.html")

	removed := RemoveStalePartials(out, time.Now())
	sort.Strings(removed)
	if strings.Join(removed, " ") != ".report.old-333 .report.partial-111" {
		t.Errorf("removed or put back %v", removed)
	}
	if b, err := os.ReadFile(filepath.Join(out, "summary.json")); err != nil || string(b) != "summary.json" {
		t.Errorf("the old report set aside was not put back: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, runlock.FileName)); !os.IsNotExist(err) {
		t.Error("the put-back report keeps a lock file")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("a live writer's staging directory was removed")
	}

	// With the report in place, an old report set aside is garbage.
	mk(filepath.Join(dir, ".report.old-444"), "summary.json")
	RemoveStalePartials(out, time.Now())
	if _, err := os.Stat(filepath.Join(dir, ".report.old-444")); !os.IsNotExist(err) {
		t.Error("an old report set aside beside the report was kept")
	}
	if _, err := os.Stat(filepath.Join(out, "index.html")); err != nil {
		t.Error("the report was touched")
	}
}

// The current directory (or one holding it) is refused as --out: the
// report would be put in its place, pulling it from under the shell.
func TestReportTargetRefusesCurrentDirectory(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	t.Chdir(sub)
	for _, out := range []string{".", sub, dir, "../sub"} {
		err := CheckOutDir(out, true)
		if err == nil || !strings.Contains(err.Error(), "--out "+out+" is the current directory or holds it") {
			t.Errorf("--out %s: %v", out, err)
		}
	}
	if err := CheckOutDir("report", false); err != nil {
		t.Errorf("a new directory in the current one: %v", err)
	}
}
