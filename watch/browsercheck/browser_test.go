package browsercheck

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/watch"
)

// chromium finds the browser, installing Debian's chromium package when it
// is missing and the test runs as root. Without root it skips, except in CI
// (CI set), where a missing browser fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the browser test starts Chromium (seconds; a minute to install it)")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must run the browser test as root, or with Debian's chromium installed: apt-get install -y --no-install-recommends chromium")
		}
		t.Skip("no chromium and not root to install it (apt-get install -y --no-install-recommends chromium); CI runs this test")
	}
	log := filepath.Join(os.TempDir(), "gridgpu-chromium-apt.log")
	cmd := exec.Command("bash", "-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if b, err := cmd.CombinedOutput(); err != nil {
		os.WriteFile(log, b, 0o644)
		t.Fatalf("apt-get install chromium failed: %v; see %s", err, log)
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium installed but not on PATH")
	}
	return p
}

// recorder serves the watch page and remembers every request it answered
// with an error status.
type recorder struct {
	h      http.Handler
	mu     sync.Mutex
	failed []string
	n      int
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	sw := &statusWriter{w, 200}
	r.h.ServeHTTP(sw, req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if sw.code >= 400 {
		r.failed = append(r.failed, fmt.Sprintf("%s %s: %d", req.Method, req.URL, sw.code))
	}
}

func serve(t *testing.T, args ...string) (*httptest.Server, *recorder) {
	t.Helper()
	targets, err := watch.Resolve(args)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{h: watch.New(targets)}
	ts := httptest.NewServer(rec)
	t.Cleanup(ts.Close)
	return ts, rec
}

// browse loads url in headless Chromium: its DOM after the scripts ran
// (5 s of virtual time: the first poll and one refresh) and a screenshot.
func browse(t *testing.T, browser, url string) (dom string, shot image.Image) {
	t.Helper()
	dir := t.TempDir()
	common := []string{"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1200,900", "--virtual-time-budget=5000"}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, browser, append(common, "--dump-dom", url)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", url, err, stderr.Bytes())
	}
	png1 := filepath.Join(dir, "shot.png")
	cmd = exec.CommandContext(ctx, browser, append(common, "--screenshot="+png1, url)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot %s: %v\n%s", url, err, b)
	}
	f, err := os.Open(png1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if keep := os.Getenv("GRIDGPU_WATCH_SHOTS"); keep != "" {
		b, _ := os.ReadFile(png1)
		os.WriteFile(filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_")+".png"), b, 0o644)
	}
	return string(out), img
}

// colours counts the distinct colours of an image, up to 1000.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// check looks for the elements the page's scripts write, and for the
// error marker they write on a failed request or a script error.
func check(t *testing.T, dom string, shot image.Image, rec *recorder, want ...string) {
	t.Helper()
	if strings.Contains(dom, `<div class="watch-error">`) {
		i := strings.Index(dom, `<div class="watch-error">`)
		t.Errorf("the page shows an error: %.300s", dom[i:])
	}
	if !strings.Contains(dom, `data-ready="`) {
		t.Error("the page's first refresh did not finish")
	}
	for _, w := range want {
		if !strings.Contains(dom, w) {
			t.Errorf("the DOM lacks %s", w)
		}
	}
	if n := colours(shot); n < 3 {
		t.Errorf("the screenshot has %d colour(s): blank", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.failed) > 0 {
		t.Errorf("failed requests: %s", strings.Join(rec.failed, "; "))
	}
	if rec.n < 3 {
		t.Errorf("only %d requests: the page did not fetch its data", rec.n)
	}
}

var runElements = []string{
	`<table class="runs"><tbody>`,
	`<svg class="chart" data-key="loss"`,
	`<svg class="chart" data-key="sep"`,
	`<svg class="chart" data-key="grad_norm"`,
	`<svg class="chart" data-key="dead_units"`,
	`<polyline`,
	`<pre class="config">`,
}

func TestBrowserFinishedRun(t *testing.T) {
	browser := chromium(t)
	ts, rec := serve(t, "../testdata/smoke")
	dom, shot := browse(t, browser, ts.URL+"/")
	check(t, dom, shot, rec, append(runElements, `<svg class="chart" data-key="eval_grid_units"`, "lambda_sep")...)
}

// TestBrowserLiveRun loads the page of a run whose metrics.jsonl grows,
// partial lines included, while the browser polls it.
func TestBrowserLiveRun(t *testing.T) {
	browser := chromium(t)
	all, err := os.ReadFile("../testdata/smoke/metrics.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile("../testdata/smoke/config.yaml")
	run := filepath.Join(t.TempDir(), "live")
	os.MkdirAll(run, 0o755)
	os.WriteFile(filepath.Join(run, "config.yaml"), cfg, 0o644)
	lines := strings.SplitAfter(strings.TrimSpace(string(all)), "\n")
	path := filepath.Join(run, "metrics.jsonl")
	os.WriteFile(path, []byte(strings.Join(lines[:2], "")), 0o644)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		for _, l := range lines[2:] {
			for _, part := range []string{l[:len(l)/2], l[len(l)/2:]} {
				select {
				case <-stop:
					return
				case <-time.After(150 * time.Millisecond):
				}
				f.WriteString(part)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	ts, rec := serve(t, run)
	dom, shot := browse(t, browser, ts.URL+"/")
	check(t, dom, shot, rec, runElements...)
}

func TestBrowserSweep(t *testing.T) {
	browser := chromium(t)
	sw := t.TempDir()
	os.WriteFile(filepath.Join(sw, "sweep.yaml"), []byte("name: s\n"), 0o644)
	for i, name := range []string{"a", "b"} {
		dir := filepath.Join(sw, "runs", name)
		os.MkdirAll(dir, 0o755)
		for _, f := range []string{"metrics.jsonl", "config.yaml"} {
			b, _ := os.ReadFile("../testdata/smoke/" + f)
			os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		os.WriteFile(filepath.Join(dir, "sweep-status.json"), []byte(fmt.Sprintf(`{"name":%q,"index":%d,"values":[],"overrides":[],"state":"done","step":60,"steps":60,"attempts":1,"updated":"2024-01-01T00:00:00Z"}`, name, i)), 0o644)
	}
	ts, rec := serve(t, sw)
	dom, shot := browse(t, browser, ts.URL+"/")
	check(t, dom, shot, rec, append(runElements, `<table class="sweep"><tbody>`, `href="?runs=s0%2Fa"`)...)
}

// TestBrowserShowsErrors: a failed request shows the error marker that the
// other tests look for, so that their check of its absence means something.
func TestBrowserShowsErrors(t *testing.T) {
	browser := chromium(t)
	ts, _ := serve(t, "../testdata/smoke")
	dom, _ := browse(t, browser, ts.URL+"/?runs=r9")
	if !strings.Contains(dom, `<div class="watch-error">request failed: /api/run?id=r9: 404`) {
		t.Errorf("no error marker for a failed request in the DOM:\n%s", dom)
	}
}
