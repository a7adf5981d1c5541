package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/internal/configref"
	"github.com/gridgpu/gridgpu/internal/stopsig"
	"github.com/gridgpu/gridgpu/internal/testfs"
	"github.com/gridgpu/gridgpu/internal/testutil"
	"github.com/gridgpu/gridgpu/rundir"
	"github.com/gridgpu/gridgpu/train"
)

func TestBadInvocations(t *testing.T) {
	dir := t.TempDir()
	badYAML := testfs.WriteFile(t, dir, "bad.yaml", "model:\n  unit: 3\n")
	notDir := testfs.WriteFile(t, dir, "file", "x")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--preset", "smoke", "--device", "cuda:0", "--out", filepath.Join(dir, "a")}, "built without CUDA support"},
		{[]string{"train", "--preset", "smoke", "--device", "cuda", "--out", filepath.Join(dir, "a")}, "built without CUDA support"},
		{[]string{"train", "--preset", "smoke", "--device", "tpu", "--out", filepath.Join(dir, "a")}, `run.device (--device) = tpu: must be "cpu" or "cuda:N"`},
		{[]string{"train", "--preset", "smoke", "--device", "cuda:x", "--out", filepath.Join(dir, "a")}, `run.device (--device) = cuda:x: must be "cpu" or "cuda:N"`},
		{[]string{"bench", "--preset", "tiny", "--device", "tpu"}, `device "tpu": not a device; give cpu, cuda or cuda:N`},
		{[]string{"bench", "--preset", "tiny", "--device", "cuda:-1"}, `device "cuda:-1": N in cuda:N must be a GPU index`},
		{[]string{"train", "--preset", "smoke", "--lr", "-1", "--out", filepath.Join(dir, "a")}, "optimizer.lr (--lr) = -1"},
		{[]string{"train", "--preset", "smoke", "--augment", "mirror", "--out", filepath.Join(dir, "a")}, "data.augment (--augment) = mirror"},
		{[]string{"train", "--preset", "nope", "--out", filepath.Join(dir, "a")}, `unknown preset "nope"`},
		{[]string{"train", "--preset", "smoke"}, "no output directory: pass --out DIR"},
		{[]string{"train", "--frobnicate"}, "unknown flag --frobnicate"},
		{[]string{"train", "--steps", "many", "--out", dir}, `invalid value "many" for flag --steps`},
		{[]string{"train", "--config", badYAML, "--out", dir}, `unknown key "unit" in section model`},
		{[]string{"train", "--config", filepath.Join(dir, "missing.yaml"), "--out", dir}, "missing.yaml"},
		{[]string{"train", "--resume", filepath.Join(dir, "missing.safetensors")}, "missing.safetensors: no such file"},
		{[]string{"train", "--resume", dir, "--preset", "smoke"}, "--preset and --resume do not mix"},
		{[]string{"train", "--preset", "smoke", "--out", notDir}, "exists and is not a directory"},
		{[]string{"train", "stray"}, "train takes no arguments"},
		{[]string{"loss"}, "missing --checkpoint and --batch"},
		{[]string{"loss", "--checkpoint", notDir, "--batch", notDir}, "not a valid safetensors file"},
		{[]string{"export", "--checkpoint", notDir}, "missing --out"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	}
	cudaBuilt := false
	for _, b := range train.Backends() {
		cudaBuilt = cudaBuilt || b == "cuda"
	}
	for _, c := range cases {
		if cudaBuilt && c.want == "built without CUDA support" {
			continue // a CUDA build answers with its own device error
		}
		code, _, stderr := runCLI(t, c.args...)
		oneLine(t, c.args, code, stderr, c.want)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Error("a failed train invocation created its output directory")
	}
}

