package delegates

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Defaults of the automatic choice (Options.Auto).
const (
	// DefaultAutoBudget bounds the timing of one decision.
	DefaultAutoBudget = 2 * time.Second
	// autoMinRounds and autoMaxRounds bound the timed calls per backend.
	autoMinRounds = 3
	autoMaxRounds = 25
	// QuantTolerance is how many quantized steps an accelerator's integer
	// output may differ from the CPU runtime's and still agree: XNNPACK's
	// requantization and TFLite's reference kernels round differently, a
	// step at a time, and deep int8 networks compound it (person_detect:
	// 3 steps on one input).
	QuantTolerance = 4
	// LabelTolerance is the share of elements of an int64 or bool output
	// (arg-max maps, labels) that may differ.
	LabelTolerance = 0.01
)

// Trial is what the automatic choice measured of one backend on a model:
// its latency as the chain calls it and whether its outputs agree with
// the fallback's on the same inputs.
type Trial struct {
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	Runs     int     `json:"runs"`
	// Agrees is false when the outputs differ from the fallback's beyond
	// the tolerances (Disagreement says where) or a call failed.
	Agrees       bool    `json:"agrees"`
	MaxDiff      float64 `json:"max_diff"`
	Disagreement string  `json:"disagreement,omitempty"`
	// Chosen is true for the backend requests go to first.
	Chosen bool `json:"chosen"`
	// Note says what limited the decision (on the fallback's trial).
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
}

func (t Trial) String() string {
	s := fmt.Sprintf("median %.3g ms over %d runs", t.MedianMS, t.Runs)
	if !t.Agrees {
		s += ", disagrees: " + t.Disagreement
	}
	if t.Chosen {
		s += ", chosen"
	}
	if t.Note != "" {
		s += " (" + t.Note + ")"
	}
	return s
}

// decide times the fallback and every healthy link of cands on the model,
// interleaved, on the same pseudo-random inputs, checks their outputs
// against the fallback's and orders the links that agree and beat the
// fallback by median latency: requests go to the first; none means the
// fallback serves them. Links not in cands keep their earlier figures.
func (c *Chain) decide(ctx context.Context, cands []*link) {
	c.decideMu.Lock()
	defer c.decideMu.Unlock()
	type cand struct {
		l      *link
		s      *slot
		times  []float64
		out    []tensor.Tensor
		trial  Trial
		failed bool
	}
	var cs []*cand
	for _, l := range cands {
		l.mu.Lock()
		if l.state == Healthy && l.slot != nil {
			cs = append(cs, &cand{l: l, s: l.slot})
		}
		l.mu.Unlock()
	}
	var fr Runner
	select {
	case fr = <-c.pool:
	case <-ctx.Done():
		return
	}
	defer func() { c.pool <- fr }()
	ins := trialInputs(c.in)
	ref := make([]tensor.Tensor, len(c.out))
	if err := safeInvoke(ctx, fr, ins, ref); err != nil {
		// Nothing to compare with: the order stays as it was.
		c.fbTrial.Store(&Trial{Note: "no decision: the fallback failed: " + err.Error(), At: c.clock.Now()})
		return
	}
	// The outputs every accelerator is held to: those of
	// Options.AgreeWith on the fallback's variant, or the fallback's when
	// it has none or cannot run the model.
	want, note := ref, ""
	if aw := c.opts.AgreeWith; aw != nil {
		if w, err := agreeOutputs(ctx, aw, c.fb.model, c.fb.variant, ins, len(c.out)); err != nil {
			note = "outputs compared with the fallback's: " + err.Error()
		} else {
			want = w
		}
	}
	budget := c.opts.AutoBudget
	if budget <= 0 {
		budget = DefaultAutoBudget
	}
	call := func(k *cand) (float64, error) {
		actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
		defer cancel()
		start := time.Now()
		if k.out == nil {
			k.out = make([]tensor.Tensor, len(c.out))
		}
		err := c.attempt(actx, k.s, ins, k.out)
		return float64(time.Since(start).Nanoseconds()) / 1e6, err
	}
	// A first call of each (not timed: caches, lazy set-up) gives the
	// outputs to compare.
	// Those that disagree are timed too, for the figures, and never
	// chosen.
	var live []*cand
	for _, k := range cs {
		if _, err := call(k); err != nil {
			k.trial = Trial{Disagreement: "call failed: " + err.Error()}
			continue
		}
		k.trial.MaxDiff, k.trial.Agrees, k.trial.Disagreement = agree(want, k.out)
		live = append(live, k)
	}
	var fbTimes []float64
	start := time.Now()
	for round := 0; round < autoMaxRounds && (round < autoMinRounds || time.Since(start) < budget); round++ {
		if ctx.Err() != nil {
			return
		}
		t0 := time.Now()
		if err := safeInvoke(ctx, fr, ins, ref); err != nil {
			return
		}
		fbTimes = append(fbTimes, float64(time.Since(t0).Nanoseconds())/1e6)
		for _, k := range live {
			if k.failed {
				continue
			}
			ms, err := call(k)
			if err != nil {
				k.failed = true
				k.trial.Agrees, k.trial.Disagreement = false, "call failed: "+err.Error()
				continue
			}
			k.times = append(k.times, ms)
		}
	}
	now := c.clock.Now()
	fb := timed(fbTimes)
	fb.Agrees, fb.At, fb.Note = true, now, note
	for _, k := range cs {
		t := k.trial
		if len(k.times) > 0 {
			m := timed(k.times)
			t.MedianMS, t.MinMS, t.Runs = m.MedianMS, m.MinMS, m.Runs
		}
		t.At = now
		k.l.mu.Lock()
		k.l.trial = &t
		k.l.mu.Unlock()
	}
	c.fbTrial.Store(&fb)
	c.reorder()
}

