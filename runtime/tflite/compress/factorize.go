package compress

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// FactorizeOptions selects the fully-connected layers to factorize and
// their rank.
type FactorizeOptions struct {
	// Layers names the layers to factorize, each by the name of the
	// FULLY_CONNECTED's output tensor or of its weight tensor. Empty means
	// every float FULLY_CONNECTED of subgraph 0.
	Layers []string
	// Rank is the kept rank; 0 means choose it from Energy.
	Rank int
	// Energy in (0, 1] picks the smallest rank r whose leading singular
	// values keep that fraction of Σσ² (the squared Frobenius norm).
	Energy float64
	// Force writes the two layers even when they hold as many parameters
	// as the original or more (for tests at full rank).
	Force bool
}

// Factorization describes what happened to one layer.
type Factorization struct {
	Layer   string // output tensor name
	In, Out int    // the weight matrix is Out×In
	Rank    int    // kept rank (0 when the layer was skipped)
	// Energy is the fraction of Σσ² the kept singular values hold.
	Energy float64
	// Sigma are all singular values, largest first; Sigma[Rank] (when
	// present) bounds the spectral norm of the discarded part, so
	// |Δy| ≤ Sigma[Rank]·‖x‖₂ before the activation.
	Sigma []float64
	// ParamsBefore and ParamsAfter count weight elements (the bias is
	// unchanged); MACsBefore and MACsAfter are per input row.
	ParamsBefore, ParamsAfter int64
	MACsBefore, MACsAfter     int64
	// Skipped says why the layer was left alone ("" when it was
	// factorized).
	Skipped string
	// refused marks a layer that cannot be factorized at any rank.
	refused bool
}

// Factorize replaces the weight matrix W (Out×In) of the selected float
// FULLY_CONNECTED layers of subgraph 0 by a truncated SVD, W ≈ (U_r Σ_r)
// V_rᵀ, written as two FULLY_CONNECTED operators: x → r with weights
// Σ_r^½ V_rᵀ and neither bias nor activation, then r → Out with weights
// U_r Σ_r^½, the original bias and the original fused activation. The
// square root on both sides keeps the two factors on the same scale,
// which matters if the model is quantized afterwards.
//
// A layer is only rewritten when r·(In+Out) < In·Out, that is when it
// saves parameters and MACs, unless opts.Force is set. Quantized layers
// are refused: factorize the float model, then quantize it.
func Factorize(m *schema.ModelT, opts FactorizeOptions) ([]Factorization, error) {
	if opts.Rank < 0 {
		return nil, fmt.Errorf("factorize: rank %d: want at least 1", opts.Rank)
	}
	if opts.Rank == 0 && (opts.Energy <= 0 || opts.Energy > 1) {
		return nil, fmt.Errorf("factorize: energy %g: want a fraction in (0, 1] or a rank", opts.Energy)
	}
	if len(m.Subgraphs) == 0 {
		return nil, fmt.Errorf("factorize: the model has no subgraph")
	}
	sg := m.Subgraphs[0]
	want := map[string]bool{}
	for _, l := range opts.Layers {
		want[l] = true
	}
	found := map[string]bool{}
	var fcNames []string
	var res []Factorization
	// Walk a snapshot: rewriting inserts operators.
	ops := append([]*schema.OperatorT(nil), sg.Operators...)
	for _, op := range ops {
		code, err := BuiltinCode(m, op)
		if err != nil {
			return nil, fmt.Errorf("factorize: %w", err)
		}
		if code != schema.BuiltinOperatorFULLY_CONNECTED || len(op.Inputs) < 2 || len(op.Outputs) != 1 {
			continue
		}
		y := tensorAt(sg, op.Outputs[0])
		w := tensorAt(sg, op.Inputs[1])
		if y == nil || w == nil {
			return nil, fmt.Errorf("factorize: FULLY_CONNECTED with tensor indices out of range")
		}
		fcNames = append(fcNames, y.Name)
		if len(want) > 0 {
			if !want[y.Name] && !want[w.Name] {
				continue
			}
			found[y.Name], found[w.Name] = true, true
		}
		f, err := factorizeFC(m, sg, op, opts)
		if err != nil {
			return nil, fmt.Errorf("factorize: layer %q: %w", y.Name, err)
		}
		if f.refused && len(want) > 0 {
			// A layer the user named and that cannot be factorized at all is
			// an error, not a note.
			return nil, fmt.Errorf("factorize: layer %q: %s", y.Name, f.Skipped)
		}
		res = append(res, f)
	}
	for _, l := range opts.Layers {
		if !found[l] {
			return nil, fmt.Errorf("factorize: no FULLY_CONNECTED layer has output or weight tensor %q; the layers are %q", l, fcNames)
		}
	}
	if len(fcNames) == 0 {
		return nil, fmt.Errorf("factorize: the model has no FULLY_CONNECTED layer")
	}
	dropUnusedTensors(m, 0)
	return res, nil
}

