package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// SVDFParams are SVDF's options.
type SVDFParams struct {
	Rank                     int
	Activation               Activation
	AsymmetricQuantizeInputs bool
}

// svdfShape is what the operand shapes give.
type svdfShape struct {
	batch, nIn, nFilter, nUnit, nMemory, rank int
}

// SVDF is the singular value decomposition filter (a rank-limited
// convolution over time): each Eval shifts the state (a variable tensor
// of [batch, memory·filters]) one step back in time, appends the feature
// projection of the input, then filters the history with the time weights
// and sums each unit's rank filters. bias may be nil. float32 runs
// TFLite's float kernel; int8 input with int16 or int8 state and time
// weights runs the integer kernel; float input with int8 weights TFLite's
// hybrid kernel.
func SVDF(cfg *Config, p SVDFParams, in, wFeature, wTime, bias, state, out *tensor.Tensor) (Kernel, error) {
	var s svdfShape
	if in.Rank() != 2 || wFeature.Rank() != 2 || wTime.Rank() != 2 {
		return nil, fmt.Errorf("input %v, feature weights %v and time weights %v must have rank 2", in.Shape, wFeature.Shape, wTime.Shape)
	}
	s.batch, s.nIn = in.Shape[0], in.Shape[1]
	s.nFilter, s.nMemory, s.rank = wFeature.Shape[0], wTime.Shape[1], p.Rank
	if s.rank < 1 || s.nFilter%s.rank != 0 {
		return nil, fmt.Errorf("rank %d does not divide the %d filters", s.rank, s.nFilter)
	}
	s.nUnit = s.nFilter / s.rank
	if wFeature.Shape[1] != s.nIn || wTime.Shape[0] != s.nFilter || s.nMemory < 1 || s.batch < 1 {
		return nil, fmt.Errorf("feature weights %v and time weights %v do not fit input %v", wFeature.Shape, wTime.Shape, in.Shape)
	}
	if bias != nil && (bias.Rank() != 1 || bias.Shape[0] != s.nUnit) {
		return nil, fmt.Errorf("bias %v; want [%d]", bias.Shape, s.nUnit)
	}
	if state.Rank() != 2 || state.Shape[0] != s.batch || state.Shape[1] != s.nMemory*s.nFilter {
		return nil, fmt.Errorf("state %v; want [%d %d]", state.Shape, s.batch, s.nMemory*s.nFilter)
	}
	for _, t := range []*tensor.Tensor{wFeature, wTime, bias} {
		if t != nil && !t.Const {
			return nil, unsupportedf("SVDF weights %q are computed at run time; only constant weights are supported", t.Name)
		}
	}
	out.Shape = append(out.Shape[:0], s.batch, s.nUnit)
	switch {
	case in.Type == tensor.Float32 && wFeature.Type == tensor.Float32:
		return newSVDFFloat(cfg, p, s, in, wFeature, wTime, bias, state, out)
	case in.Type == tensor.Int8:
		return newSVDFInt(cfg, p, s, in, wFeature, wTime, bias, state, out)
	case in.Type == tensor.Float32 && wFeature.Type == tensor.Int8:
		return newSVDFHybrid(cfg, p, s, in, wFeature, wTime, bias, state, out)
	}
	return nil, unsupportedf("SVDF with %s input and %s weights", in.Type, wFeature.Type)
}

type svdfFloat struct {
	s         svdfShape
	litert    bool
	act       func(float32) float32
	x, st, y  *tensor.Tensor
	wf, wt, b []float32
	scratch   []float32
	hyb       *svdfHybrid
}

func newSVDFFloat(cfg *Config, p SVDFParams, s svdfShape, in, wFeature, wTime, bias, state, out *tensor.Tensor) (Kernel, error) {
	for _, t := range []*tensor.Tensor{wTime, bias, state, out} {
		if t != nil {
			if err := CheckType(t.Name, t, tensor.Float32); err != nil {
				return nil, err
			}
		}
	}
	act, err := lstmFloatActivation(p.Activation)
	if err != nil {
		return nil, err
	}
	k := &svdfFloat{s: s, litert: cfg.Arithmetic == LiteRT, act: act, x: in, st: state, y: out,
		wf: wFeature.Float32s(), wt: wTime.Float32s(), b: floatsOf(bias), scratch: make([]float32, s.batch*s.nFilter)}
	return k, nil
}

