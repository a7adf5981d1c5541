// Package sweep runs sets of training runs described by a sweep file: a
// base configuration, a grid of values over dotted config keys, and named
// variants (override sets) crossed with the grid. It expands a sweep into
// points, runs each point's training and analysis as child processes of the
// gridgpu binary, resumes and skips runs on a second invocation, collects
// the results into CSV, JSON and an HTML page, and writes batch files for
// running the points on a cluster (a Slurm job array, a Kubernetes Indexed
// Job).
package sweep

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gridgpu/gridgpu/data"
	"github.com/gridgpu/gridgpu/internal/editdist"
	"github.com/gridgpu/gridgpu/train"
)

// Setting is one config value: a dotted key and a value of the field's type
// (int, int64, uint64, float64 or string).
type Setting struct {
	Key   string
	Value any
	Line  int // line in the sweep file (0 when not from a file)
}

// Axis is one swept key of the grid and its values, in file order.
type Axis struct {
	Key    string
	Short  string // column and name label: the last path component, or Key where two would collide
	Values []any
}

// Variant is a named set of overrides.
type Variant struct {
	Name string
	Sets []Setting
}

// FlagKind is the type of an analyze flag's value.
type FlagKind int

// Kinds of analyze flags.
const (
	FlagInt FlagKind = iota
	FlagFloat
	FlagString
	FlagList // comma-separated numbers (a YAML list or a scalar)
	FlagBool
)

// Spec is a parsed sweep file.
type Spec struct {
	Source   string // for messages: "sweep file F"
	Preset   string
	Base     []Setting
	Grid     []Axis
	Variants []Variant // nil when the file has none
	// Analyze holds the analyze flags as command-line arguments
	// ("--arena", "1,2", ...), in file order; nil means no analysis.
	Analyze []string
}

// ParseOptions says what a sweep file may contain beyond config keys.
type ParseOptions struct {
	// AnalyzeFlags maps each analyze flag the file may set (without the
	// leading dashes) to its kind. Keys may be written with '_' for '-'.
	AnalyzeFlags map[string]FlagKind
}

var topKeys = []string{"base", "grid", "variants", "analyze"}

// Limits on a sweep, checked before any point is built.
const (
	// MaxPoints bounds the runs of one sweep (variants times the grid's
	// combinations): a sweep beyond it would take more memory and time to
	// list than to refuse, and more runs than anyone trains at once.
	MaxPoints = 10000
	// MaxNameBytes bounds a run's name, which names its directory
	// (DIR/runs/NAME) and its thumbnail (DIR/thumbs/NAME.png): file
	// systems take 255 bytes per name.
	MaxNameBytes = 200
)

// ReadFile reads and parses the sweep file path exactly as 'train
// --config' reads a config file: only a regular file (a FIFO, a device such
// as /dev/zero or a directory is refused in one line rather than read
// without end) of at most data.MaxConfigBytes, holding one YAML document. It
// returns the spec and the file's bytes.
func ReadFile(path string, opt ParseOptions) (*Spec, []byte, error) {
	src, err := data.ReadRegularFile(path, "sweep file", data.MaxConfigBytes)
	if err != nil {
		return nil, nil, err
	}
	spec, err := Parse(src, "sweep file "+path, opt)
	if err != nil {
		return nil, nil, err
	}
	return spec, src, nil
}

// Parse reads a sweep file. Every problem is reported with the file, the
// line and the key: unknown top-level or section keys, unknown dotted config
// keys (with the close ones), values of the wrong type, empty grids. The
// resulting points are not yet validated; Expand does that.
func Parse(src []byte, source string, opt ParseOptions) (*Spec, error) {
	s := &Spec{Source: source}
	// One document, as in a config file: a second one (after ---) is
	// refused rather than ignored.
	doc, err := train.OneYAMLDocument(src, source, "sweep file")
	if err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty; a sweep file needs at least a base section with a preset", source)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: line %d: expected a mapping with keys %s", source, root.Line, strings.Join(topKeys, ", "))
	}
	seen := map[string]bool{}
	var base *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, fmt.Errorf("%s: line %d: key %q given twice", source, k.Line, k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "base":
			base = v
			err = s.parseBase(v)
		case "grid":
			err = s.parseGrid(v)
		case "variants":
			err = s.parseVariants(v)
		case "analyze":
			err = s.parseAnalyze(v, opt)
		default:
			return nil, fmt.Errorf("%s: line %d: unknown top-level key %q; allowed: %s", source, k.Line, k.Value, strings.Join(topKeys, ", "))
		}
		if err != nil {
			return nil, err
		}
	}
	if base == nil {
		return nil, fmt.Errorf("%s: no base section; give at least base: {preset: NAME} (presets: %s)", source, strings.Join(train.PresetNames, ", "))
	}
	return s, nil
}

