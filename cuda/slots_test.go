package cuda

// Plain tests (no build tag, no GPU, no emulator): the Go side's copies of
// numbers that kernels/*.cu define, and the kernels' launch functions
// against the kernels' signatures.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gridgpu/gridgpu/graph"
	"github.com/gridgpu/gridgpu/reference"
)

func readKernel(t *testing.T, path string) string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// kernelDirs hold the kernel sources: the trainer's (embedded in the
// binary) and the kernel lab's variants.
var kernelDirs = []string{"kernels", "lab"}

// kernelFiles lists the kernel sources with suffix ext (".cu": one PTX
// module each; ".cuh": headers they include) of kernelDirs, as paths from
// the package directory, sorted.
func kernelFiles(t *testing.T, ext string) []string {
	t.Helper()
	var files []string
	for _, dir := range kernelDirs {
		f, err := filepath.Glob(dir + "/*" + ext)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f...)
	}
	if len(files) == 0 {
		t.Fatalf("no kernels/*%s", ext)
	}
	sort.Strings(files)
	return files
}

// defines returns the object-like #defines of src whose names match re.
func defines(src string, re *regexp.Regexp) map[string]string {
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^#define\s+(\w+)\s+(\S+)\s*$`).FindAllStringSubmatch(src, -1) {
		if re.MatchString(m[1]) {
			out[m[1]] = m[2]
		}
	}
	return out
}

// kernelDefines returns the object-like #defines of all kernel sources
// (kernels/*.cu and *.cuh) whose names match re, and the file defining
// each; a name defined in two files is an error.
func kernelDefines(t *testing.T, re *regexp.Regexp) (vals, file map[string]string) {
	t.Helper()
	vals, file = map[string]string{}, map[string]string{}
	for _, f := range append(kernelFiles(t, ".cuh"), kernelFiles(t, ".cu")...) {
		for name, v := range defines(readKernel(t, f), re) {
			if other, dup := file[name]; dup {
				t.Errorf("%s is defined in both %s and %s", name, other, f)
			}
			vals[name], file[name] = v, f
		}
	}
	return vals, file
}

// TestSlotsMatchKernels compares slots.go with the S_*, G_* and FLAG_*
// macros of the kernels: every macro has its Go constant with the same
// value, and the other way round.
func TestSlotsMatchKernels(t *testing.T) {
	goSlots := map[string]int{
		"S_NFAR": sNFar, "S_NNEAR": sNNear, "S_SEPSUM": sSepSum, "S_INVSUM": sInvSum, "S_CAPN2": sCapN2,
		"S_CIK": sCIK, "S_CISUM": sCISum, "S_CISQDEV": sCISqDev, "S_ZEROS": sZeros, "S_CSEP": sCSep,
		"S_CINV": sCInv, "S_CIMEAN": sCIMean, "S_CICOEF": sCICoef, "S_LSEP": sLSep, "S_LINV": sLInv,
		"S_LCAP": sLCap, "S_LCI": sLCI, "S_LTOT": sLTot, "S_ZFRAC": sZFrac,
		"G_SUMSQ": gSumSq, "G_NORM": gNorm, "G_SCALE": gScale, "G_OK": gOK,
	}
	goFlags := map[string]int{"FLAG_ACC": flagAcc, "FLAG_BIAS": flagBias, "FLAG_RELU": flagReLU}
	for _, c := range []struct {
		re     *regexp.Regexp
		consts map[string]int
	}{
		{regexp.MustCompile(`^[SG]_[A-Z0-9]+$`), goSlots},
		{regexp.MustCompile(`^FLAG_[A-Z0-9]+$`), goFlags},
	} {
		cu, file := kernelDefines(t, c.re)
		var names []string
		for name := range cu {
			names = append(names, name)
		}
		sort.Strings(names)
		used := map[int]string{}
		for _, name := range names {
			v, err := strconv.Atoi(cu[name])
			if err != nil {
				t.Errorf("%s: #define %s %s: not an integer", file[name], name, cu[name])
				continue
			}
			g, ok := c.consts[name]
			switch {
			case !ok:
				t.Errorf("%s defines %s = %d, which slots.go lacks", file[name], name, v)
			case g != v:
				t.Errorf("%s: %s = %d, slots.go has %d", file[name], name, v, g)
			}
			if strings.HasPrefix(name, "S_") {
				if v < 0 || v >= slotStride {
					t.Errorf("%s: %s = %d is outside a block of slotStride = %d slots", file[name], name, v, slotStride)
				}
				if other, dup := used[v]; dup {
					t.Errorf("%s: %s and %s share slot %d", file[name], other, name, v)
				}
				used[v] = name
			}
		}
		for name := range c.consts {
			if _, ok := cu[name]; !ok {
				t.Errorf("slots.go has %s, which no kernels/*.cu or *.cuh defines", name)
			}
		}
	}
}