func tensorAt(sg *schema.SubGraphT, i int32) *schema.TensorT {
	if i < 0 || int(i) >= len(sg.Tensors) {
		return nil
	}
	return sg.Tensors[i]
}

// factorizeFC rewrites one FULLY_CONNECTED in place (when it should).
func factorizeFC(m *schema.ModelT, sg *schema.SubGraphT, op *schema.OperatorT, opts FactorizeOptions) (Factorization, error) {
	y, w := sg.Tensors[op.Outputs[0]], sg.Tensors[op.Inputs[1]]
	f := Factorization{Layer: y.Name}
	if len(w.Shape) != 2 {
		f.Skipped = fmt.Sprintf("weights %q have shape %v, want 2 dimensions", w.Name, w.Shape)
		f.refused = true
		return f, nil
	}
	f.Out, f.In = int(w.Shape[0]), int(w.Shape[1])
	f.ParamsBefore = int64(f.In) * int64(f.Out)
	f.MACsBefore = f.ParamsBefore
	if w.Type != schema.TensorTypeFLOAT32 {
		f.Skipped = fmt.Sprintf("weights %q are %s; only float32 layers are factorized (factorize the float model, then quantize it)", w.Name, w.Type)
		f.refused = true
		return f, nil
	}
	if o, ok := fcOptions(op); ok && o.WeightsFormat != schema.FullyConnectedOptionsWeightsFormatDEFAULT {
		f.Skipped = fmt.Sprintf("weights format %s is not supported", o.WeightsFormat)
		f.refused = true
		return f, nil
	}
	if y.Type != schema.TensorTypeFLOAT32 || len(y.Shape) == 0 {
		f.Skipped = fmt.Sprintf("output %q is %s%v; want a float32 tensor with a shape", y.Name, y.Type, y.Shape)
		f.refused = true
		return f, nil
	}
	wv, err := Float32Data(m, w)
	if err != nil {
		f.Skipped = err.Error()
		f.refused = true
		return f, nil
	}
	if len(wv) != f.In*f.Out || f.In == 0 || f.Out == 0 {
		return f, fmt.Errorf("weights %q: %d values for shape %v", w.Name, len(wv), w.Shape)
	}
	a := mat.NewDense(f.Out, f.In, nil)
	for i := 0; i < f.Out; i++ {
		for j := 0; j < f.In; j++ {
			v := float64(wv[i*f.In+j])
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return f, fmt.Errorf("weights %q hold %v at [%d,%d]", w.Name, v, i, j)
			}
			a.Set(i, j, v)
		}
	}
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDThin) {
		return f, fmt.Errorf("the SVD of the %d×%d weights did not converge", f.Out, f.In)
	}
	f.Sigma = svd.Values(nil)
	r, energy := chooseRank(f.Sigma, opts.Rank, opts.Energy)
	f.Energy = energy
	after := int64(r) * int64(f.In+f.Out)
	if after >= f.ParamsBefore && !opts.Force {
		f.Skipped = fmt.Sprintf("rank %d saves nothing: %d×(%d+%d) = %d ≥ %d×%d = %d parameters (a %d×%d layer saves only below rank %d)",
			r, r, f.In, f.Out, after, f.Out, f.In, f.ParamsBefore, f.Out, f.In, maxSavingRank(f.In, f.Out)+1)
		return f, nil
	}
	f.Rank, f.ParamsAfter, f.MACsAfter = r, after, after

	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	// first: r×In = Σ^½ Vᵀ; second: Out×r = U Σ^½.
	first := make([]float32, r*f.In)
	second := make([]float32, f.Out*r)
	for k := 0; k < r; k++ {
		s := math.Sqrt(f.Sigma[k])
		for j := 0; j < f.In; j++ {
			first[k*f.In+j] = float32(s * v.At(j, k))
		}
		for i := 0; i < f.Out; i++ {
			second[i*r+k] = float32(u.At(i, k) * s)
		}
	}

	base := y.Name
	w1 := &schema.TensorT{Name: uniqueName(sg, base+"/svd_first/weights"), Type: schema.TensorTypeFLOAT32, Shape: []int32{int32(r), int32(f.In)}}
	SetData(m, w1, Float32Bytes(first))
	w2 := &schema.TensorT{Name: uniqueName(sg, base+"/svd_second/weights"), Type: schema.TensorTypeFLOAT32, Shape: []int32{int32(f.Out), int32(r)}}
	SetData(m, w2, Float32Bytes(second))
	// The middle activation has the output's shape with r features.
	mid := &schema.TensorT{Name: uniqueName(sg, base+"/svd_rank"), Type: schema.TensorTypeFLOAT32, Shape: append([]int32(nil), y.Shape...)}
	mid.Shape[len(mid.Shape)-1] = int32(r)
	if n := len(y.ShapeSignature); n > 0 {
		mid.ShapeSignature = append([]int32(nil), y.ShapeSignature...)
		mid.ShapeSignature[n-1] = int32(r)
	}
	w1i, w2i, midi := addTensor(sg, w1), addTensor(sg, w2), addTensor(sg, mid)

	o, _ := fcOptions(op)
	firstOpts := schema.FullyConnectedOptionsT{}
	if o != nil {
		firstOpts = *o
	}
	firstOpts.FusedActivationFunction = schema.ActivationFunctionTypeNONE
	firstOp := &schema.OperatorT{
		OpcodeIndex: op.OpcodeIndex,
		Inputs:      []int32{op.Inputs[0], w1i, -1},
		Outputs:     []int32{midi},
		BuiltinOptions: &schema.BuiltinOptionsT{
			Type: schema.BuiltinOptionsFullyConnectedOptions, Value: &firstOpts,
		},
	}
	// The original operator becomes the second layer: it keeps its bias,
	// activation and output.
	op.Inputs = append([]int32(nil), op.Inputs...)
	op.Inputs[0], op.Inputs[1] = midi, w2i
	if op.BuiltinOptions == nil {
		op.BuiltinOptions = &schema.BuiltinOptionsT{Type: schema.BuiltinOptionsFullyConnectedOptions, Value: &schema.FullyConnectedOptionsT{}}
	}
	for i, o := range sg.Operators {
		if o == op {
			sg.Operators = append(sg.Operators[:i], append([]*schema.OperatorT{firstOp}, sg.Operators[i:]...)...)
			break
		}
	}
	return f, nil
}