func (s *Spec) errf(n *yaml.Node, format string, a ...any) error {
	return fmt.Errorf("%s: line %d: %s", s.Source, n.Line, fmt.Sprintf(format, a...))
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (s *Spec) mapping(n *yaml.Node, what string) error {
	if n.Kind != yaml.MappingNode && !isNull(n) {
		return s.errf(n, "%s must be a mapping", what)
	}
	return nil
}

func (s *Spec) parseBase(n *yaml.Node) error {
	if err := s.mapping(n, "base"); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "preset":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
				return s.errf(v, "base.preset must be a preset name (%s)", strings.Join(train.PresetNames, ", "))
			}
			if _, err := train.Preset(v.Value); err != nil {
				return s.errf(v, "base.preset: %v", err)
			}
			s.Preset = v.Value
		case "config":
			if err := s.mapping(v, "base.config"); err != nil {
				return err
			}
			sets, err := s.settings(v, "")
			if err != nil {
				return err
			}
			s.Base = sets
		default:
			return s.errf(k, "unknown key %q in base; allowed: preset, config", k.Value)
		}
	}
	if s.Preset == "" {
		return s.errf(n, "base: no preset; name one of %s", strings.Join(train.PresetNames, ", "))
	}
	return nil
}

// settings flattens a mapping of config values: a key is a dotted path
// (loss.lambda_cap: 0), or a section name holding a mapping of its keys, as
// in a --config file (loss: {lambda_cap: 0}).
func (s *Spec) settings(n *yaml.Node, prefix string) ([]Setting, error) {
	var out []Setting
	if isNull(n) {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := k.Value
		if prefix != "" {
			path = prefix + "." + k.Value
		}
		if prefix == "" && !strings.Contains(path, ".") && isSection(path) {
			if v.Kind != yaml.MappingNode {
				return nil, s.errf(v, "section %s must be a mapping of its keys (or write %s.KEY: VALUE)", path, path)
			}
			sub, err := s.settings(v, path)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		f, err := s.field(k, path)
		if err != nil {
			return nil, err
		}
		val, err := s.value(f, v)
		if err != nil {
			return nil, err
		}
		out = append(out, Setting{Key: path, Value: val, Line: k.Line})
	}
	return out, nil
}

func isSection(name string) bool {
	for _, f := range train.Fields() {
		if sec, _, _ := strings.Cut(f.Path, "."); sec == name {
			return true
		}
	}
	return false
}

// field looks up a dotted config key, naming close ones when it is unknown.
func (s *Spec) field(k *yaml.Node, path string) (train.Field, error) {
	if f, ok := train.FieldByPath(path); ok {
		return f, nil
	}
	return train.Field{}, s.errf(k, "unknown config key %q; %s", path, closeKeys(path))
}

// closeKeys lists config keys near path: small edit distance, the same
// leaf name in another section, or failing those the keys of its section.
func closeKeys(path string) string {
	type cand struct {
		path string
		d    int
	}
	var cs []cand
	sec, leaf, _ := strings.Cut(path, ".")
	if leaf == "" {
		leaf = sec
	}
	for _, f := range train.Fields() {
		_, fl, _ := strings.Cut(f.Path, ".")
		d := editdist.Distance(path, f.Path)
		if dl := editdist.Distance(leaf, fl); dl < d {
			d = dl
		}
		if editdist.Close(d, len(leaf)) {
			cs = append(cs, cand{f.Path, d})
		}
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].d < cs[b].d })
	var names []string
	for _, c := range cs {
		if len(names) == 5 {
			break
		}
		names = append(names, c.path)
	}
	if len(names) > 0 {
		return "close ones: " + strings.Join(names, ", ")
	}
	for _, f := range train.Fields() {
		if strings.HasPrefix(f.Path, sec+".") {
			names = append(names, f.Path)
		}
	}
	if len(names) > 0 {
		return "keys of section " + sec + ": " + strings.Join(names, ", ")
	}
	var secs []string
	for _, f := range train.Fields() {
		s, _, _ := strings.Cut(f.Path, ".")
		if len(secs) == 0 || secs[len(secs)-1] != s {
			secs = append(secs, s)
		}
	}
	return "keys are SECTION.KEY with sections " + strings.Join(secs, ", ")
}