func (k *svdfFloat) Eval() error {
	s := &k.s
	x, st, y := k.x.Float32s(), k.st.Float32s(), k.y.Float32s()
	copy(st, st[1:])
	if hy := k.hyb; hy != nil {
		// TFLite: the products start from zero and are skipped for an
		// all-zero input.
		clear(k.scratch)
		if !allZero(x) {
			hy.rows.quantize(x, s.batch, s.nIn, hy.asym)
			hybridMatVecAcc(hy.w, s.nFilter, s.nIn, &hy.rows, hy.scale, hy.sums, s.batch, k.scratch)
		}
		for i, v := range k.scratch {
			st[i*s.nMemory+s.nMemory-1] = v
		}
	}
	// Feature projection into the newest slot of every filter's history.
	for b := 0; b < s.batch && k.hyb == nil; b++ {
		xr := x[b*s.nIn : (b+1)*s.nIn]
		for f := 0; f < s.nFilter; f++ {
			var dot float32
			for i, w := range k.wf[f*s.nIn : (f+1)*s.nIn] {
				dot += w * xr[i]
			}
			st[(b*s.nFilter+f)*s.nMemory+s.nMemory-1] = dot
		}
	}
	// Time filtering.
	for b := 0; b < s.batch; b++ {
		for f := 0; f < s.nFilter; f++ {
			h := st[(b*s.nFilter+f)*s.nMemory : (b*s.nFilter+f+1)*s.nMemory]
			var dot float32
			for j, w := range k.wt[f*s.nMemory : (f+1)*s.nMemory] {
				dot += w * h[j]
			}
			k.scratch[b*s.nFilter+f] = dot
		}
	}
	// Rank reduction and bias: TFLite sums a unit's filters, then adds
	// the bias; TFLite Micro starts from the bias.
	for b := 0; b < s.batch; b++ {
		for u := 0; u < s.nUnit; u++ {
			var v float32
			if !k.litert && k.b != nil {
				v = k.b[u]
			}
			for r := 0; r < s.rank; r++ {
				v += k.scratch[b*s.nFilter+u*s.rank+r]
			}
			if k.litert && k.b != nil {
				v += k.b[u]
			}
			y[b*s.nUnit+u] = k.act(v)
		}
	}
	return nil
}

// svdfInt is the integer SVDF: int8 input and output, int16 (or int8)
// state and time weights, int32 bias.
type svdfInt struct {
	s               svdfShape
	x, st, y        *tensor.Tensor
	state16         bool
	wf              []int8
	wt16            []int16
	wt8             []int8
	b               []int32
	inZP, outZP     int32
	stZP            int32
	m1, m2          int32
	sh1, sh2        int
	stLo, stHi      int32
	actLo, actHi    int32
	scratch, outAcc []int32
}

func newSVDFInt(cfg *Config, p SVDFParams, s svdfShape, in, wFeature, wTime, bias, state, out *tensor.Tensor) (Kernel, error) {
	if err := CheckType("feature weights", wFeature, tensor.Int8); err != nil {
		return nil, err
	}
	if err := CheckType("output", out, tensor.Int8); err != nil {
		return nil, err
	}
	litert := cfg.Arithmetic == LiteRT
	if err := CheckType("time weights", wTime, tensor.Int16, tensor.Int8); err != nil {
		return nil, err
	}
	if err := CheckType("state", state, wTime.Type); err != nil {
		return nil, err
	}
	if bias != nil {
		if err := CheckType("bias", bias, tensor.Int32); err != nil {
			return nil, err
		}
	}
	for _, t := range []*tensor.Tensor{in, wFeature, wTime, state, out} {
		if err := CheckQuantized(t.Name, t); err != nil {
			return nil, err
		}
	}
	k := &svdfInt{s: s, x: in, st: state, y: out, state16: state.Type == tensor.Int16, wf: wFeature.Int8s(),
		inZP: in.ZeroPoint(), outZP: out.ZeroPoint(),
		scratch: make([]int32, s.batch*s.nFilter), outAcc: make([]int32, s.batch*s.nUnit)}
	if !litert || state.Type == tensor.Int8 {
		// TFLite assumes a symmetric int16 state; TFLite Micro, and
		// TFLite with an int8 state, use its zero point.
		k.stZP = state.ZeroPoint()
	}
	if k.state16 {
		k.wt16 = wTime.Int16s()
	} else {
		k.wt8 = wTime.Int8s()
	}
	if bias != nil {
		k.b = bias.Int32s()
	}
	k.stLo, k.stHi, _ = TypeRange(state.Type)
	// Both runtimes form the products in float32.
	k.m1, k.sh1 = QuantizeMultiplier(float64(in.Scale() * wFeature.Scale() / state.Scale()))
	k.m2, k.sh2 = QuantizeMultiplier(float64(state.Scale() * wTime.Scale() / out.Scale()))
	k.actLo, k.actHi = math.MinInt8, math.MaxInt8
	return k, nil
}