// TestTermSlots: every term the kernels compute has a loss slot of its
// own, and cudaTerms lists them once each in graph.Term order (the order
// loss_finalize sums the total in, as the CPU does).
func TestTermSlots(t *testing.T) {
	seen := map[int]graph.Term{}
	for i, ct := range cudaTerms {
		if ct.term < 0 || ct.term >= graph.NumTerms {
			t.Errorf("cudaTerms[%d]: %v is no term of graph.TermSpecs", i, ct.term)
		}
		if i > 0 && ct.term <= cudaTerms[i-1].term {
			t.Errorf("cudaTerms[%d]: %s after %s: not in graph.Term order, or listed twice", i, ct.term, cudaTerms[i-1].term)
		}
		if ct.slot < sLSep || ct.slot >= sLTot {
			t.Errorf("loss term %s: slot %d is not one of the loss slots S_LSEP..S_LTOT-1", ct.term, ct.slot)
		}
		if other, dup := seen[ct.slot]; dup {
			t.Errorf("loss terms %s and %s share slot %d", other, ct.term, ct.slot)
		}
		seen[ct.slot] = ct.term
	}
}

// TestTermIndicesMatchGraph: the kernels' term indices T_* (the weights
// loss_finalize reads, w[T_SEP], ...) are the positions of cudaTerms, each
// named after its term's key, and NUM_TERMS is the number of cudaTerms.
func TestTermIndicesMatchGraph(t *testing.T) {
	cu, file := kernelDefines(t, regexp.MustCompile(`^(T_[A-Z0-9]+|NUM_TERMS)$`))
	want := map[string]int{"NUM_TERMS": len(cudaTerms)}
	for i, ct := range cudaTerms {
		want["T_"+strings.ToUpper(graph.TermSpecs[ct.term].Key)] = i
	}
	for name, w := range want {
		v, ok := cu[name]
		if !ok {
			t.Errorf("no kernels/*.cu or *.cuh defines %s (= %d, its index in cudaTerms)", name, w)
			continue
		}
		if n, err := strconv.Atoi(v); err != nil || n != w {
			t.Errorf("%s: #define %s %s; cudaTerms has %d", file[name], name, v, w)
		}
	}
	for name := range cu {
		if _, ok := want[name]; !ok {
			t.Errorf("%s defines %s, which is no term of cudaTerms", file[name], name)
		}
	}
}

// TestCPUOnlyTerms: the weights loss_finalize gets are those of cudaTerms
// in their order, and a term without an entry (here CI and Cap, taken out
// of the list) is refused where its weight is not zero and ignored where it
// is.
func TestCPUOnlyTerms(t *testing.T) {
	lc := graph.PaperLoss()
	all := lc.Weights()
	w := cudaWeights(lc, cudaTerms)
	if len(w) != len(cudaTerms) {
		t.Fatalf("cudaWeights: %d weights, want %d", len(w), len(cudaTerms))
	}
	for i, ct := range cudaTerms {
		if w[i] != all[ct.term] {
			t.Errorf("cudaWeights[%d] = %g, want the %s weight %g", i, w[i], ct.term, all[ct.term])
		}
	}
	if term, ok := cpuOnlyTerm(lc, cudaTerms); ok {
		t.Errorf("cpuOnlyTerm(paper loss) = %s: the kernels compute every term of the paper", term)
	}
	var some []cudaTerm
	for _, ct := range cudaTerms {
		if ct.term != graph.CI && ct.term != graph.Cap {
			some = append(some, ct)
		}
	}
	if term, ok := cpuOnlyTerm(lc, some); !ok || term != graph.Cap {
		t.Errorf("cpuOnlyTerm without cap and ci = %v, %v; want cap, true", term, ok)
	}
	lc.LambdaCap, lc.LambdaCI = 0, 0
	if term, ok := cpuOnlyTerm(lc, some); ok {
		t.Errorf("cpuOnlyTerm without cap and ci, both of weight 0 = %s, want none", term)
	}
	if w := cudaWeights(lc, some); len(w) != len(some) || w[0] != lc.LambdaSep || w[1] != lc.LambdaInv {
		t.Errorf("cudaWeights(sep, inv) = %v, want [%g %g]", w, lc.LambdaSep, lc.LambdaInv)
	}
}

// TestZeroEpsMatchesReference: the kernels' Norm-ReLU threshold is the CPU's.
func TestZeroEpsMatchesReference(t *testing.T) {
	vals, file := kernelDefines(t, regexp.MustCompile(`^ZERO_EPS$`))
	v := vals["ZERO_EPS"]
	f, err := strconv.ParseFloat(strings.TrimSuffix(v, "f"), 32)
	if err != nil || !strings.HasSuffix(v, "f") {
		t.Fatalf("%s: ZERO_EPS is %q, want a float literal (suffix f)", file["ZERO_EPS"], v)
	}
	if float32(f) != float32(reference.ZeroNorm) {
		t.Errorf("%s: ZERO_EPS = %s; reference.ZeroNorm = %g", file["ZERO_EPS"], v, reference.ZeroNorm)
	}
}