// value decodes a scalar node as the field's type, strictly: a string field
// takes only strings, an integer field only integers, a float field
// integers or floats, a boolean field only true or false.
func (s *Spec) value(f train.Field, v *yaml.Node) (any, error) {
	if v.Kind != yaml.ScalarNode || isNull(v) {
		return nil, s.errf(v, "%s must be a single value", f.Path)
	}
	want := map[reflect.Kind]string{reflect.Int: "an integer", reflect.Int64: "an integer", reflect.Uint64: "an integer >= 0",
		reflect.Float64: "a number", reflect.String: "a string", reflect.Bool: "true or false"}[f.Kind]
	bad := func() error {
		return s.errf(v, "%s must be %s, got %q", f.Path, want, v.Value)
	}
	switch f.Kind {
	case reflect.String:
		if v.Tag != "!!str" {
			return nil, bad()
		}
		return v.Value, nil
	case reflect.Int, reflect.Int64:
		x, ok := decodeTagged[int64](v, "!!int")
		switch {
		case !ok:
			return nil, bad()
		case f.Kind == reflect.Int64:
			return x, nil
		case x < math.MinInt32 || x > math.MaxInt32:
			return nil, bad()
		}
		return int(x), nil
	case reflect.Uint64:
		if x, ok := decodeTagged[uint64](v, "!!int"); ok {
			return x, nil
		}
		return nil, bad()
	case reflect.Float64:
		if x, ok := decodeTagged[float64](v, "!!int", "!!float"); ok && !math.IsNaN(x) && !math.IsInf(x, 0) {
			return x, nil
		}
		return nil, bad()
	case reflect.Bool:
		if x, ok := decodeTagged[bool](v, "!!bool"); ok {
			return x, nil
		}
		return nil, bad()
	}
	return nil, s.errf(v, "%s: unsupported field type %s", f.Path, f.Kind)
}

// decodeTagged decodes the scalar v as a T; false when v's tag is none of
// tags or it does not decode.
func decodeTagged[T any](v *yaml.Node, tags ...string) (T, bool) {
	var x T
	if !slices.Contains(tags, v.Tag) || v.Decode(&x) != nil {
		return x, false
	}
	return x, true
}

func (s *Spec) parseGrid(n *yaml.Node) error {
	if err := s.mapping(n, "grid"); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, err := s.field(k, k.Value)
		if err != nil {
			return err
		}
		for _, a := range s.Grid {
			if a.Key == k.Value {
				return s.errf(k, "grid key %s given twice", k.Value)
			}
		}
		ax := Axis{Key: k.Value}
		if v.Kind != yaml.SequenceNode {
			return s.errf(v, "grid.%s must be a list of values, e.g. [0, 1, 2]", k.Value)
		}
		if len(v.Content) == 0 {
			return s.errf(v, "grid.%s is an empty list; give at least one value", k.Value)
		}
		seen := map[string]bool{}
		for _, e := range v.Content {
			val, err := s.value(f, e)
			if err != nil {
				return err
			}
			if t := FormatValue(val); seen[t] {
				return s.errf(e, "grid.%s lists %s twice", k.Value, t)
			} else {
				seen[t] = true
			}
			ax.Values = append(ax.Values, val)
		}
		s.Grid = append(s.Grid, ax)
	}
	var keys []string
	for _, a := range s.Grid {
		keys = append(keys, a.Key)
	}
	for i, l := range shortLabels(keys) {
		s.Grid[i].Short = l
	}
	return nil
}

// shortLabels names swept keys in run names: the last path component,
// unless two keys share it, which then keep their full paths.
func shortLabels(keys []string) []string {
	count := map[string]int{}
	for _, k := range keys {
		count[leaf(k)]++
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = leaf(k)
		if count[out[i]] > 1 {
			out[i] = k
		}
	}
	return out
}

func leaf(key string) string { return key[strings.LastIndex(key, ".")+1:] }

