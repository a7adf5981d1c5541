package analysis

import (
	"math"
	"strconv"
)

// Num is a float64 that encodes NaN and infinities as JSON null, since JSON
// has no NaN and an undefined score must not be confused with zero.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', 8, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler; null reads as NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// MapScore is the JSON form of one map's Score, as both summary.json and
// the gridscore command print it: score60 and score90 of the chosen
// scorer, and the other scorer's under its name (banino_score60, ... or
// rings_score60, ...).
type MapScore struct {
	Unit        int `json:"unit"`
	Score60     Num `json:"score60"`
	Score90     Num `json:"score90"`
	Scale       Num `json:"scale"`       // metres (bins when no bin size is known)
	Orientation Num `json:"orientation"` // degrees in [0, 60)
	OtherScores
}

// OtherScores are the scores of the scorer that was not chosen; exactly
// one pair is set.
type OtherScores struct {
	BaninoScore60 *Num `json:"banino_score60,omitempty"`
	BaninoScore90 *Num `json:"banino_score90,omitempty"`
	RingsScore60  *Num `json:"rings_score60,omitempty"`
	RingsScore90  *Num `json:"rings_score90,omitempty"`
}

// NewOtherScores returns the scores of s that the named scorer did not
// give as Score60/Score90.
func NewOtherScores(s Score, scorer string) OtherScores {
	p := func(v float64) *Num { n := Num(v); return &n }
	if scorer == ScorerRings {
		return OtherScores{BaninoScore60: p(s.BaninoScore60), BaninoScore90: p(s.BaninoScore90)}
	}
	return OtherScores{RingsScore60: p(s.RingsScore60), RingsScore90: p(s.RingsScore90)}
}

// NewMapScore converts a Score made with the named scorer for JSON output.
func NewMapScore(unit int, s Score, scorer string) MapScore {
	return MapScore{Unit: unit, Score60: Num(s.Score60), Score90: Num(s.Score90), Scale: Num(s.Scale), Orientation: Num(s.Orientation),
		OtherScores: NewOtherScores(s, scorer)}
}
