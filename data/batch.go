package data

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Batch is one microbatch of B trajectories of T velocity steps each.
// Vel is row-major [B][T][2] in metres per step. Every trajectory starts at
// the origin; positions follow by summing velocities.
type Batch struct {
	B, T int
	Vel  []float32
}

// Validate reports a shape mismatch between B, T and Vel.
func (b *Batch) Validate() error {
	if b.B < 1 || b.T < 1 {
		return fmt.Errorf("batch has B=%d, T=%d: both must be at least 1", b.B, b.T)
	}
	if len(b.Vel) != b.B*b.T*2 {
		return fmt.Errorf("batch velocities hold %d values, want B*T*2 = %d", len(b.Vel), b.B*b.T*2)
	}
	return nil
}

// Positions returns x_{b,t} = sum_{s<=t} v_{b,s}, row-major [B][T][2]: the
// position after the t-th step. Sums are sequential float32, as a float32
// cumulative sum in PyTorch would compute them, so that loss masks computed
// from them agree across implementations.
func (b *Batch) Positions() []float32 {
	pos := make([]float32, len(b.Vel))
	for i := 0; i < b.B; i++ {
		var x, y float32
		for t := 0; t < b.T; t++ {
			k := (i*b.T + t) * 2
			x += b.Vel[k]
			y += b.Vel[k+1]
			pos[k], pos[k+1] = x, y
		}
	}
	return pos
}

// Augmentation names accepted by the sampler.
const (
	AugmentPermute = "permute" // all trajectories permute one velocity set
	AugmentNone    = "none"    // ablation: independent velocities per trajectory
)

// Velocity distributions accepted by the sampler (Sampler.Velocities).
const (
	// VelocitiesBox draws each component from Uniform(-MaxSpeed, MaxSpeed),
	// as the paper does: a square of velocities, with the square's
	// four-fold symmetry.
	VelocitiesBox = "box"
	// VelocitiesDisk draws velocities uniformly from the disk with the
	// box's area (radius 2 MaxSpeed/sqrt(pi)), so every direction is
	// equally likely at every speed and the mean step is almost the box's
	// (0.1128 vs 0.1148 m at MaxSpeed 0.15).
	VelocitiesDisk = "disk"
)

// MaxSpeedLimit bounds the sampler's max speed (the paper uses 0.15 metres
// per step): beyond it float32 positions and distances lose all precision
// or overflow.
const MaxSpeedLimit = 1e6

// Sampler draws microbatches as the package doc describes. Its whole state is
// a PCG generator, so it can be saved in a checkpoint and resumed exactly.
type Sampler struct {
	B, T     int
	Augment  string
	MaxSpeed float32 // each velocity component is Uniform(-MaxSpeed, MaxSpeed)
	// MinSpeedFactor < 1 multiplies each drawn velocity by its own factor,
	// log-uniform in [MinSpeedFactor, 1]: the data then holds steps of every
	// length down to MinSpeedFactor x the paper's, which a network must
	// integrate to follow slow walks. 1 (the default) is the paper's data and
	// draws nothing more.
	MinSpeedFactor float64
	// Velocities is VelocitiesBox (the default) or VelocitiesDisk.
	Velocities string
	// VelocitySets > 1 (with AugmentPermute) splits the microbatch into
	// that many groups of trajectories in order, each group permuting its
	// own set of T velocities: groups end at different points, so the
	// microbatch covers a wider region and pairs across groups are
	// compared too. 1 (the default) is the paper's one set and draws
	// exactly what it always drew.
	VelocitySets int
	pcg          *rand.PCG
	rng          *rand.Rand
}

// NewSampler returns a sampler seeded with seed.
func NewSampler(seed uint64, B, T int, augment string, maxSpeed float64) (*Sampler, error) {
	if B < 1 || T < 1 {
		return nil, fmt.Errorf("sampler: batch size %d and sequence length %d must be at least 1", B, T)
	}
	if augment != AugmentPermute && augment != AugmentNone {
		return nil, fmt.Errorf("sampler: augment %q is not one of %q, %q", augment, AugmentPermute, AugmentNone)
	}
	if !(maxSpeed > 0) {
		return nil, fmt.Errorf("sampler: max speed %g must be positive", maxSpeed)
	}
	if maxSpeed > MaxSpeedLimit {
		return nil, fmt.Errorf("sampler: max speed %g (data.max_speed, --max-speed) is over %g metres per step; positions would overflow float32", maxSpeed, MaxSpeedLimit)
	}
	pcg := rand.NewPCG(seed, 0x5eed9a1d)
	return &Sampler{B: B, T: T, Augment: augment, MaxSpeed: float32(maxSpeed), MinSpeedFactor: 1, Velocities: VelocitiesBox, VelocitySets: 1, pcg: pcg, rng: rand.New(pcg)}, nil
}