func (s *Spec) parseVariants(n *yaml.Node) error {
	if err := s.mapping(n, "variants"); err != nil {
		return err
	}
	s.Variants = []Variant{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		if name == "" || SafeName(name) != name {
			return s.errf(k, "variant name %q: use letters, digits and . _ + - only (it names run directories)", name)
		}
		if seen[name] {
			return s.errf(k, "variant %q given twice", name)
		}
		seen[name] = true
		if err := s.mapping(v, "variant "+name); err != nil {
			return err
		}
		sets, err := s.settings(v, "")
		if err != nil {
			return err
		}
		s.Variants = append(s.Variants, Variant{Name: name, Sets: sets})
	}
	if len(s.Variants) == 0 {
		return s.errf(n, "variants is empty; remove it or name at least one (baseline: {})")
	}
	return nil
}

func (s *Spec) parseAnalyze(n *yaml.Node, opt ParseOptions) error {
	if err := s.mapping(n, "analyze"); err != nil {
		return err
	}
	var allowed []string
	for k := range opt.AnalyzeFlags {
		allowed = append(allowed, k)
	}
	sort.Strings(allowed)
	s.Analyze = []string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := strings.ReplaceAll(k.Value, "_", "-")
		kind, ok := opt.AnalyzeFlags[name]
		if !ok {
			return s.errf(k, "unknown analyze flag %q; allowed: %s", k.Value, strings.Join(allowed, ", "))
		}
		var text string
		bad := func(want string) error { return s.errf(v, "analyze.%s must be %s", k.Value, want) }
		switch kind {
		case FlagList:
			var parts []string
			items := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				items = v.Content
			}
			if len(items) == 0 {
				return bad("a list of numbers, e.g. [1, 2]")
			}
			for _, e := range items {
				var x float64
				if e.Kind != yaml.ScalarNode || (e.Tag != "!!int" && e.Tag != "!!float") || e.Decode(&x) != nil {
					return bad("a list of numbers, e.g. [1, 2]")
				}
				parts = append(parts, FormatValue(x))
			}
			text = strings.Join(parts, ",")
		case FlagInt:
			var x int64
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&x) != nil {
				return bad("an integer")
			}
			text = strconv.FormatInt(x, 10)
		case FlagFloat:
			var x float64
			if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") || v.Decode(&x) != nil {
				return bad("a number")
			}
			text = FormatValue(x)
		case FlagBool:
			var x bool
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&x) != nil {
				return bad("true or false")
			}
			text = strconv.FormatBool(x)
		default:
			if v.Kind != yaml.ScalarNode || isNull(v) {
				return bad("a single value")
			}
			text = v.Value
		}
		if kind == FlagBool {
			s.Analyze = append(s.Analyze, "--"+name+"="+text)
		} else {
			s.Analyze = append(s.Analyze, "--"+name, text)
		}
	}
	return nil
}

