package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Operand positions of UNIDIRECTIONAL_SEQUENCE_LSTM (TFLite's
// lstm_shared.h).
const (
	LSTMInput = iota
	LSTMInputToInputWeights
	LSTMInputToForgetWeights
	LSTMInputToCellWeights
	LSTMInputToOutputWeights
	LSTMRecurrentToInputWeights
	LSTMRecurrentToForgetWeights
	LSTMRecurrentToCellWeights
	LSTMRecurrentToOutputWeights
	LSTMCellToInputWeights
	LSTMCellToForgetWeights
	LSTMCellToOutputWeights
	LSTMInputGateBias
	LSTMForgetGateBias
	LSTMCellGateBias
	LSTMOutputGateBias
	LSTMProjectionWeights
	LSTMProjectionBias
	LSTMOutputState
	LSTMCellState
	LSTMInputLayerNorm
	LSTMForgetLayerNorm
	LSTMCellLayerNorm
	LSTMOutputLayerNorm
	LSTMNumInputs
)

// LSTMParams are UNIDIRECTIONAL_SEQUENCE_LSTM's options.
type LSTMParams struct {
	// Activation is the cell gate's and the cell output's activation
	// (TANH in every converter-made model).
	Activation Activation
	// CellClip and ProjClip bound the cell state and the projection
	// output when positive.
	CellClip, ProjClip float32
	// TimeMajor: the input is [time, batch, input] instead of
	// [batch, time, input].
	TimeMajor bool
	// AsymmetricQuantizeInputs selects asymmetric on-the-fly input
	// quantization in the hybrid kernel.
	AsymmetricQuantizeInputs bool
}

// lstmGate indexes the four gates.
const (
	gateInput = iota
	gateForget
	gateCell
	gateOutput
)

// lstmShape is what the operand shapes give.
type lstmShape struct {
	batch, time, nIn, nCell, nOut int
	timeMajor                     bool
	cifg, peephole, layerNorm     bool
	projection                    bool
}

// UnidirectionalSequenceLSTM runs an LSTM over a sequence. in holds the
// LSTMNumInputs operands in TFLite's order (nil for omitted optional ones);
// the output state (hidden) and cell state operands are variable tensors
// the kernel reads and updates, so the state carries over to the next
// Eval. hidden is the operator's effective-hidden-scale intermediate,
// used by the integer kernel in LiteRT arithmetic (nil: the output state's
// quantization). Float models support CIFG, peephole, layer
// normalisation, projection and clipping; int8 models (int8 input and
// hidden state, int16 cell state, int8 weights, int32 biases) the plain
// LSTM, in TFLite Micro's arithmetic (Reference) or TFLite's
// (LiteRT); float models with int8 weights run TFLite's hybrid kernel.
func UnidirectionalSequenceLSTM(cfg *Config, p LSTMParams, in []*tensor.Tensor, hidden, out *tensor.Tensor) (Kernel, error) {
	if len(in) != LSTMNumInputs {
		return nil, fmt.Errorf("%d operands; want %d", len(in), LSTMNumInputs)
	}
	s, err := lstmCheckShapes(p, in)
	if err != nil {
		return nil, err
	}
	if s.timeMajor {
		out.Shape = append(out.Shape[:0], s.time, s.batch, s.nOut)
	} else {
		out.Shape = append(out.Shape[:0], s.batch, s.time, s.nOut)
	}
	x := in[LSTMInput]
	w := in[LSTMInputToForgetWeights]
	switch {
	case x.Type == tensor.Float32 && w.Type == tensor.Float32:
		return newLSTMFloat(p, s, in, out)
	case x.Type == tensor.Float32 && (w.Type == tensor.Int8 || w.Type == tensor.UInt8):
		return newLSTMHybrid(p, s, in, out)
	case x.Type == tensor.Int8 && w.Type == tensor.Int8:
		return newLSTMInt8(cfg, p, s, in, hidden, out)
	}
	return nil, unsupportedf("UNIDIRECTIONAL_SEQUENCE_LSTM with %s input and %s weights", x.Type, w.Type)
}

func lstmCheckShapes(p LSTMParams, in []*tensor.Tensor) (s lstmShape, err error) {
	x := in[LSTMInput]
	if x == nil || x.Rank() != 3 {
		return s, fmt.Errorf("input must have rank 3 ([batch, time, input] or [time, batch, input])")
	}
	s.timeMajor = p.TimeMajor
	if s.timeMajor {
		s.time, s.batch = x.Shape[0], x.Shape[1]
	} else {
		s.batch, s.time = x.Shape[0], x.Shape[1]
	}
	s.nIn = x.Shape[2]
	for _, i := range []int{LSTMInputToForgetWeights, LSTMInputToCellWeights, LSTMInputToOutputWeights,
		LSTMRecurrentToForgetWeights, LSTMRecurrentToCellWeights, LSTMRecurrentToOutputWeights,
		LSTMForgetGateBias, LSTMCellGateBias, LSTMOutputGateBias, LSTMOutputState, LSTMCellState} {
		if in[i] == nil {
			return s, fmt.Errorf("operand %d (%s) is missing", i, lstmOperandName(i))
		}
	}
	wo, ro := in[LSTMInputToOutputWeights], in[LSTMRecurrentToOutputWeights]
	if wo.Rank() != 2 || ro.Rank() != 2 {
		return s, fmt.Errorf("weights must have rank 2")
	}
	s.nCell, s.nOut = wo.Shape[0], ro.Shape[1]
	if s.batch < 1 || s.time < 1 || s.nIn < 1 || s.nCell < 1 || s.nOut < 1 {
		return s, fmt.Errorf("empty dimension: batch %d, time %d, input %d, cells %d, outputs %d", s.batch, s.time, s.nIn, s.nCell, s.nOut)
	}
	s.cifg = in[LSTMInputToInputWeights] == nil
	if s.cifg != (in[LSTMRecurrentToInputWeights] == nil) || s.cifg != (in[LSTMInputGateBias] == nil) {
		return s, fmt.Errorf("the input gate's weights and bias must all be present or all be omitted (CIFG)")
	}
	s.peephole = in[LSTMCellToOutputWeights] != nil
	if s.peephole != (in[LSTMCellToForgetWeights] != nil) || (!s.cifg && s.peephole != (in[LSTMCellToInputWeights] != nil)) {
		return s, fmt.Errorf("peephole weights must all be present or all be omitted")
	}
	s.layerNorm = in[LSTMForgetLayerNorm] != nil
	if s.layerNorm != (in[LSTMCellLayerNorm] != nil) || s.layerNorm != (in[LSTMOutputLayerNorm] != nil) ||
		(!s.cifg && s.layerNorm != (in[LSTMInputLayerNorm] != nil)) {
		return s, fmt.Errorf("layer normalisation coefficients must all be present or all be omitted")
	}
	s.projection = in[LSTMProjectionWeights] != nil
	if !s.projection && in[LSTMProjectionBias] != nil {
		return s, fmt.Errorf("projection bias without projection weights")
	}
	if !s.projection && s.nOut != s.nCell {
		return s, fmt.Errorf("recurrent weights %v: without projection the output size must equal the %d cells", ro.Shape, s.nCell)
	}
	want := func(i int, shape ...int) error {
		t := in[i]
		if t == nil {
			return nil
		}
		if t.Rank() != len(shape) {
			return fmt.Errorf("%s %q has shape %v; want %v", lstmOperandName(i), t.Name, t.Shape, shape)
		}
		for d, v := range shape {
			if t.Shape[d] != v {
				return fmt.Errorf("%s %q has shape %v; want %v", lstmOperandName(i), t.Name, t.Shape, shape)
			}
		}
		return nil
	}
	checks := []error{
		want(LSTMInputToInputWeights, s.nCell, s.nIn), want(LSTMInputToForgetWeights, s.nCell, s.nIn),
		want(LSTMInputToCellWeights, s.nCell, s.nIn), want(LSTMInputToOutputWeights, s.nCell, s.nIn),
		want(LSTMRecurrentToInputWeights, s.nCell, s.nOut), want(LSTMRecurrentToForgetWeights, s.nCell, s.nOut),
		want(LSTMRecurrentToCellWeights, s.nCell, s.nOut), want(LSTMRecurrentToOutputWeights, s.nCell, s.nOut),
		want(LSTMCellToInputWeights, s.nCell), want(LSTMCellToForgetWeights, s.nCell), want(LSTMCellToOutputWeights, s.nCell),
		want(LSTMInputGateBias, s.nCell), want(LSTMForgetGateBias, s.nCell), want(LSTMCellGateBias, s.nCell), want(LSTMOutputGateBias, s.nCell),
		want(LSTMProjectionWeights, s.nOut, s.nCell), want(LSTMProjectionBias, s.nOut),
		want(LSTMInputLayerNorm, s.nCell), want(LSTMForgetLayerNorm, s.nCell), want(LSTMCellLayerNorm, s.nCell), want(LSTMOutputLayerNorm, s.nCell),
	}
	for _, e := range checks {
		if e != nil {
			return s, e
		}
	}
	if n := in[LSTMOutputState].NumElements(); n != s.batch*s.nOut {
		return s, fmt.Errorf("output state %q has %d elements; want batch %d × outputs %d", in[LSTMOutputState].Name, n, s.batch, s.nOut)
	}
	if n := in[LSTMCellState].NumElements(); n != s.batch*s.nCell {
		return s, fmt.Errorf("cell state %q has %d elements; want batch %d × cells %d", in[LSTMCellState].Name, n, s.batch, s.nCell)
	}
	for i, t := range in {
		if t != nil && i != LSTMInput && i != LSTMOutputState && i != LSTMCellState && !t.Const {
			return s, unsupportedf("%s %q is computed at run time; only constant weights are supported", lstmOperandName(i), t.Name)
		}
	}
	return s, nil
}

var lstmOperandNames = [...]string{
	"input", "input-to-input weights", "input-to-forget weights", "input-to-cell weights", "input-to-output weights",
	"recurrent-to-input weights", "recurrent-to-forget weights", "recurrent-to-cell weights", "recurrent-to-output weights",
	"cell-to-input weights", "cell-to-forget weights", "cell-to-output weights",
	"input gate bias", "forget gate bias", "cell gate bias", "output gate bias",
	"projection weights", "projection bias", "output state", "cell state",
	"input layer norm coefficients", "forget layer norm coefficients", "cell layer norm coefficients", "output layer norm coefficients",
}

func lstmOperandName(i int) string {
	if i >= 0 && i < len(lstmOperandNames) {
		return lstmOperandNames[i]
	}
	return fmt.Sprintf("operand %d", i)
}

// lstmSteps calls step for every time step with the offsets (in
// elements) of the step's input rows, output rows and state rows, and the
// number of batch rows the step covers: all batches at once when the
// input is time-major, one batch row at a time otherwise (TFLite's order).
func lstmSteps(s *lstmShape, step func(xOff, yOff, hOff, cOff, nb int)) {
	if s.timeMajor {
		for t := 0; t < s.time; t++ {
			step(t*s.batch*s.nIn, t*s.batch*s.nOut, 0, 0, s.batch)
		}
		return
	}
	for b := 0; b < s.batch; b++ {
		for t := 0; t < s.time; t++ {
			off := b*s.time + t
			step(off*s.nIn, off*s.nOut, b*s.nOut, b*s.nCell, 1)
		}
	}
}

// ---- float ----

type lstmFloat struct {
	s                lstmShape
	act              func(float32) float32
	cellClip, prClip float32
	x, h, c, y       *tensor.Tensor
	wIn, wRec        [4][]float32 // per gate; nil for the CIFG input gate
	peep, ln, bias   [4][]float32
	proj, projBias   []float32
	gates            [4][]float32 // scratch, [batch*nCell] each
	scratch          []float32    // [batch*nCell]
	hyb              *lstmHybrid  // int8 weights (hybrid), else nil
}

// lstmHybrid holds the int8 weights of a hybrid LSTM (float activations)
// and its per-step quantized input, hidden state and projection input.
type lstmHybrid struct {
	asym          bool
	wIn, wRec     [4][]int8
	sIn, sRec     [4]float32
	sumIn, sumRec [4][]int32
	proj          []int8
	sProj         float32
	sumProj       []int32
	x, h, p       hybridRows
	xZero, hZero  bool
}

// hybridRows is a batch of rows quantized one row at a time.
type hybridRows struct {
	q  []int8
	sf []float32
	zp []int32
}

func newHybridRows(rows, cols int) hybridRows {
	return hybridRows{q: make([]int8, rows*cols), sf: make([]float32, rows), zp: make([]int32, rows)}
}

// quantize is TFLite's BatchQuantizeFloats over nb rows of v.
func (r *hybridRows) quantize(v []float32, nb, cols int, asym bool) {
	for b := 0; b < nb; b++ {
		row, q := v[b*cols:(b+1)*cols], r.q[b*cols:(b+1)*cols]
		if asym {
			r.sf[b], r.zp[b] = hybridQuantizeAsymmetric(row, q)
		} else {
			r.sf[b], r.zp[b] = hybridQuantizeSymmetric(row, q), 0
		}
	}
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// hybridMatVecAcc adds (w·q − row sum·zero point)·(row scale·wScale) to
// every batch row of out, as TFLite's hybrid MatrixBatchVectorMultiplyAccumulate.
func hybridMatVecAcc(w []int8, rows, cols int, x *hybridRows, wScale float32, sums []int32, nb int, out []float32) {
	for b := 0; b < nb; b++ {
		q := x.q[b*cols : (b+1)*cols]
		scale := x.sf[b] * wScale
		for r := 0; r < rows; r++ {
			var dot int32
			for i, v := range w[r*cols : (r+1)*cols] {
				dot += int32(v) * int32(q[i])
			}
			dot -= sums[r] * x.zp[b]
			out[b*rows+r] += float32(float32(dot) * scale)
		}
	}
}

func rowSums(w []int8, rows, cols int) []int32 {
	out := make([]int32, rows)
	for r := range out {
		for _, v := range w[r*cols : (r+1)*cols] {
			out[r] += int32(v)
		}
	}
	return out
}

func lstmFloatActivation(a Activation) (func(float32) float32, error) {
	switch a {
	case ActTanh:
		return tanh32, nil
	case ActRelu:
		return func(v float32) float32 { return max(v, 0) }, nil
	case ActRelu6:
		return func(v float32) float32 { return ClampF(v, 0, 6) }, nil
	case ActReluN1To1:
		return func(v float32) float32 { return ClampF(v, -1, 1) }, nil
	case ActNone:
		return func(v float32) float32 { return v }, nil
	}
	return nil, unsupportedf("LSTM activation %s", a)
}

// lstmSigmoid is TFLite's reference float logistic (with its cut-offs).
func lstmSigmoid(v float32) float32 {
	const upper, lower = 16.619047164916992188, -9
	switch {
	case v > upper:
		return 1
	case v < lower:
		return float32(math.Exp(float64(v)))
	}
	return 1 / (1 + float32(math.Exp(float64(-v))))
}

func floatsOf(t *tensor.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Float32s()
}

func newLSTMFloat(p LSTMParams, s lstmShape, in []*tensor.Tensor, out *tensor.Tensor) (Kernel, error) {
	for i, t := range in {
		if t != nil {
			if err := CheckType(lstmOperandName(i), t, tensor.Float32); err != nil {
				return nil, err
			}
		}
	}
	if err := CheckType("output", out, tensor.Float32); err != nil {
		return nil, err
	}
	act, err := lstmFloatActivation(p.Activation)
	if err != nil {
		return nil, err
	}
	k := &lstmFloat{s: s, act: act, cellClip: p.CellClip, prClip: p.ProjClip,
		x: in[LSTMInput], h: in[LSTMOutputState], c: in[LSTMCellState], y: out}
	for g := range 4 {
		k.wIn[g] = floatsOf(in[LSTMInputToInputWeights+g])
		k.wRec[g] = floatsOf(in[LSTMRecurrentToInputWeights+g])
		k.bias[g] = floatsOf(in[LSTMInputGateBias+g])
		k.ln[g] = floatsOf(in[LSTMInputLayerNorm+g])
		k.gates[g] = make([]float32, s.batch*s.nCell)
	}
	// Peephole weights exist for the input, forget and output gates.
	k.peep[gateInput] = floatsOf(in[LSTMCellToInputWeights])
	k.peep[gateForget] = floatsOf(in[LSTMCellToForgetWeights])
	k.peep[gateOutput] = floatsOf(in[LSTMCellToOutputWeights])
	k.proj, k.projBias = floatsOf(in[LSTMProjectionWeights]), floatsOf(in[LSTMProjectionBias])
	k.scratch = make([]float32, s.batch*s.nCell)
	return k, nil
}

// Eval follows TFLite's LstmStepFloat: each gate starts from its bias (0
// with layer normalisation), accumulates the input and recurrent
// products (each dot product summed from zero, then added), the peephole
// term, then layer normalisation and the activation.
func (k *lstmFloat) Eval() error {
	s := &k.s
	x, y, h, c := k.x.Float32s(), k.y.Float32s(), k.h.Float32s(), k.c.Float32s()
	lstmSteps(s, func(xOff, yOff, hOff, cOff, nb int) {
		xs, hs, cs := x[xOff:xOff+nb*s.nIn], h[hOff:hOff+nb*s.nOut], c[cOff:cOff+nb*s.nCell]
		if hy := k.hyb; hy != nil {
			// TFLite skips the products of an all-zero input or state.
			if hy.xZero = allZero(xs); !hy.xZero {
				hy.x.quantize(xs, nb, s.nIn, hy.asym)
			}
			if hy.hZero = allZero(hs); !hy.hZero {
				hy.h.quantize(hs, nb, s.nOut, hy.asym)
			}
		}
		for g := range 4 {
			if g == gateInput && s.cifg {
				continue
			}
			var cell []float32
			if g != gateCell {
				cell = cs
			}
			if g == gateOutput {
				k.updateCell(cs, nb)
			}
			k.gate(g, xs, hs, cell, nb)
		}
		k.output(cs, hs, nb)
		copy(y[yOff:yOff+nb*s.nOut], hs)
	})
	return nil
}

func (k *lstmFloat) gate(g int, x, h, c []float32, nb int) {
	s := &k.s
	out := k.gates[g][:nb*s.nCell]
	bias, ln := k.bias[g], k.ln[g]
	for b := 0; b < nb; b++ {
		if ln != nil {
			clear(out[b*s.nCell : (b+1)*s.nCell])
		} else {
			copy(out[b*s.nCell:(b+1)*s.nCell], bias)
		}
	}
	if hy := k.hyb; hy != nil {
		if !hy.xZero {
			hybridMatVecAcc(hy.wIn[g], s.nCell, s.nIn, &hy.x, hy.sIn[g], hy.sumIn[g], nb, out)
		}
		if !hy.hZero {
			hybridMatVecAcc(hy.wRec[g], s.nCell, s.nOut, &hy.h, hy.sRec[g], hy.sumRec[g], nb, out)
		}
	} else {
		floatMatVecAcc(k.wIn[g], s.nCell, s.nIn, x, nb, out)
		floatMatVecAcc(k.wRec[g], s.nCell, s.nOut, h, nb, out)
	}
	if p := k.peep[g]; p != nil && c != nil {
		for b := 0; b < nb; b++ {
			for i, w := range p {
				out[b*s.nCell+i] += w * c[b*s.nCell+i]
			}
		}
	}
	if ln != nil {
		for b := 0; b < nb; b++ {
			row := out[b*s.nCell : (b+1)*s.nCell]
			meanStddevNormalize(row)
			for i := range row {
				row[i] = row[i]*ln[i] + bias[i]
			}
		}
	}
	f := lstmSigmoid
	if g == gateCell {
		f = k.act
	}
	for i, v := range out {
		out[i] = f(v)
	}
}

// floatMatVecAcc adds w·x (w is [rows, cols]) to every batch row of out.
func floatMatVecAcc(w []float32, rows, cols int, x []float32, nb int, out []float32) {
	for b := 0; b < nb; b++ {
		xr := x[b*cols : (b+1)*cols]
		for r := 0; r < rows; r++ {
			wr := w[r*cols : (r+1)*cols]
			var dot float32
			for i, v := range wr {
				dot += v * xr[i]
			}
			out[b*rows+r] += dot
		}
	}
}

// meanStddevNormalize is TFLite's MeanStddevNormalization of one row.
func meanStddevNormalize(v []float32) {
	var sum float32
	for _, e := range v {
		sum += e
	}
	mean := sum / float32(len(v))
	var sq float32
	for _, e := range v {
		d := e - mean
		sq += d * d
	}
	variance := sq / float32(len(v))
	inv := 1 / float32(math.Sqrt(float64(variance+1e-8)))
	for i, e := range v {
		v[i] = (e - mean) * inv
	}
}

func (k *lstmFloat) updateCell(c []float32, nb int) {
	n := nb * k.s.nCell
	f, ig, cg := k.gates[gateForget][:n], k.gates[gateInput][:n], k.gates[gateCell][:n]
	for i := range c[:n] {
		c[i] *= f[i]
	}
	for i := range c[:n] {
		in := ig[i]
		if k.s.cifg {
			in = 1 - f[i]
		}
		c[i] += cg[i] * in
	}
	if k.cellClip > 0 {
		for i, v := range c[:n] {
			c[i] = ClampF(v, -k.cellClip, k.cellClip)
		}
	}
}

func (k *lstmFloat) output(c, h []float32, nb int) {
	s := &k.s
	n := nb * s.nCell
	og, sc := k.gates[gateOutput][:n], k.scratch[:n]
	for i, v := range c[:n] {
		sc[i] = og[i] * k.act(v)
	}
	hy := k.hyb
	if k.proj == nil && (hy == nil || hy.proj == nil) {
		copy(h[:nb*s.nOut], sc)
		return
	}
	for b := 0; b < nb; b++ {
		if k.projBias != nil {
			copy(h[b*s.nOut:(b+1)*s.nOut], k.projBias)
		} else {
			clear(h[b*s.nOut : (b+1)*s.nOut])
		}
	}
	switch {
	case hy == nil:
		floatMatVecAcc(k.proj, s.nOut, s.nCell, sc, nb, h)
	case !allZero(sc):
		hy.p.quantize(sc, nb, s.nCell, hy.asym)
		hybridMatVecAcc(hy.proj, s.nOut, s.nCell, &hy.p, hy.sProj, hy.sumProj, nb, h)
	}
	if k.prClip > 0 {
		for i, v := range h[:nb*s.nOut] {
			h[i] = ClampF(v, -k.prClip, k.prClip)
		}
	}
}

// ---- int8 (8x8→16) ----

// lstmInt8 is the integer LSTM: int8 input and hidden state, int16 cell
// state with a power-of-two scale, gates in Q3.12 before and Q0.15 after
// their activation.
type lstmInt8 struct {
	s          lstmShape
	litert     bool
	x, h, c, y *tensor.Tensor
	// Per gate: weights, zero-point-folded biases (bias − zp·Σw) and
	// multipliers of the input and recurrent products into Q3.12.
	wIn, wRec         [4][]int8
	biasIn, biasRec   [4][]int32
	multIn, multRec   [4]int32
	shiftIn, shiftRec [4]int
	// Cell update: forget·cell and input·cell-gate multipliers
	// (Reference), shifts (LiteRT).
	fcMult, icMult    int32
	fcShift, icShift  int
	cellShift         int // LiteRT: 30 + log2(cell scale)
	clip              int16
	doClip            bool
	hMult             int32
	hShift            int
	hZP               int32
	sigmoid, tanhGate func(int16) int16
	tanhCell          func(int16) int16
	gates             [4][]int16
	acc               []int16
}

func newLSTMInt8(cfg *Config, p LSTMParams, s lstmShape, in []*tensor.Tensor, hidden, out *tensor.Tensor) (Kernel, error) {
	if s.cifg || s.peephole || s.layerNorm || s.projection {
		return nil, unsupportedf("integer LSTM with CIFG, peephole, layer normalisation or projection")
	}
	x, h, c := in[LSTMInput], in[LSTMOutputState], in[LSTMCellState]
	if err := CheckType("output state", h, tensor.Int8); err != nil {
		return nil, err
	}
	if err := CheckType("cell state", c, tensor.Int16); err != nil {
		return nil, err
	}
	if err := CheckType("output", out, tensor.Int8); err != nil {
		return nil, err
	}
	for _, t := range []*tensor.Tensor{x, h, c, out} {
		if err := CheckQuantized(t.Name, t); err != nil {
			return nil, err
		}
	}
	if p.Activation != ActTanh {
		return nil, unsupportedf("integer LSTM with %s cell activation", p.Activation)
	}
	cellPow, ok := actCheckedLog2(c.Scale())
	if !ok || cellPow > -9 {
		return nil, unsupportedf("cell state scale %g; the integer LSTM needs a power of two at most 2^-9", c.Scale())
	}
	if c.ZeroPoint() != 0 {
		return nil, unsupportedf("cell state zero point %d; want 0", c.ZeroPoint())
	}
	k := &lstmInt8{s: s, litert: cfg.Arithmetic == LiteRT, x: x, h: h, c: c, y: out}
	const gateScale = 1.0 / 4096 // Q3.12
	for g := range 4 {
		wi, wr, b := in[LSTMInputToInputWeights+g], in[LSTMRecurrentToInputWeights+g], in[LSTMInputGateBias+g]
		for _, w := range []*tensor.Tensor{wi, wr} {
			if err := CheckType(lstmOperandName(LSTMInputToInputWeights+g), w, tensor.Int8); err != nil {
				return nil, err
			}
			if err := CheckQuantized(w.Name, w); err != nil {
				return nil, err
			}
			if w.Quant.PerChannel() || w.ZeroPoint() != 0 {
				return nil, unsupportedf("LSTM weights %q: want per-tensor symmetric quantization", w.Name)
			}
		}
		if err := CheckType(lstmOperandName(LSTMInputGateBias+g), b, tensor.Int32); err != nil {
			return nil, err
		}
		k.wIn[g], k.wRec[g] = wi.Int8s(), wr.Int8s()
		k.biasIn[g] = foldZeroPoint(k.wIn[g], s.nCell, s.nIn, -x.ZeroPoint(), b.Int32s())
		k.biasRec[g] = foldZeroPoint(k.wRec[g], s.nCell, s.nOut, -h.ZeroPoint(), nil)
		// Both TFLite and TFLite Micro form the scale product in float32.
		k.multIn[g], k.shiftIn[g] = QuantizeMultiplier(float64(wi.Scale()*x.Scale()) / gateScale)
		k.multRec[g], k.shiftRec[g] = QuantizeMultiplier(float64(wr.Scale()*h.Scale()) / gateScale)
		k.gates[g] = make([]int16, s.batch*s.nCell)
	}
	k.acc = make([]int16, s.batch*s.nCell)
	const q15 = 1.0 / 32768
	if k.litert {
		// TFLite: the hidden state's multiplier and zero point come from
		// the effective-hidden-scale intermediate; its product is rounded
		// to float32.
		hs, hzp := h.Scale(), h.ZeroPoint()
		if hidden != nil && hidden.Quant != nil && len(hidden.Quant.Scale) > 0 {
			hs, hzp = hidden.Scale(), hidden.ZeroPoint()
		}
		k.hMult, k.hShift = QuantizeMultiplier(float64(float32(q15 / float64(hs) * q15)))
		k.hZP = hzp
		k.cellShift = 30 + cellPow
		if p.CellClip > 0 {
			k.clip = int16(min(max(p.CellClip/c.Scale(), -32768), 32767))
		}
		k.doClip = k.clip > 0
		k.sigmoid = func(v int16) int16 { return fp16Logistic(v, 3) }
		k.tanhGate = func(v int16) int16 { return fp16Tanh(v, 3) }
		bits := 15 + cellPow
		k.tanhCell = func(v int16) int16 { return fp16Tanh(v, bits) }
	} else {
		// TFLite Micro: MUL kernels with QuantizeMultiplier'd scales.
		k.fcMult, k.fcShift = QuantizeMultiplier(q15)
		k.icMult, k.icShift = QuantizeMultiplier(q15 * q15 / float64(c.Scale()))
		k.hMult, k.hShift = QuantizeMultiplier(q15 * q15 / float64(h.Scale()))
		k.hZP = h.ZeroPoint()
		if p.CellClip > 0 {
			k.clip = int16(min(max(float64(p.CellClip)/float64(c.Scale()), -32768), 32767))
		}
		k.doClip = p.CellClip > 0
		k.sigmoid = int16Table(int16SigmoidFunc(3, 0, false))
		k.tanhGate = int16Table(int16SigmoidFunc(3, 0, true))
		// TFLite Micro's Tanh brings a cell scale of 2^p to its input
		// scale with the multiplier 3 and a shift.
		shift := (15 + cellPow) - 3
		mult := int32(0)
		if shift < 0 {
			shift, mult = -shift, 3
		}
		if mult == 0 {
			mult, shift = 3<<shift, 0
		}
		k.tanhCell = int16Table(int16SigmoidFunc(mult, shift, true))
	}
	return k, nil
}

// int16Table adapts an int32 activation to int16 values.
func int16Table(f func(int32) int32) func(int16) int16 {
	return func(v int16) int16 { return int16(f(int32(v))) }
}

// foldZeroPoint returns bias + zp·Σ_col w[row] per row (TFLite's
// PrecomputeZeroPointTimesWeightWithBias); bias may be nil.
func foldZeroPoint(w []int8, rows, cols int, zp int32, bias []int32) []int32 {
	out := make([]int32, rows)
	for r := range out {
		var sum int32
		for _, v := range w[r*cols : (r+1)*cols] {
			sum += int32(v)
		}
		if bias != nil {
			out[r] = bias[r]
		}
		out[r] += sum * zp
	}
	return out
}

func (k *lstmInt8) Eval() error {
	s := &k.s
	x, y, h, c := k.x.Int8s(), k.y.Int8s(), k.h.Int8s(), k.c.Int16s()
	lstmSteps(s, func(xOff, yOff, hOff, cOff, nb int) {
		xs, hs, cs := x[xOff:xOff+nb*s.nIn], h[hOff:hOff+nb*s.nOut], c[cOff:cOff+nb*s.nCell]
		k.gate(gateForget, xs, hs, nb, k.sigmoid)
		k.gate(gateInput, xs, hs, nb, k.sigmoid)
		k.gate(gateCell, xs, hs, nb, k.tanhGate)
		k.updateCell(cs, nb)
		k.gate(gateOutput, xs, hs, nb, k.sigmoid)
		k.updateHidden(cs, hs, nb)
		copy(y[yOff:yOff+nb*s.nOut], hs)
	})
	return nil
}

// gate computes act(Wx·x + Wh·h + b) in Q3.12 → Q0.15. TFLite adds the
// rescaled recurrent product to the saturated input one and saturates
// once; TFLite Micro saturates each product, then their sum.
func (k *lstmInt8) gate(g int, x, h []int8, nb int, act func(int16) int16) {
	s := &k.s
	n := nb * s.nCell
	out, acc := k.gates[g][:n], k.acc[:n]
	int8MatVec(k.wIn[g], k.biasIn[g], s.nCell, s.nIn, x, nb, k.multIn[g], k.shiftIn[g], out, nil)
	if k.litert {
		int8MatVec(k.wRec[g], k.biasRec[g], s.nCell, s.nOut, h, nb, k.multRec[g], k.shiftRec[g], out, out)
	} else {
		int8MatVec(k.wRec[g], k.biasRec[g], s.nCell, s.nOut, h, nb, k.multRec[g], k.shiftRec[g], acc, nil)
		for i, v := range acc {
			out[i] = int16(Clamp(int32(out[i])+int32(v), math.MinInt16, math.MaxInt16))
		}
	}
	for i, v := range out {
		out[i] = act(v)
	}
}

// int8MatVec sets out = sat16(add + MBQM(bias + w·x)) per batch row and
// output row; add nil means 0.
func int8MatVec(w []int8, bias []int32, rows, cols int, x []int8, nb int, mult int32, shift int, out, add []int16) {
	for b := 0; b < nb; b++ {
		xr := x[b*cols : (b+1)*cols]
		for r := 0; r < rows; r++ {
			acc := bias[r]
			for i, v := range w[r*cols : (r+1)*cols] {
				acc += int32(v) * int32(xr[i])
			}
			v := MultiplyByQuantizedMultiplier(acc, mult, shift)
			if add != nil {
				v += int32(add[b*rows+r])
			}
			out[b*rows+r] = int16(Clamp(v, math.MinInt16, math.MaxInt16))
		}
	}
}

func (k *lstmInt8) updateCell(c []int16, nb int) {
	n := nb * k.s.nCell
	f, ig, cg := k.gates[gateForget][:n], k.gates[gateInput][:n], k.gates[gateCell][:n]
	for i := range c[:n] {
		var fc, ic int32
		if k.litert {
			fc = int32(int16(RoundingDivideByPOT(int32(f[i])*int32(c[i]), 15)))
			ic = int32(int16(RoundingDivideByPOT(int32(ig[i])*int32(cg[i]), k.cellShift)))
		} else {
			fc = Clamp(MultiplyByQuantizedMultiplier(int32(f[i])*int32(c[i]), k.fcMult, k.fcShift), math.MinInt16, math.MaxInt16)
			ic = Clamp(MultiplyByQuantizedMultiplier(int32(ig[i])*int32(cg[i]), k.icMult, k.icShift), math.MinInt16, math.MaxInt16)
		}
		v := int16(Clamp(fc+ic, math.MinInt16, math.MaxInt16))
		if k.doClip {
			v = min(max(v, -k.clip), k.clip)
		}
		c[i] = v
	}
}

func (k *lstmInt8) updateHidden(c []int16, h []int8, nb int) {
	n := nb * k.s.nCell
	og := k.gates[gateOutput][:n]
	for i, v := range c[:n] {
		t := int32(k.tanhCell(v))
		r := MultiplyByQuantizedMultiplier(int32(og[i])*t, k.hMult, k.hShift) + k.hZP
		h[i] = int8(Clamp(r, math.MinInt8, math.MaxInt8))
	}
}

// ---- hybrid ----

// newLSTMHybrid is TFLite's hybrid LSTM (LstmStepHybrid): float32 input,
// state, biases and layer-norm coefficients, int8 symmetric per-tensor
// weights (gates, peephole, projection). Each step quantizes the input,
// the hidden state and the projection input row by row (symmetric, or
// asymmetric with asymmetric_quantize_inputs) and adds the int8 products
// scaled back to float; the rest is the float LSTM.
func newLSTMHybrid(p LSTMParams, s lstmShape, in []*tensor.Tensor, out *tensor.Tensor) (Kernel, error) {
	for i, t := range in {
		if t == nil {
			continue
		}
		weight := (i >= LSTMInputToInputWeights && i <= LSTMCellToOutputWeights) || i == LSTMProjectionWeights
		if !weight {
			if err := CheckType(lstmOperandName(i), t, tensor.Float32); err != nil {
				return nil, err
			}
			continue
		}
		if err := CheckType(lstmOperandName(i), t, tensor.Int8); err != nil {
			return nil, err
		}
		if err := CheckQuantized(t.Name, t); err != nil {
			return nil, err
		}
		if t.Quant.PerChannel() || t.ZeroPoint() != 0 {
			return nil, unsupportedf("hybrid LSTM weights %q: want per-tensor symmetric quantization", t.Name)
		}
	}
	if err := CheckType("output", out, tensor.Float32); err != nil {
		return nil, err
	}
	act, err := lstmFloatActivation(p.Activation)
	if err != nil {
		return nil, err
	}
	hy := &lstmHybrid{asym: p.AsymmetricQuantizeInputs,
		x: newHybridRows(s.batch, s.nIn), h: newHybridRows(s.batch, s.nOut), p: newHybridRows(s.batch, s.nCell)}
	k := &lstmFloat{s: s, act: act, cellClip: p.CellClip, prClip: p.ProjClip, hyb: hy,
		x: in[LSTMInput], h: in[LSTMOutputState], c: in[LSTMCellState], y: out}
	for g := range 4 {
		if wi := in[LSTMInputToInputWeights+g]; wi != nil {
			hy.wIn[g], hy.sIn[g] = wi.Int8s(), wi.Scale()
			hy.sumIn[g] = rowSums(hy.wIn[g], s.nCell, s.nIn)
		}
		if wr := in[LSTMRecurrentToInputWeights+g]; wr != nil {
			hy.wRec[g], hy.sRec[g] = wr.Int8s(), wr.Scale()
			hy.sumRec[g] = rowSums(hy.wRec[g], s.nCell, s.nOut)
		}
		k.bias[g] = floatsOf(in[LSTMInputGateBias+g])
		k.ln[g] = floatsOf(in[LSTMInputLayerNorm+g])
		k.gates[g] = make([]float32, s.batch*s.nCell)
	}
	for g, i := range map[int]int{gateInput: LSTMCellToInputWeights, gateForget: LSTMCellToForgetWeights, gateOutput: LSTMCellToOutputWeights} {
		if t := in[i]; t != nil {
			// TFLite's VectorScalarMultiply: scale · w in float32.
			w := make([]float32, s.nCell)
			for j, v := range t.Int8s() {
				w[j] = t.Scale() * float32(v)
			}
			k.peep[g] = w
		}
	}
	if t := in[LSTMProjectionWeights]; t != nil {
		hy.proj, hy.sProj = t.Int8s(), t.Scale()
		hy.sumProj = rowSums(hy.proj, s.nOut, s.nCell)
	}
	k.projBias = floatsOf(in[LSTMProjectionBias])
	k.scratch = make([]float32, s.batch*s.nCell)
	return k, nil
}
