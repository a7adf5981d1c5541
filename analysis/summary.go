package analysis

// The content of an analyze report's summary.json: every number of the
// analysis, in the form the report (package analysis/report) writes and
// ReadSummary reads back.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/gridgpu/gridgpu/data"
)

// Summary is the content of summary.json.
type Summary struct {
	Model struct {
		N          int               `json:"N"`
		H          int               `json:"H"`
		Checkpoint string            `json:"checkpoint,omitempty"`
		Metadata   map[string]string `json:"metadata,omitempty"`
	} `json:"model"`
	Settings SummarySettings `json:"settings"`
	Arenas   []ArenaSummary  `json:"arenas"`
	// Generalisation names the figure of scores, periods and unit counts
	// against arena size.
	Generalisation string `json:"generalisation_figure"`
	// StateSpaces are the modules' state spaces (in one arena).
	StateSpaces []StateSpace `json:"state_spaces"`
	// Training describes the run's training curves (a checkpoint in a run
	// directory only).
	Training *TrainingSummary `json:"training,omitempty"`
	Seconds  float64          `json:"seconds"`
}

// SummarySettings records what the analysis ran with.
type SummarySettings struct {
	Arenas       []float64 `json:"arenas_m"`
	BinsPerMetre int       `json:"bins_per_metre"`
	Trajectories int       `json:"trajectories"`
	Steps        int       `json:"steps"`
	Seed         uint64    `json:"seed"`
	Walks        string    `json:"walks"` // "standard" or "training"
	Motion       Motion    `json:"motion"`
	Start        string    `json:"start"`                   // "origin" or "uniform"
	BurnIn       int       `json:"burn_in_steps,omitempty"` // unbinned steps before each walk (uniform starts)
	// Scorer gives each unit's score60/score90 and the grid units;
	// GridThreshold is the score60 a grid unit exceeds (= Modules.MinScore).
	Scorer          string            `json:"scorer"`
	GridThreshold   float64           `json:"grid_threshold"`
	Modules         ModuleOptions     `json:"modules"`
	Fourier         FourierOptions    `json:"fourier"`
	StateSpace      StateSpaceOptions `json:"state_space"`
	DistanceSamples int               `json:"distance_samples"`
	// The rings of each scorer: banino's in units of the map side (inner,
	// outer), rings' outer radii in units of the SAC's central-peak radius.
	BaninoRings    [][2]float64 `json:"banino_rings_map_side"`
	MaskOuterRadii []float64    `json:"mask_outer_radii_r0"`
}

// ArenaSummary is one arena in summary.json. Scales, periods and ring radii
// are in metres; orientations in degrees modulo 60.
type ArenaSummary struct {
	Side     float64    `json:"side_m"`
	Bins     int        `json:"bins_per_side"`
	BinSize  float64    `json:"bin_size_m"`
	Coverage Coverage   `json:"coverage"`
	Units    []MapScore `json:"units"`
	// Silent units are zero everywhere; SilentCount is their number.
	SilentUnits []int `json:"silent_units"`
	SilentCount int   `json:"silent"`
	// Modules are found by SAC scale; FourierModules by the spacing of
	// the units' Fourier lattices (Fourier has each unit's), and
	// ModuleComparison says whether the two agree.
	Modules          ModuleReport     `json:"modules"`
	Fourier          []FourierUnit    `json:"fourier"`
	LatticeCounts    map[string]int   `json:"lattice_counts"`
	FourierModules   ModuleReport     `json:"fourier_modules"`
	ModuleComparison ModuleComparison `json:"module_comparison"`
	Distance         DistanceCurve    `json:"distance_curve"`
	Figures          ArenaFigures     `json:"figures"`
	Seconds          float64          `json:"seconds"`
}

// ArenaFigures names an arena's PNG files, relative to the output directory.
type ArenaFigures struct {
	Ratemaps   string `json:"ratemaps"`
	SACs       string `json:"sacs"`
	Histograms string `json:"histograms"`
	Modules    string `json:"modules"`
	Fourier    string `json:"fourier"`
}

// TrainingSummary is the "training" object of summary.json.
type TrainingSummary struct {
	RunDir       string `json:"run_dir"`
	MetricsLines int    `json:"metrics_lines"` // usable lines (points)
	Malformed    int    `json:"malformed_lines"`
	Superseded   int    `json:"superseded_lines,omitempty"`
	EvalLines    int    `json:"eval_lines"`
	FirstStep    int64  `json:"first_step"`
	LastStep     int64  `json:"last_step"`
	// Last holds the numbers of the last line (loss terms, lr, ...).
	Last        map[string]float64 `json:"last,omitempty"`
	Weights     *LossWeights       `json:"loss_weights"`
	WeightsNote string             `json:"loss_weights_note,omitempty"`
	// Figures are the PNG files, relative to the report directory.
	Figures []string `json:"figures"`
	// Note says why there are no figures.
	Note string `json:"note,omitempty"`
	// Captions are the figures' one-line captions (index.html only).
	Captions []string `json:"-"`
}

// ReadSummary reads an analyze report's summary.json (a report directory
// or the file itself), a regular file only (data.ReadRegularFile: a FIFO in
// its place is refused, not waited on).
func ReadSummary(path string) (*Summary, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "summary.json")
	}
	b, err := data.ReadRegularFile(path, "analysis summary", 0)
	if err != nil {
		return nil, err
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: not an analyze summary: %v", path, err)
	}
	if len(s.Arenas) == 0 {
		return nil, fmt.Errorf("%s: no arenas in the summary", path)
	}
	return &s, nil
}

// arenaOf returns the arena of side L in s.
func arenaOf(s *Summary, L float64) (*ArenaSummary, error) {
	for i := range s.Arenas {
		if math.Abs(s.Arenas[i].Side-L) < 1e-9 {
			return &s.Arenas[i], nil
		}
	}
	have := make([]float64, len(s.Arenas))
	for i, a := range s.Arenas {
		have[i] = a.Side
	}
	return nil, fmt.Errorf("no %g m arena in the summary (it has %v)", L, have)
}