// chooseRank returns the kept rank, from a fixed rank (clamped to the
// number of singular values) or from an energy fraction, and the energy
// it keeps.
func chooseRank(sigma []float64, rank int, energy float64) (int, float64) {
	var total float64
	for _, s := range sigma {
		total += s * s
	}
	r := rank
	if r > len(sigma) {
		r = len(sigma)
	}
	if r == 0 {
		var acc float64
		for r < len(sigma) {
			acc += sigma[r] * sigma[r]
			r++
			// A relative epsilon so that energy 1 stops at the last
			// non-zero singular value despite rounding.
			if acc >= energy*total*(1-1e-12) {
				break
			}
		}
		if r == 0 {
			r = 1
		}
	}
	var kept float64
	for _, s := range sigma[:r] {
		kept += s * s
	}
	if total == 0 {
		return r, 1
	}
	return r, kept / total
}

// maxSavingRank is the largest r with r·(in+out) < in·out (0 if none).
func maxSavingRank(in, out int) int {
	r := (in*out - 1) / (in + out)
	return max(r, 0)
}

func fcOptions(op *schema.OperatorT) (*schema.FullyConnectedOptionsT, bool) {
	if op.BuiltinOptions == nil {
		return nil, false
	}
	o, ok := op.BuiltinOptions.Value.(*schema.FullyConnectedOptionsT)
	return o, ok && o != nil
}