// FormatValue writes a config value as it appears in names and tables:
// integers in decimal, floats in their shortest exact form, strings as is.
func FormatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._+=-]+`)

// SafeName makes s usable as a file name on any system: characters other
// than letters, digits and . _ + = - become '-', and a leading '.' (hidden
// files, "..") becomes '_'.
func SafeName(s string) string {
	s = unsafeChars.ReplaceAllString(s, "-")
	if strings.HasPrefix(s, ".") {
		s = "_" + s[1:]
	}
	return s
}

// shorten cuts a run name (ASCII, see SafeName) to n bytes, marking the
// cut with "...".
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Point is one run of a sweep.
type Point struct {
	Index   int
	Name    string
	Variant string    // "" when the sweep has no variants
	Values  []Setting // the grid values, in axis order
	// Overrides are the settings that differ between points: the
	// variant's, then the grid values.
	Overrides []Setting
	Config    train.Config
}

// OverridesText is the point's overrides as "key=value key=value".
func (p *Point) OverridesText() string {
	var parts []string
	for _, s := range p.Overrides {
		parts = append(parts, s.Key+"="+FormatValue(s.Value))
	}
	if len(parts) == 0 {
		return "(base)"
	}
	return strings.Join(parts, " ")
}

// count is the number of points, variants times the number of values of
// every grid key: a product of the lists' lengths, known before any point
// is built (and possibly beyond int).
func (s *Spec) count() *big.Int {
	n := big.NewInt(int64(max(1, len(s.Variants))))
	for _, a := range s.Grid {
		n.Mul(n, big.NewInt(int64(len(a.Values))))
	}
	return n
}

// Size is the number of points: variants times grid combinations
// (math.MaxInt where that is beyond int).
func (s *Spec) Size() int {
	n := s.count()
	if !n.IsInt64() || n.Int64() > math.MaxInt {
		return math.MaxInt
	}
	return int(n.Int64())
}

// checkSize refuses a sweep of more than MaxPoints runs, from the product
// of its lists' lengths, in one line naming the count and the limit.
func (s *Spec) checkSize() error {
	n := s.count()
	if n.Cmp(big.NewInt(MaxPoints)) <= 0 {
		return nil
	}
	var factors []string
	if len(s.Variants) > 0 {
		factors = append(factors, fmt.Sprintf("%d variants", len(s.Variants)))
	}
	for i, a := range s.Grid {
		if i == 0 {
			factors = append(factors, fmt.Sprintf("%d values of %s", len(a.Values), a.Key))
		} else {
			factors = append(factors, fmt.Sprintf("%d of %s", len(a.Values), a.Key))
		}
	}
	return fmt.Errorf("%s: %s runs (%s), over the limit of %d runs per sweep; split it into several sweep files", s.Source, n, strings.Join(factors, " x "), MaxPoints)
}

// Expand builds every point, variants outermost and the grid's first key
// slowest, and validates each point's config: the preset, then base.config,
// then the variant's overrides, then the grid values. A sweep of more than
// MaxPoints runs is refused before any point is built, and so is a run name
// longer than MaxNameBytes.
func (s *Spec) Expand() ([]Point, error) {
	if err := s.checkSize(); err != nil {
		return nil, err
	}
	variants := s.Variants
	if len(variants) == 0 {
		variants = []Variant{{}}
	}
	base, err := train.Preset(s.Preset)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Source, err)
	}
	// Fields looked up once per key: train.FieldByPath walks the config
	// type by reflection.
	fields := map[string]train.Field{}
	apply := func(c *train.Config, sets []Setting) {
		for _, st := range sets {
			f, ok := fields[st.Key]
			if !ok {
				f, _ = train.FieldByPath(st.Key)
				fields[st.Key] = f
			}
			f.Set(c, st.Value)
		}
	}
	apply(&base, s.Base)
	var pts []Point
	names := map[string]int{}
	idx := make([]int, len(s.Grid))
	for _, v := range variants {
		for i := range idx {
			idx[i] = 0
		}
		for {
			p := Point{Index: len(pts), Variant: v.Name, Config: base}
			p.Overrides = append(p.Overrides, v.Sets...)
			var parts []string
			if v.Name != "" {
				parts = append(parts, v.Name)
			}
			for i, a := range s.Grid {
				st := Setting{Key: a.Key, Value: a.Values[idx[i]]}
				p.Values = append(p.Values, st)
				p.Overrides = append(p.Overrides, st)
				parts = append(parts, a.Short+"="+FormatValue(st.Value))
			}
			apply(&p.Config, p.Overrides)
			p.Name = "base"
			if len(parts) > 0 {
				p.Name = SafeName(strings.Join(parts, "_"))
			}
			if len(p.Name) > MaxNameBytes {
				return nil, fmt.Errorf("%s: run %d (%s): its name is %d bytes long, over the limit of %d (it names the run's directory); use shorter variant names or values", s.Source, p.Index, shorten(p.Name, 60), len(p.Name), MaxNameBytes)
			}
			if j, dup := names[p.Name]; dup {
				return nil, fmt.Errorf("%s: runs %d and %d would both be named %s (after making the values file-name safe); change a variant name or a value", s.Source, j, p.Index, p.Name)
			}
			names[p.Name] = p.Index
			if err := p.Config.Validate(); err != nil {
				return nil, fmt.Errorf("%s: run %d (%s): %w", s.Source, p.Index, p.Name, err)
			}
			pts = append(pts, p)
			// Odometer: the last axis turns fastest.
			i := len(idx) - 1
			for ; i >= 0; i-- {
				idx[i]++
				if idx[i] < len(s.Grid[i].Values) {
					break
				}
				idx[i] = 0
			}
			if i < 0 {
				break
			}
		}
	}
	return pts, nil
}