// TestStrayArgument: every command but watch takes only flags, so a word
// on its command line (usually a flag's value that lost its flag) is a
// usage error naming the command, before the command does anything.
func TestStrayArgument(t *testing.T) {
	for _, cmd := range commands() {
		if cmd.ArgsUsage != "" {
			continue
		}
		args := []string{cmd.Name, "stray"}
		code, _, stderr := runCLI(t, args...)
		oneLine(t, args, code, stderr, cmd.Name+` takes no arguments (got "stray"); options are flags, see 'gridgpu `+cmd.Name+` --help'`)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.Contains(out, "gridgpu ") || !strings.Contains(out, "devices: cpu") {
		t.Errorf("version: %d %q", code, out)
	}
}

// TestTrainLossExport runs the whole CLI path on a tiny model: train,
// resume, loss on a model-only checkpoint, export.
func TestTrainLossExport(t *testing.T) {
	if _, err := graph.NewModel(2, 2, 2, 2, graph.PaperLoss()); err != nil {
		t.Fatalf("building the model graph: %v", err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	cfg := testfs.WriteFile(t, dir, "c.yaml", "model:\n  units: 8\n  hidden: 16\ndata:\n  batch_size: 4\n  seq_len: 6\n")
	// Precedence: the file sets units 8, the flag overrides hidden.
	code, _, stderr := runCLI(t, "train", "--preset", "smoke", "--config", cfg, "--hidden", "12", "--steps", "6", "--checkpoint-every", "3", "--out", out)
	if code != 0 {
		t.Fatalf("train: %d %s", code, stderr)
	}
	text, _ := os.ReadFile(filepath.Join(out, "config.yaml"))
	for _, want := range []string{"units: 8", "hidden: 12", "batch_size: 4", "lr: 0.003", "steps: 6"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, text)
		}
	}
	// Resume from the directory to 9 steps.
	code, _, stderr = runCLI(t, "train", "--resume", out, "--steps", "9")
	if code != 0 {
		t.Fatalf("resume: %d %s", code, stderr)
	}
	if !strings.Contains(stderr, "resuming") {
		t.Errorf("resume log: %s", stderr)
	}
	ck := filepath.Join(out, "checkpoints", rundir.CheckpointName(9))
	// A model-only copy, as another program would write it.
	p, _, err := train.LoadParams(ck)
	if err != nil {
		t.Fatal(err)
	}
	modelOnly := writeModel(t, dir, p)
	s, _ := data.NewSampler(5, 3, 7, "permute", 0.15)
	b := s.Next()
	batch := filepath.Join(dir, "batch.npz")
	if err := data.WriteNPZ(batch, []data.Array{{Name: "velocities", Shape: []int{3, 7, 2}, F32: b.Vel}}); err != nil {
		t.Fatal(err)
	}
	results := map[string]map[string]any{}
	for _, args := range [][]string{
		{"loss", "--checkpoint", ck, "--batch", batch},
		{"loss", "--checkpoint", modelOnly, "--batch", batch, "--lambda-ci", "0.01"},
		{"loss", "--checkpoint", modelOnly, "--batch", batch, "--lambda-ci", "0", "--grad"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: %d %s", args, code, stderr)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(stdout), &m); err != nil {
			t.Fatalf("%v: output %q is not JSON: %v", args, stdout, err)
		}
		for _, k := range []string{"loss", "sep", "inv", "cap", "ci"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%v: output lacks %q: %s", args, k, stdout)
			}
		}
		if m["N"].(float64) != 8 || m["H"].(float64) != 12 || m["B"].(float64) != 3 || m["T"].(float64) != 7 {
			t.Errorf("%v: sizes in %s", args, stdout)
		}
		results[strings.Join(args[1:], " ")] = m
	}
	full := results["--checkpoint "+ck+" --batch "+batch]
	only := results["--checkpoint "+modelOnly+" --batch "+batch+" --lambda-ci 0.01"]
	noCI := results["--checkpoint "+modelOnly+" --batch "+batch+" --lambda-ci 0 --grad"]
	// Same weights, same loss settings (smoke's lambda_ci 0.01 given as a flag).
	if full["loss"] != only["loss"] {
		t.Errorf("full and model-only checkpoints give %v and %v", full["loss"], only["loss"])
	}
	want := only["loss"].(float64) - 0.01*only["ci"].(float64)
	if got := noCI["loss"].(float64); abs(got-want) > 1e-6*abs(want)+1e-9 {
		t.Errorf("--lambda-ci 0 gives loss %v, want %v", got, want)
	}
	if _, ok := noCI["grad_norm"].(float64); !ok {
		t.Errorf("--grad output lacks grad_norm")
	}

	npz := filepath.Join(dir, "model.npz")
	code, _, stderr = runCLI(t, "export", "--checkpoint", ck, "--out", npz)
	if code != 0 {
		t.Fatalf("export: %d %s", code, stderr)
	}
	arrays, err := data.ReadNPZ(npz)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range graph.ParamNames {
		a, ok := arrays[n]
		if !ok || len(a.F32) != len(p.Slices()[i]) || a.F32[0] != p.Slices()[i][0] {
			t.Errorf("export: tensor %s wrong or missing", n)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestConfigReferenceIsCurrent fails when docs/config.md's generated
// configuration reference (every key, flag, preset value and help text) is
// not what the config's struct tags and presets give now.
func TestConfigReferenceIsCurrent(t *testing.T) {
	doc, err := os.ReadFile(configref.DocPath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := configref.Update(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	if want == string(doc) {
		return
	}
	got, exp := strings.Split(string(doc), "\n"), strings.Split(want, "\n")
	for i := 0; i < len(got) || i < len(exp); i++ {
		var g, e string
		if i < len(got) {
			g = got[i]
		}
		if i < len(exp) {
			e = exp[i]
		}
		if g != e {
			t.Fatalf("%s is stale (regenerate it with `go run ./scripts/configref`); line %d is\n\t%s\nwant\n\t%s", configref.DocPath, i+1, g, e)
		}
	}
}

// TestLossMatchesTorchReference checks the loss command's contract (docs/guide.md,
// the loss command) on a model-only checkpoint and batch written by the
// independent PyTorch implementation, against its float64 losses and
// gradient norms.
func TestLossMatchesTorchReference(t *testing.T) {
	dir := filepath.Join("testdata", "torch-tiny")
	refText, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatalf("the reference case testdata/torch-tiny: %v", err)
	}
	if _, err := graph.NewModel(2, 2, 2, 2, graph.PaperLoss()); err != nil {
		t.Fatalf("building the model graph: %v", err)
	}
	var ref struct {
		Loss, Sep, Inv, Cap, CI float64
		GradNorm                map[string]float64 `json:"grad_norm"`
	}
	if err := json.Unmarshal(refText, &ref); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "loss", "--checkpoint", filepath.Join(dir, "model.safetensors"), "--batch", filepath.Join(dir, "batch.npz"), "--grad")
	if code != 0 {
		t.Fatalf("loss: %d %s", code, stderr)
	}
	var got struct {
		Loss, Sep, Inv, Cap, CI float64
		GradNorms               map[string]float64 `json:"grad_norms"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	// float32 sums over P = 320 states: 1e-5 relative for losses, 1e-4 for
	// gradient norms (as the graph package's own cross-check).
	check := func(what string, g, w float64) {
		tol := 1e-5
		if strings.HasPrefix(what, "grad") {
			tol = 1e-4
		}
		if abs(g-w) > tol*abs(w)+1e-7 {
			t.Errorf("%s = %.9g, PyTorch float64 reference %.9g", what, g, w)
		}
	}
	check("loss", got.Loss, ref.Loss)
	check("sep", got.Sep, ref.Sep)
	check("inv", got.Inv, ref.Inv)
	check("cap", got.Cap, ref.Cap)
	check("ci", got.CI, ref.CI)
	for name, w := range ref.GradNorm {
		check("grad norm of "+name, got.GradNorms[name], w)
	}
}

// hostileFixture trains a tiny run and derives the malformed inputs of the
// hardening report from it.
type hostileFixture struct {
	dir, run, ck, batch string
}

func newHostileFixture(t *testing.T) hostileFixture {
	t.Helper()
	if _, err := graph.NewModel(2, 2, 2, 2, graph.PaperLoss()); err != nil {
		t.Fatalf("building the model graph: %v", err)
	}
	dir := t.TempDir()
	run := filepath.Join(dir, "A")
	code, _, stderr := runCLI(t, "train", "--preset", "smoke", "--units", "8", "--hidden", "12", "--batch-size", "3", "--seq-len", "5", "--steps", "4", "--checkpoint-every", "2", "--out", run)
	if code != 0 {
		t.Fatalf("train: %d %s", code, stderr)
	}
	s, _ := data.NewSampler(5, 3, 5, "permute", 0.15)
	batch := filepath.Join(dir, "batch.npz")
	if err := data.WriteNPZ(batch, []data.Array{{Name: "velocities", Shape: []int{3, 5, 2}, F32: s.Next().Vel}}); err != nil {
		t.Fatal(err)
	}
	return hostileFixture{dir: dir, run: run, ck: filepath.Join(run, "checkpoints", rundir.CheckpointName(4)), batch: batch}
}

// withNaN writes a copy of the checkpoint src with one value of tensor
// replaced by v, bypassing the writer's checks as a damaged file would.
func withNaN(t *testing.T, src, dst, tensor string, v float32) string {
	t.Helper()
	testutil.RewriteSafetensors(t, src, dst, func(ts []data.Tensor, _ map[string]string) {
		for _, tn := range ts {
			if tn.Name == tensor {
				tn.F32[len(tn.F32)-1] = v
			}
		}
	})
	return dst
}

func rawSafetensors(t *testing.T, path, header string, body []byte) string {
	t.Helper()
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(append(b, header...), body...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// bombNPZ is a few hundred bytes whose zip entry claims 4 GiB and whose
// .npy header asks for 2^35 floats.
func bombNPZ(t *testing.T, path string) string {
	t.Helper()
	hdr := "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 11453246123, 2), }"
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	npy := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)+1), 0)
	npy = append(append(npy, hdr...), '\n')
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(npy)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "velocities.npy", Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(npy),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: 1 << 32})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMalformedInputsCLI sends the malformed inputs of the hardening report
// through the real CLI: each must end in one "gridgpu: ..." line naming the
// problem, a non-zero status, no stack trace, and bounded memory.
func TestMalformedInputsCLI(t *testing.T) {
	fx := newHostileFixture(t)
	dir := fx.dir
	p := func(name string) string { return filepath.Join(dir, name) }
	good := `"g0":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`
	over62 := rawSafetensors(t, p("over62.safetensors"), `{`+good+`,"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}`, make([]byte, 4))
	over32 := rawSafetensors(t, p("over32.safetensors"), `{`+good+`,"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[4,4]}}`, make([]byte, 4))
	nanModel := withNaN(t, fx.ck, p("nan.safetensors"), "mlp.2.weight", float32(math.NaN()))
	infMoment := withNaN(t, fx.ck, p("infm.safetensors"), "opt.v.g0", float32(math.Inf(1)))
	bomb := bombNPZ(t, p("bomb.npz"))
	fifo := testfs.FIFO(t, dir, "fifo")
	outDir := p("existing")
	os.Mkdir(outDir, 0o755)
	// A run whose latest pointer is 50 MB, and one whose checkpoint is a
	// link out of the run directory.
	hugeRun := p("huge")
	os.MkdirAll(filepath.Join(hugeRun, "checkpoints"), 0o755)
	os.WriteFile(filepath.Join(hugeRun, "checkpoints", rundir.LatestFile), bytes.Repeat([]byte("x"), 50<<20), 0o644)
	linkRun := p("link")
	os.MkdirAll(filepath.Join(linkRun, "checkpoints"), 0o755)
	os.WriteFile(p("secret"), []byte("password=hunter2"), 0o644)
	os.Symlink(p("secret"), filepath.Join(linkRun, "checkpoints", "step-00000001.safetensors"))
	os.WriteFile(filepath.Join(linkRun, "checkpoints", rundir.LatestFile), []byte("step-00000001.safetensors\n"), 0o644)
	smoke := []string{"train", "--preset", "smoke", "--out", p("never")}

	cases := []struct {
		args []string
		want string
	}{
		{[]string{"loss", "--checkpoint", over62, "--batch", fx.batch}, "needs more bytes than any file holds"},
		{[]string{"export", "--checkpoint", over62, "--out", p("x.npz")}, "needs more bytes than any file holds"},
		{[]string{"analyze", "--checkpoint", over62, "--out", p("rep")}, "needs more bytes than any file holds"},
		{[]string{"train", "--resume", over62}, "needs more bytes than any file holds"},
		{[]string{"loss", "--checkpoint", over32, "--batch", fx.batch}, "overflows"},
		{[]string{"loss", "--checkpoint", fx.ck, "--batch", bomb}, "more than its"},
		{[]string{"loss", "--checkpoint", nanModel, "--batch", fx.batch}, "tensor mlp.2.weight holds NaN"},
		{[]string{"export", "--checkpoint", nanModel, "--out", p("y.npz")}, "tensor mlp.2.weight holds NaN"},
		{[]string{"analyze", "--checkpoint", nanModel, "--out", p("rep2")}, "tensor mlp.2.weight holds NaN"},
		{[]string{"train", "--resume", nanModel}, "tensor mlp.2.weight holds NaN"},
		{[]string{"train", "--resume", infMoment}, "tensor opt.v.g0 holds +Inf"},
		{[]string{"loss", "--checkpoint", "/dev/zero", "--batch", fx.batch}, "is a device"},
		{[]string{"loss", "--checkpoint", fx.ck, "--batch", "/dev/zero"}, "is a device"},
		{[]string{"loss", "--checkpoint", fifo, "--batch", fx.batch}, "named pipe"},
		{[]string{"loss", "--checkpoint", fx.ck, "--batch", dir}, "is a directory"},
		{append(smoke, "--config", "/dev/zero"), "config file /dev/zero is a device"},
		{append(smoke, "--config", fifo), "is a named pipe"},
		{[]string{"train", "--resume", fx.run, "--config", fifo, "--steps", "9"}, "is a named pipe"},
		{append(smoke, "--batch-size", "100000"), "needs about"},
		{append(smoke, "--seq-len", "100000"), "needs about"},
		{append(smoke, "--units", "4096"), "needs about"},
		{append(smoke, "--hidden", "65536"), "needs about"},
		{append(smoke, "--max-speed", "1e300"), "max speed"},
		{[]string{"bench", "--threads", "100000"}, "--threads 100000: at most"},
		{[]string{"export", "--checkpoint", fx.ck, "--out", outDir}, "is a directory"},
		{[]string{"train", "--resume", hugeRun}, "over the limit"},
		{[]string{"train", "--resume", linkRun}, "outside the run directory"},
	}
	for _, c := range cases {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		done := make(chan struct{})
		var code int
		var stderr string
		go func() {
			defer close(done)
			code, _, stderr = runCLI(t, c.args...)
		}()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("%v hangs", c.args)
		}
		runtime.ReadMemStats(&after)
		oneLine(t, c.args, code, stderr, c.want)
		if len(stderr) > 1000 {
			t.Errorf("%v: %d-byte error line", c.args, len(stderr))
		}
		if strings.Contains(stderr, "hunter2") {
			t.Errorf("%v: the error quotes another file's contents", c.args)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
			t.Errorf("%v: allocated %d MiB", c.args, grew>>20)
		}
	}
	if _, err := os.Stat(p("never")); !os.IsNotExist(err) {
		t.Error("a refused train invocation created its output directory")
	}
}

// Resuming a checkpoint of run A into a directory B that holds another run
// is refused and leaves B untouched; a fresh B becomes a new run.
func TestResumeIntoAnotherRun(t *testing.T) {
	fx := newHostileFixture(t)
	other := filepath.Join(fx.dir, "B")
	code, _, stderr := runCLI(t, "train", "--preset", "smoke", "--units", "8", "--hidden", "12", "--batch-size", "3", "--seq-len", "5", "--steps", "6", "--checkpoint-every", "2", "--log-every", "1", "--out", other)
	if code != 0 {
		t.Fatalf("train B: %d %s", code, stderr)
	}
	metricsBefore, _ := os.ReadFile(filepath.Join(other, "metrics.jsonl"))
	latestBefore, _ := os.ReadFile(filepath.Join(other, "checkpoints", rundir.LatestFile))
	first := filepath.Join(fx.run, "checkpoints", rundir.CheckpointName(2))
	args := []string{"train", "--resume", first, "--out", other, "--steps", "5"}
	code, _, stderr = runCLI(t, args...)
	oneLine(t, args, code, stderr, "already holds another run")
	metricsAfter, _ := os.ReadFile(filepath.Join(other, "metrics.jsonl"))
	latestAfter, _ := os.ReadFile(filepath.Join(other, "checkpoints", rundir.LatestFile))
	if !bytes.Equal(metricsBefore, metricsAfter) || !bytes.Equal(latestBefore, latestAfter) {
		t.Error("the refused resume changed the other run's files")
	}
	// Into a fresh directory, and into its own run directory named
	// explicitly: both fine.
	fresh := filepath.Join(fx.dir, "C")
	if code, _, stderr := runCLI(t, "train", "--resume", first, "--out", fresh, "--steps", "5"); code != 0 {
		t.Errorf("resume into a fresh directory: %d %s", code, stderr)
	}
	if _, err := train.LoadCheckpoint(filepath.Join(fresh, "checkpoints", rundir.CheckpointName(5))); err != nil {
		t.Errorf("fresh run: %v", err)
	}
	if code, _, stderr := runCLI(t, "train", "--resume", fx.run, "--out", fx.run+string(filepath.Separator), "--steps", "6"); code != 0 {
		t.Errorf("resume with --out naming its own run: %d %s", code, stderr)
	}
}

// Temporary files left by a process killed in the middle of a checkpoint
// write are removed when the run is resumed.
func TestResumeRemovesStaleTemporaries(t *testing.T) {
	fx := newHostileFixture(t)
	stale := filepath.Join(fx.run, "checkpoints", "."+rundir.CheckpointName(6)+".tmp-1234567")
	os.WriteFile(stale, make([]byte, 1000), 0o600)
	past := time.Now().Add(-time.Hour)
	os.Chtimes(stale, past, past)
	if code, _, stderr := runCLI(t, "train", "--resume", fx.run, "--steps", "5"); code != 0 {
		t.Fatalf("resume: %d %s", code, stderr)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale temporary file survived the resume")
	}
}

func TestLossGradNonFinite(t *testing.T) {
	g := graph.ZeroParams(3, 2)
	if err := gradNonFinite(g); err != nil {
		t.Errorf("zero gradient: %v", err)
	}
	g.W2[4] = float32(math.NaN())
	if err := gradNonFinite(g); err == nil || !strings.Contains(err.Error(), "gradient of mlp.4.weight holds NaN (at index 4)") {
		t.Errorf("NaN gradient: %v", err)
	}
	g.W2[4], g.G0[1] = 0, float32(math.Inf(-1))
	if err := gradNonFinite(g); err == nil || !strings.Contains(err.Error(), "gradient of g0 holds -Inf") {
		t.Errorf("Inf gradient: %v", err)
	}
}

// A second SIGINT, a second or more after the first, aborts at once, even
// when the shell started gridgpu with SIGINT ignored (as for a background
// job). (Sooner it is the first delivered twice: TestStopDeliveredTwice.)
func TestSecondSignalAborts(t *testing.T) {
	if _, err := graph.NewModel(2, 2, 2, 2, graph.PaperLoss()); err != nil {
		t.Fatalf("building the model graph: %v", err)
	}
	exe := testBinary(t)
	out := filepath.Join(t.TempDir(), "run")
	// Steps of several seconds even on a fast core (32 microbatches on
	// one thread), so that both signals arrive within the first.
	// The child starts with SIGINT ignored, set by a shell's trap and kept
	// across exec. Not by signal.Ignore here: signal.Reset does not undo
	// it, and every later child of this test process would inherit it.
	cmd := exec.Command("/bin/sh", "-c", `trap "" INT; exec "$0" "$@"`, exe, "train", "--preset", "medium", "--accumulation", "32", "--steps", "1000", "--out", out)
	cmd.Env = append(os.Environ(), sweepMainEnv+"=1", "GOMAXPROCS=1")
	c := startCmd(t, cmd, false)
	c.waitFor(t, "training")
	cmd.Process.Signal(os.Interrupt)
	time.Sleep(stopsig.Echo + 200*time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	if code := c.exit(t); code != 130 {
		t.Errorf("exit status %d, want 130; stderr:\n%s", code, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "second SIGINT: aborting") {
		t.Errorf("stderr lacks the abort line:\n%s", c.stderr.String())
	}
}

// FuzzConfigYAML feeds arbitrary YAML to the config loader: it may refuse
// anything but must not panic or hang.
func FuzzConfigYAML(f *testing.F) {
	f.Add([]byte("model:\n  units: 8\n  hidden: 16\ndata:\n  batch_size: 4\n"))
	f.Add([]byte("optimizer: {lr: .nan}\ndata: {max_speed: 1e300}\n"))
	f.Add([]byte("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"))
	f.Add([]byte("model: {units: 99999999999999999999}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, _ := train.Preset("paper")
		if err := train.ApplyYAML(&c, b, "fuzz.yaml"); err == nil {
			_ = c.Validate()
		}
	})
}

// An unknown flag names the command once: "gridgpu --help" at the top
// level, "gridgpu train --help" for a command (never "gridgpu gridgpu").
func TestUsageErrorNamesCommandOnce(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "run 'gridgpu --help' for the options"},
		{[]string{"train", "--nope"}, "run 'gridgpu train --help' for the options"},
		{[]string{"loss", "--nope"}, "run 'gridgpu loss --help' for the options"},
		{[]string{"export", "--nope"}, "run 'gridgpu export --help' for the options"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		oneLine(t, c.args, code, stderr, c.want)
		if code != exitUsage {
			t.Errorf("%v: exit status %d, want %d", c.args, code, exitUsage)
		}
		if strings.Contains(stderr, "gridgpu gridgpu") {
			t.Errorf("%v: %q names the program twice", c.args, stderr)
		}
	}
}

// The progress line's ETA of an absurd step count is capped (">100y")
// rather than overflowing into "0s"; ordinary counts keep their durations.
func TestETAOfAbsurdStepCounts(t *testing.T) {
	if _, err := graph.NewModel(2, 2, 2, 2, graph.PaperLoss()); err != nil {
		t.Fatalf("building the model graph: %v", err)
	}
	dir := t.TempDir()
	for i, c := range []struct {
		steps string
		want  string
	}{
		{"9000000000000000000", "ETA >100y"},
		{"9223372036854775807", "ETA >100y"},
		{"3", "step 3/3 (100.0%)"},
	} {
		cmd := gridgpuCmd(t, nil, append(append([]string{"train"}, tinyTrain...),
			"--steps", c.steps, "--log-every", "1", "--out", filepath.Join(dir, strconv.Itoa(i)))...)
		var stderr testutil.SyncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		exited := false
		deadline := time.After(30 * time.Second)
	wait:
		for !strings.Contains(stderr.String(), c.want) {
			select {
			case <-done:
				exited = true
				break wait
			case <-deadline:
				break wait
			case <-time.After(20 * time.Millisecond):
			}
		}
		if !exited {
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		out := stderr.String()
		if !strings.Contains(out, c.want) {
			t.Errorf("--steps %s: progress lacks %q:\n%s", c.steps, c.want, out)
		}
		if c.want != "step 3/3 (100.0%)" && strings.Contains(out, "ETA 0s") {
			t.Errorf("--steps %s: ETA 0s:\n%s", c.steps, out)
		}
	}
}

// train.LoadConfig reads --config files as bounded regular files: a
// device, a FIFO (which would block) or an oversized file is refused with
// an error naming it.
func TestLoadConfigBoundedRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := testfs.FIFO(t, dir, "fifo")
	big := testfs.WriteFile(t, dir, "big.yaml", strings.Repeat("# x\n", data.MaxConfigBytes/4+1))
	for _, c := range []struct{ file, want string }{
		{"/dev/zero", "config file /dev/zero is a device"},
		{fifo, "config file " + fifo + " is a named pipe"},
		{dir, "config file " + dir + " is a directory"},
		{big, "config file " + big},
		{filepath.Join(dir, "missing.yaml"), "no such file or directory"},
	} {
		done := make(chan error, 1)
		go func() { _, err := train.LoadConfig("smoke", c.file); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), c.file) != 1 {
				t.Errorf("LoadConfig(%s): %v, want an error containing %q that names the file once", c.file, err, c.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("LoadConfig(%s) hangs", c.file)
		}
	}
}