func addTensor(sg *schema.SubGraphT, t *schema.TensorT) int32 {
	sg.Tensors = append(sg.Tensors, t)
	return int32(len(sg.Tensors) - 1)
}

func uniqueName(sg *schema.SubGraphT, name string) string {
	used := map[string]bool{}
	for _, t := range sg.Tensors {
		used[t.Name] = true
	}
	n := name
	for k := 2; used[n]; k++ {
		n = fmt.Sprintf("%s_%d", name, k)
	}
	return n
}

// dropUnusedTensors removes the tensors of subgraph s that no operator,
// subgraph input or output, or signature refers to, and empties the
// buffers that no tensor (of any subgraph) or metadata entry uses any
// more, so that replaced weights leave the file. Buffer indices are kept:
// an empty buffer costs a few bytes.
func dropUnusedTensors(m *schema.ModelT, s int) {
	sg := m.Subgraphs[s]
	used := make([]bool, len(sg.Tensors))
	mark := func(idx []int32) {
		for _, i := range idx {
			if i >= 0 && int(i) < len(used) {
				used[i] = true
			}
		}
	}
	mark(sg.Inputs)
	mark(sg.Outputs)
	for _, op := range sg.Operators {
		mark(op.Inputs)
		mark(op.Outputs)
		mark(op.Intermediates)
	}
	for _, sd := range m.SignatureDefs {
		if int(sd.SubgraphIndex) != s {
			continue
		}
		for _, tm := range append(append([]*schema.TensorMapT(nil), sd.Inputs...), sd.Outputs...) {
			if tm != nil && int(tm.TensorIndex) < len(used) {
				used[tm.TensorIndex] = true
			}
		}
	}
	remap := make([]int32, len(sg.Tensors))
	var kept []*schema.TensorT
	for i, t := range sg.Tensors {
		if !used[i] {
			remap[i] = -1
			continue
		}
		remap[i] = int32(len(kept))
		kept = append(kept, t)
	}
	if len(kept) != len(sg.Tensors) {
		re := func(idx []int32) {
			for k, i := range idx {
				if i >= 0 && int(i) < len(remap) {
					idx[k] = remap[i]
				}
			}
		}
		re(sg.Inputs)
		re(sg.Outputs)
		for _, op := range sg.Operators {
			re(op.Inputs)
			re(op.Outputs)
			re(op.Intermediates)
		}
		for _, sd := range m.SignatureDefs {
			if int(sd.SubgraphIndex) != s {
				continue
			}
			for _, tm := range append(append([]*schema.TensorMapT(nil), sd.Inputs...), sd.Outputs...) {
				if tm != nil && int(tm.TensorIndex) < len(remap) {
					tm.TensorIndex = uint32(remap[tm.TensorIndex])
				}
			}
		}
		sg.Tensors = kept
	}

	bufUsed := make([]bool, len(m.Buffers))
	for _, g := range m.Subgraphs {
		for _, t := range g.Tensors {
			if int(t.Buffer) < len(bufUsed) {
				bufUsed[t.Buffer] = true
			}
		}
	}
	for _, b := range m.MetadataBuffer {
		if b >= 0 && int(b) < len(bufUsed) {
			bufUsed[b] = true
		}
	}
	for _, md := range m.Metadata {
		if md != nil && int(md.Buffer) < len(bufUsed) {
			bufUsed[md.Buffer] = true
		}
	}
	for i, b := range m.Buffers {
		if i > 0 && !bufUsed[i] && b != nil {
			b.Data, b.Offset, b.Size = nil, 0, 0
		}
	}
}