// kernelParams maps each kernel of the .cu files to its parameter count.
func kernelParams(t *testing.T) map[string]int {
	out := map[string]int{}
	in := map[string]string{}
	tiles := readKernel(t, "kernels/gemm_tiles.cuh")
	i := strings.Index(tiles, "#define GEMM_ARGS")
	end := strings.Index(tiles, "#define GEMM_PASS")
	if i < 0 || end < i {
		t.Fatal("kernels/gemm_tiles.cuh: no #define GEMM_ARGS before GEMM_PASS")
	}
	gemmArgs := strings.ReplaceAll(strings.ReplaceAll(tiles[i+len("#define GEMM_ARGS"):end], "\\", ""), "\n", " ")
	sig := regexp.MustCompile(`extern "C" __global__ void(?:\s+__launch_bounds__\([^)]*\))?\s+(\w+)\(([^)]*)\)`)
	for _, f := range kernelFiles(t, ".cu") {
		// GEMM_ARGS (gemm_tiles.cuh) is a multi-line macro: count its commas.
		src := strings.ReplaceAll(readKernel(t, f), "(GEMM_ARGS)", "("+gemmArgs+")")
		for _, m := range sig.FindAllStringSubmatch(src, -1) {
			if other, dup := in[m[1]]; dup {
				t.Errorf("kernel %s is defined in both %s and %s", m[1], other, f)
			}
			out[m[1]], in[m[1]] = len(strings.Split(m[2], ",")), f
		}
	}
	return out
}

// TestKernelSourcesListed: what lists the kernel files has them all. Each
// kernels/*.cu has its committed PTX module (embedded with kernels/*.ptx;
// make ptx-check checks that it is fresh) and no PTX is left without its
// source; the emulator includes every .cu file and dispatches every kernel.
func TestKernelSourcesListed(t *testing.T) {
	cu := kernelFiles(t, ".cu")
	ptx := kernelFiles(t, ".ptx")
	for i := range cu {
		cu[i] = strings.TrimSuffix(cu[i], ".cu")
	}
	for i := range ptx {
		ptx[i] = strings.TrimSuffix(ptx[i], ".ptx")
	}
	if strings.Join(cu, " ") != strings.Join(ptx, " ") {
		t.Errorf("the .cu files are %v but the .ptx files are %v: run make ptx, and remove the PTX of a removed source", cu, ptx)
	}

	src, err := os.ReadFile("emu/emu.cc")
	if err != nil {
		t.Fatal(err)
	}
	var included []string
	for _, m := range regexp.MustCompile(`(?m)^#include "\.\./((?:kernels|lab)/\w+)\.cu"`).FindAllSubmatch(src, -1) {
		included = append(included, string(m[1]))
	}
	sort.Strings(included)
	if strings.Join(cu, " ") != strings.Join(included, " ") {
		t.Errorf("emu/emu.cc includes kernels %v; the .cu files are %v", included, cu)
	}
	table := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bK\((\w+)\),`).FindAllSubmatch(src, -1) {
		table[string(m[1])] = true
	}
	params := kernelParams(t)
	for k := range params {
		if !table[k] {
			t.Errorf("emu/emu.cc's table lacks kernel %s", k)
		}
	}
	for k := range table {
		if _, ok := params[k]; !ok {
			t.Errorf("emu/emu.cc's table has %s, which no .cu file defines", k)
		}
	}
}

// TestLaunchFunctions parses kernels.go: every d.launch there names a kernel
// of the .cu files and passes as many arguments as the kernel has
// parameters (the GEMM kernels' name is a parameter, kind: they share
// GEMM_ARGS), every kernel has a launch, and no other non-test file of the
// package launches a kernel by name.
func TestLaunchFunctions(t *testing.T) {
	params := kernelParams(t)
	if len(params) < 25 {
		t.Fatalf("found only %d kernels in kernels/*.cu: %v", len(params), params)
	}
	fset := token.NewFileSet()
	launched := map[string]bool{}
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, fi := range files {
		name := fi.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "launch" || len(call.Args) < 6 {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "d" {
				return true
			}
			pos := fset.Position(call.Pos())
			if name != "kernels.go" {
				t.Errorf("%s: launches a kernel directly; add a launch function to kernels.go", pos)
				return true
			}
			nargs := len(call.Args) - 6
			var kernels []string
			switch a := call.Args[0].(type) {
			case *ast.BasicLit:
				k, _ := strconv.Unquote(a.Value)
				kernels = []string{k}
			case *ast.Ident: // gemmKernel's kind
				kernels = []string{"gemm_nt", "gemm_nn", "gemm_tn", "gemm_tc_nt", "gemm_tc_nn", "gemm_tc_tn"}
			default:
				t.Errorf("%s: kernel name is neither a literal nor kind", pos)
			}
			for _, k := range kernels {
				want, ok := params[k]
				switch {
				case !ok:
					t.Errorf("%s: launches %s, which kernels/*.cu lacks", pos, k)
				case want != nargs:
					t.Errorf("%s: launches %s with %d arguments; the kernel has %d parameters", pos, k, nargs, want)
				}
				launched[k] = true
			}
			return true
		})
	}
	for k := range params {
		if !launched[k] {
			t.Errorf("kernel %s has no launch function in kernels.go", k)
		}
	}
}
