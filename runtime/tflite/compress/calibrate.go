package compress

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Range is the interval of values a float tensor took over the calibration
// set.
type Range struct{ Min, Max float32 }

// Calibration maps tensor indices of subgraph 0 to their observed ranges.
type Calibration struct {
	Ranges  map[int]Range
	Samples int
}

// CalibrationOptions tune Calibrate; nil means defaults.
type CalibrationOptions struct {
	// Percentile, when in (50, 100), clips each range to the values between
	// the (100-P)th and Pth percentiles of a histogram, so that rare
	// outliers do not stretch the int8 scale. 0 or 100 mean min/max.
	Percentile float64
	// Threads per inference.
	Threads int
}

// ErrNoSamples is returned by Calibrate for an empty calibration set.
var ErrNoSamples = errors.New("no calibration samples")

// histBins is the resolution of the percentile histogram.
const histBins = 2048

// Calibrate runs the float model over samples (one []byte per model input,
// raw little-endian float32 in subgraph input order) and records the range
// of every float activation tensor: the graph inputs and the output of
// every operator. It sees intermediate tensors by making them all graph
// outputs of a copy of the model, which the interpreter keeps alive for the
// whole invocation; the runtime needs no hook for it.
func Calibrate(model []byte, samples [][][]byte, opts *CalibrationOptions) (*Calibration, error) {
	if opts == nil {
		opts = &CalibrationOptions{}
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("calibrate: %w", ErrNoSamples)
	}
	if p := opts.Percentile; p != 0 && (p <= 50 || p > 100) {
		return nil, fmt.Errorf("calibrate: percentile %g: want a value in (50, 100]", p)
	}
	m, err := Read(model)
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	if err := checkFloatModel(m); err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	sg := m.Subgraphs[0]
	watch := activations(m)
	outs := slices.Clone(sg.Outputs)
	pos := map[int]int{} // tensor -> output position in the copy
	for k, o := range outs {
		pos[int(o)] = k
	}
	for _, t := range watch {
		if _, ok := pos[t]; !ok {
			pos[t] = len(outs)
			outs = append(outs, int32(t))
		}
	}
	sg.Outputs = outs
	data, err := Write(m)
	if err != nil {
		return nil, fmt.Errorf("calibrate: instrumented copy: %w", err)
	}
	tm, err := tflite.Load(data)
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	it, err := tflite.NewInterpreter(tm, &tflite.Options{Threads: opts.Threads})
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	run := func(s int, visit func(t int, v []float32)) error {
		in := samples[s]
		if len(in) != it.NumInputs() {
			return fmt.Errorf("calibrate: sample %d has %d inputs; the model has %d", s, len(in), it.NumInputs())
		}
		for i, b := range in {
			t := it.Input(i)
			if len(b) != len(t.Data) {
				return fmt.Errorf("calibrate: sample %d input %d has %d bytes; tensor %v needs %d", s, i, len(b), t, len(t.Data))
			}
			copy(t.Data, b)
		}
		if err := it.Invoke(); err != nil {
			return fmt.Errorf("calibrate: sample %d: %w", s, err)
		}
		for _, t := range watch {
			visit(t, it.Output(pos[t]).Float32s())
		}
		return nil
	}
	ranges := make(map[int]Range, len(watch))
	for s := range samples {
		err := run(s, func(t int, v []float32) {
			r, seen := ranges[t]
			if !seen {
				r = Range{float32(math.Inf(1)), float32(math.Inf(-1))}
			}
			for _, x := range v {
				if x < r.Min {
					r.Min = x
				}
				if x > r.Max {
					r.Max = x
				}
			}
			ranges[t] = r
		})
		if err != nil {
			return nil, err
		}
	}
	for t, r := range ranges {
		if math.IsNaN(float64(r.Min)) || math.IsInf(float64(r.Min), 0) || math.IsInf(float64(r.Max), 0) {
			return nil, fmt.Errorf("calibrate: tensor %d %q has no finite range (%g..%g)", t, sg.Tensors[t].Name, r.Min, r.Max)
		}
	}
	if p := opts.Percentile; p != 0 && p != 100 {
		hists := make(map[int][]int64, len(watch))
		for _, t := range watch {
			hists[t] = make([]int64, histBins)
		}
		for s := range samples {
			err := run(s, func(t int, v []float32) {
				r, h := ranges[t], hists[t]
				w := float64(r.Max - r.Min)
				if w <= 0 {
					return
				}
				for _, x := range v {
					b := int(float64(x-r.Min) / w * histBins)
					h[min(max(b, 0), histBins-1)]++
				}
			})
			if err != nil {
				return nil, err
			}
		}
		for t, h := range hists {
			ranges[t] = clipRange(ranges[t], h, p)
		}
	}
	return &Calibration{Ranges: ranges, Samples: len(samples)}, nil
}

// clipRange narrows r to the bins holding the central p percent of the
// histogram h (bins evenly spread over r), tail by tail.
func clipRange(r Range, h []int64, p float64) Range {
	var n int64
	for _, c := range h {
		n += c
	}
	if n == 0 || r.Max <= r.Min {
		return r
	}
	tail := float64(n) * (100 - p) / 100
	w := float64(r.Max-r.Min) / float64(len(h))
	lo, hi := r.Min, r.Max
	var acc int64
	for b, c := range h {
		acc += c
		if float64(acc) > tail {
			lo = r.Min + float32(float64(b)*w)
			break
		}
	}
	acc = 0
	for b := len(h) - 1; b >= 0; b-- {
		acc += h[b]
		if float64(acc) > tail {
			hi = r.Min + float32(float64(b+1)*w)
			break
		}
	}
	return Range{max(lo, r.Min), min(hi, r.Max)}
}

// activations lists the float32 tensors of subgraph 0 that hold run-time
// values: the graph inputs and every operator output.
func activations(m *schema.ModelT) []int {
	sg := m.Subgraphs[0]
	seen := map[int]bool{}
	var out []int
	add := func(t int32) {
		if t < 0 || int(t) >= len(sg.Tensors) || seen[int(t)] {
			return
		}
		if tt := sg.Tensors[t]; tt.Type == schema.TensorTypeFLOAT32 && bufferData(m, tt) == nil {
			seen[int(t)] = true
			out = append(out, int(t))
		}
	}
	for _, t := range sg.Inputs {
		add(t)
	}
	for _, op := range sg.Operators {
		for _, t := range op.Outputs {
			add(t)
		}
	}
	return out
}