// SetVelocities sets the velocity distribution: VelocitiesBox or
// VelocitiesDisk.
func (s *Sampler) SetVelocities(kind string) error {
	if kind != VelocitiesBox && kind != VelocitiesDisk {
		return fmt.Errorf("sampler: velocities %q is not one of %q, %q", kind, VelocitiesBox, VelocitiesDisk)
	}
	s.Velocities = kind
	return nil
}

// SetMinSpeedFactor sets MinSpeedFactor, which must be in (0, 1].
func (s *Sampler) SetMinSpeedFactor(f float64) error {
	if !(f > 0 && f <= 1) {
		return fmt.Errorf("sampler: min speed factor %g must be in (0, 1]", f)
	}
	s.MinSpeedFactor = f
	return nil
}

// SetVelocitySets sets VelocitySets, which must be from 1 to B, and above 1
// only with AugmentPermute.
func (s *Sampler) SetVelocitySets(k int) error {
	if k < 1 || k > s.B {
		return fmt.Errorf("sampler: %d velocity sets: want 1 to the batch size %d", k, s.B)
	}
	if k > 1 && s.Augment != AugmentPermute {
		return fmt.Errorf("sampler: %d velocity sets need augment %q (with %q every trajectory has its own velocities)", k, AugmentPermute, s.Augment)
	}
	s.VelocitySets = k
	return nil
}

// SetOf is the velocity set trajectory i of a microbatch permutes: the B
// trajectories are cut into VelocitySets groups in order, of sizes that
// differ by at most one.
func (s *Sampler) SetOf(i int) int { return i * s.VelocitySets / s.B }

// scaleSpeeds multiplies each velocity (x, y pair) of v by its own
// log-uniform factor in [MinSpeedFactor, 1], keeping its direction.
func (s *Sampler) scaleSpeeds(v []float32) {
	if s.MinSpeedFactor >= 1 {
		return
	}
	lo := math.Log(s.MinSpeedFactor)
	for i := 0; i+1 < len(v); i += 2 {
		f := float32(math.Exp(lo * s.rng.Float64()))
		v[i] *= f
		v[i+1] *= f
	}
}

func (s *Sampler) uniform() float32 {
	return float32((2*s.rng.Float64() - 1)) * s.MaxSpeed
}

// fill draws len(v)/2 velocities into v (x, y pairs) from the configured
// distribution. Both distributions take two draws of the generator per
// velocity.
func (s *Sampler) fill(v []float32) {
	if s.Velocities != VelocitiesDisk {
		for i := range v {
			v[i] = s.uniform()
		}
		return
	}
	R := 2 * float64(s.MaxSpeed) / math.Sqrt(math.Pi)
	for i := 0; i+1 < len(v); i += 2 {
		r := R * math.Sqrt(s.rng.Float64())
		a := 2 * math.Pi * s.rng.Float64()
		v[i], v[i+1] = float32(r*math.Cos(a)), float32(r*math.Sin(a))
	}
}

// Next draws a fresh microbatch.
func (s *Sampler) Next() *Batch {
	b := &Batch{B: s.B, T: s.T, Vel: make([]float32, s.B*s.T*2)}
	if s.Augment == AugmentNone {
		s.fill(b.Vel)
		s.scaleSpeeds(b.Vel)
		return b
	}
	// Every set is drawn before any permutation, so that one set draws
	// what the sampler always drew.
	sets := max(s.VelocitySets, 1)
	base := make([]float32, sets*s.T*2)
	for k := 0; k < sets; k++ {
		set := base[k*s.T*2 : (k+1)*s.T*2]
		s.fill(set)
		s.scaleSpeeds(set)
	}
	perm := make([]int, s.T)
	for i := 0; i < s.B; i++ {
		for t := range perm {
			perm[t] = t
		}
		s.rng.Shuffle(s.T, func(a, c int) { perm[a], perm[c] = perm[c], perm[a] })
		set := base[s.SetOf(i)*s.T*2:]
		for t, src := range perm {
			k := (i*s.T + t) * 2
			b.Vel[k], b.Vel[k+1] = set[2*src], set[2*src+1]
		}
	}
	return b
}

// State returns the generator state, for checkpoints.
func (s *Sampler) State() ([]byte, error) { return s.pcg.MarshalBinary() }

// SetState restores a state returned by State.
func (s *Sampler) SetState(state []byte) error {
	if len(state) == 0 {
		return errors.New("sampler: empty generator state")
	}
	if err := s.pcg.UnmarshalBinary(state); err != nil {
		return fmt.Errorf("sampler: bad generator state: %w", err)
	}
	return nil
}