// agreeOutputs runs model once on b.
func agreeOutputs(ctx context.Context, b Backend, model []byte, variant string, ins []tensor.Tensor, nout int) ([]tensor.Tensor, error) {
	r, err := b.Prepare(ctx, model, variant)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make([]tensor.Tensor, nout)
	if err := safeInvoke(ctx, r, ins, out); err != nil {
		return nil, err
	}
	return out, nil
}

// reorder puts the healthy links that agree and beat the fallback first,
// fastest first; the result is what Run tries.
func (c *Chain) reorder() {
	type ranked struct {
		l  *link
		ms float64
	}
	var rs []ranked
	fbMS := math.Inf(1)
	fb := c.fbTrial.Load()
	if fb != nil && fb.Runs > 0 {
		fbMS = fb.MedianMS
	}
	for _, l := range c.links {
		l.mu.Lock()
		t := l.trial
		ok := l.state == Healthy && t != nil && t.Agrees && t.Runs > 0 && t.MedianMS < fbMS
		l.mu.Unlock()
		if ok {
			rs = append(rs, ranked{l, t.MedianMS})
		}
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].ms < rs[j].ms })
	order := make([]*link, len(rs))
	for i, r := range rs {
		order[i] = r.l
	}
	for _, l := range c.links {
		l.mu.Lock()
		if l.trial != nil {
			l.trial.Chosen = len(order) > 0 && order[0] == l
		}
		l.mu.Unlock()
	}
	if fb != nil {
		f := *fb
		f.Chosen = len(order) == 0
		c.fbTrial.Store(&f)
	}
	c.order.Store(&order)
}

func timed(ms []float64) Trial {
	if len(ms) == 0 {
		return Trial{}
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	return Trial{MedianMS: s[len(s)/2], MinMS: s[0], Runs: len(s)}
}

// trialInputs are deterministic pseudo-random inputs: every byte for
// integer types, values in [-1, 1) for floats.
func trialInputs(specs []Spec) []tensor.Tensor {
	x := uint32(2463534242)
	next := func() uint32 { x ^= x << 13; x ^= x >> 17; x ^= x << 5; return x }
	ins := make([]tensor.Tensor, len(specs))
	for i, s := range specs {
		t := tensor.Tensor{Type: s.Type, Shape: slices.Clone(s.Shape), Data: make([]byte, s.Bytes())}
		switch s.Type {
		case tensor.Float32:
			f := t.Float32s()
			for j := range f {
				f[j] = float32(next()%2000)/1000 - 1
			}
		default:
			for j := range t.Data {
				t.Data[j] = byte(next())
			}
		}
		ins[i] = t
	}
	return ins
}

// agree compares an accelerator's outputs with the fallback's: floats
// within 1e-3 of the output's largest magnitude plus 1 % of the value,
// 8- to 32-bit integers within QuantTolerance steps, int64 and bool
// outputs on all but LabelTolerance of their elements.
func agree(want, got []tensor.Tensor) (maxDiff float64, ok bool, why string) {
	if len(got) != len(want) {
		return 0, false, fmt.Sprintf("%d outputs; the fallback gives %d", len(got), len(want))
	}
	for i := range want {
		w, g := &want[i], &got[i]
		if w.Type != g.Type || len(w.Data) != len(g.Data) {
			return 0, false, fmt.Sprintf("output %d is %s%v; the fallback gives %s%v", i, g.Type, g.Shape, w.Type, w.Shape)
		}
		n := tensor.NumElements(w.Shape)
		switch w.Type {
		case tensor.Float32:
			wf, gf := w.Float32s(), g.Float32s()
			scale := 0.0
			for _, v := range wf {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			for k := range wf {
				d := math.Abs(float64(wf[k]) - float64(gf[k]))
				if math.IsNaN(d) {
					return math.Inf(1), false, fmt.Sprintf("output %d element %d is NaN on one side", i, k)
				}
				maxDiff = math.Max(maxDiff, d)
				if d > 1e-3*max(scale, 1e-6)+1e-2*math.Abs(float64(wf[k])) {
					return maxDiff, false, fmt.Sprintf("output %d element %d: %g; the fallback gives %g", i, k, gf[k], wf[k])
				}
			}
		case tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32:
			for k := range n {
				d := math.Abs(intAt(w, k) - intAt(g, k))
				maxDiff = math.Max(maxDiff, d)
				if d > QuantTolerance {
					return maxDiff, false, fmt.Sprintf("output %d element %d differs by %g steps (more than %d)", i, k, d, QuantTolerance)
				}
			}
		default:
			size := w.Type.Size()
			differ := 0
			for k := range n {
				if string(w.Data[k*size:(k+1)*size]) != string(g.Data[k*size:(k+1)*size]) {
					differ++
				}
			}
			if differ > 0 {
				maxDiff = math.Max(maxDiff, float64(differ))
			}
			if float64(differ) > LabelTolerance*float64(n) {
				return maxDiff, false, fmt.Sprintf("output %d: %d of %d elements differ", i, differ, n)
			}
		}
	}
	return maxDiff, true, ""
}

func intAt(t *tensor.Tensor, k int) float64 {
	switch t.Type {
	case tensor.Int8:
		return float64(int8(t.Data[k]))
	case tensor.UInt8:
		return float64(t.Data[k])
	case tensor.Int16:
		return float64(int16(uint16(t.Data[2*k]) | uint16(t.Data[2*k+1])<<8))
	}
	b := t.Data[4*k:]
	return float64(int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24))
}