func (k *svdfInt) Eval() error {
	s := &k.s
	x, y := k.x.Int8s(), k.y.Int8s()
	var st16 []int16
	var st8 []int8
	if k.state16 {
		st16 = k.st.Int16s()
		copy(st16, st16[1:])
	} else {
		st8 = k.st.Int8s()
		copy(st8, st8[1:])
	}
	for b := 0; b < s.batch; b++ {
		xr := x[b*s.nIn : (b+1)*s.nIn]
		for f := 0; f < s.nFilter; f++ {
			var dot int32
			for i, w := range k.wf[f*s.nIn : (f+1)*s.nIn] {
				dot += int32(w) * (int32(xr[i]) - k.inZP)
			}
			v := Clamp(MultiplyByQuantizedMultiplier(dot, k.m1, k.sh1), k.stLo, k.stHi) + k.stZP
			at := (b*s.nFilter+f)*s.nMemory + s.nMemory - 1
			if k.state16 {
				st16[at] = int16(v)
			} else {
				st8[at] = int8(v)
			}
		}
	}
	for b := 0; b < s.batch; b++ {
		for f := 0; f < s.nFilter; f++ {
			base := (b*s.nFilter + f) * s.nMemory
			var dot int32
			if k.state16 {
				for j, w := range k.wt16[f*s.nMemory : (f+1)*s.nMemory] {
					dot += int32(w) * (int32(st16[base+j]) - k.stZP)
				}
			} else {
				for j, w := range k.wt8[f*s.nMemory : (f+1)*s.nMemory] {
					dot += int32(w) * (int32(st8[base+j]) - k.stZP)
				}
			}
			k.scratch[b*s.nFilter+f] = dot
		}
	}
	for b := 0; b < s.batch; b++ {
		for u := 0; u < s.nUnit; u++ {
			var v int32
			if k.b != nil {
				v = k.b[u]
			}
			for r := 0; r < s.rank; r++ {
				v += k.scratch[b*s.nFilter+u*s.rank+r]
			}
			v = MultiplyByQuantizedMultiplier(v, k.m2, k.sh2) + k.outZP
			y[b*s.nUnit+u] = int8(Clamp(v, k.actLo, k.actHi))
		}
	}
	return nil
}

// newSVDFHybrid is TFLite's EvalHybridSVDF: float32 input, state, bias
// and output with int8 weights. The time weights are dequantized once
// (w·scale in float32); each Eval quantizes the input row by row
// (symmetric, or asymmetric with asymmetric_quantize_inputs) for the
// feature product, whose float result enters the state; the rest is the
// float kernel in TFLite's order.
func newSVDFHybrid(cfg *Config, p SVDFParams, s svdfShape, in, wFeature, wTime, bias, state, out *tensor.Tensor) (Kernel, error) {
	for _, w := range []*tensor.Tensor{wFeature, wTime} {
		if err := CheckType("SVDF weights", w, tensor.Int8); err != nil {
			return nil, err
		}
		if err := CheckQuantized(w.Name, w); err != nil {
			return nil, err
		}
		if w.Quant.PerChannel() || w.ZeroPoint() != 0 {
			return nil, unsupportedf("hybrid SVDF weights %q: want per-tensor symmetric quantization", w.Name)
		}
	}
	for _, t := range []*tensor.Tensor{bias, state, out} {
		if t != nil {
			if err := CheckType(t.Name, t, tensor.Float32); err != nil {
				return nil, err
			}
		}
	}
	act, err := lstmFloatActivation(p.Activation)
	if err != nil {
		return nil, err
	}
	wt := make([]float32, s.nFilter*s.nMemory)
	for i, v := range wTime.Int8s() {
		wt[i] = float32(v) * wTime.Scale()
	}
	k := &svdfFloat{s: s, litert: true, act: act, x: in, st: state, y: out, wt: wt, b: floatsOf(bias),
		scratch: make([]float32, s.batch*s.nFilter),
		hyb: &svdfHybrid{w: wFeature.Int8s(), scale: wFeature.Scale(), asym: p.AsymmetricQuantizeInputs,
			rows: newHybridRows(s.batch, s.nIn), sums: rowSums(wFeature.Int8s(), s.nFilter, s.nIn)}}
	return k, nil
}

// svdfHybrid is the int8 feature projection of a hybrid SVDF.
type svdfHybrid struct {
	w     []int8
	scale float32
	asym  bool
	rows  hybridRows
	sums  []int32
}
