package compress

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// PrunedTensor describes the pruning of one weight tensor.
type PrunedTensor struct {
	Tensor   string
	Op       string // the (first) operator that uses it
	Elements int
	// ZerosBefore and ZerosAfter count exact zeros (for quantized weights:
	// values equal to their zero point).
	ZerosBefore, ZerosAfter int
	// MACs is what the operators using the tensor cost per Invoke at the
	// file's shapes; SkippableMACs the part a sparse kernel could skip
	// (one multiply-accumulate per zero weight per output position).
	MACs, SkippableMACs int64
	// Skipped says why the tensor was left alone ("" when pruned).
	Skipped string
}

// Prune zeroes the fraction sparsity (0 to 1) of smallest-magnitude
// weights in every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED of
// subgraph 0, layer by layer. Float weights become 0; int8 and uint8
// weights become their zero point, ranked by |q - zp|·scale with each
// channel's own scale and zero point when they are per-channel. The file
// stays dense: the gain is in compressed size and in what a sparse kernel
// could skip. ops, when given, restricts pruning to those operators by
// name (e.g. "CONV_2D", "FULLY_CONNECTED"): depthwise kernels have few
// weights per channel and lose the most accuracy.
func Prune(m *schema.ModelT, sparsity float64, ops ...string) ([]PrunedTensor, error) {
	if math.IsNaN(sparsity) || sparsity < 0 || sparsity > 1 {
		return nil, fmt.Errorf("prune: sparsity %g: want a fraction from 0 to 1", sparsity)
	}
	allowed := map[schema.BuiltinOperator]bool{
		schema.BuiltinOperatorCONV_2D:           len(ops) == 0,
		schema.BuiltinOperatorDEPTHWISE_CONV_2D: len(ops) == 0,
		schema.BuiltinOperatorFULLY_CONNECTED:   len(ops) == 0,
	}
	for _, name := range ops {
		found := false
		for code := range allowed {
			if code.String() == name {
				allowed[code], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("prune: operator %q: want CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED", name)
		}
	}
	if len(m.Subgraphs) == 0 {
		return nil, fmt.Errorf("prune: the model has no subgraph")
	}
	sg := m.Subgraphs[0]
	bufUsers := map[uint32]int{}
	for _, g := range m.Subgraphs {
		for _, t := range g.Tensors {
			bufUsers[t.Buffer]++
		}
	}
	byTensor := map[int32]int{} // tensor index -> index in res
	var res []PrunedTensor
	for _, op := range sg.Operators {
		code, err := BuiltinCode(m, op)
		if err != nil {
			return nil, fmt.Errorf("prune: %w", err)
		}
		if !allowed[code] {
			continue
		}
		if len(op.Inputs) < 2 || len(op.Outputs) < 1 {
			continue
		}
		wi := op.Inputs[1]
		w, y := tensorAt(sg, wi), tensorAt(sg, op.Outputs[0])
		if w == nil || y == nil {
			return nil, fmt.Errorf("prune: %s with tensor indices out of range", code)
		}
		if k, ok := byTensor[wi]; ok {
			// Shared weights: pruned once, counted for every user.
			res[k].MACs += positions(y) * int64(res[k].Elements)
			res[k].SkippableMACs += positions(y) * int64(res[k].ZerosAfter)
			continue
		}
		p := PrunedTensor{Tensor: w.Name, Op: code.String()}
		raw := bufferData(m, w)
		if raw == nil {
			p.Skipped = "not a constant"
			byTensor[wi] = len(res)
			res = append(res, p)
			continue
		}
		dt, ok := weightDType(w.Type)
		if !ok {
			p.Skipped = fmt.Sprintf("%s weights are not pruned (float32, int8 and uint8 are)", w.Type)
			byTensor[wi] = len(res)
			res = append(res, p)
			continue
		}
		shape := make([]int, len(w.Shape))
		for i, d := range w.Shape {
			shape[i] = int(d)
		}
		q := quantOf(w)
		if dt != tensor.Float32 && q == nil {
			p.Skipped = fmt.Sprintf("%s weights without quantization parameters", w.Type)
			byTensor[wi] = len(res)
			res = append(res, p)
			continue
		}
		mag, zero, err := magnitudes(dt, raw, shape, q)
		if err != nil {
			return nil, fmt.Errorf("prune: weights %q: %w", w.Name, err)
		}
		p.Elements = len(mag)
		for _, z := range zero {
			if z {
				p.ZerosBefore++
			}
		}
		k := int(math.Floor(sparsity*float64(len(mag)) + 1e-9))
		out := append([]byte(nil), raw...)
		if k > 0 {
			idx := make([]int, len(mag))
			for i := range idx {
				idx[i] = i
			}
			// Exact zeros first, then by magnitude, then by position: the
			// choice is deterministic and never prunes a non-zero while a
			// zero is left.
			sort.SliceStable(idx, func(a, b int) bool {
				ia, ib := idx[a], idx[b]
				if zero[ia] != zero[ib] {
					return zero[ia]
				}
				return mag[ia] < mag[ib]
			})
			for _, i := range idx[:k] {
				setZero(dt, out, i, shape, q)
				zero[i] = true
			}
		}
		for _, z := range zero {
			if z {
				p.ZerosAfter++
			}
		}
		if bufUsers[w.Buffer] > 1 {
			SetData(m, w, out)
		} else {
			m.Buffers[w.Buffer].Data = out
		}
		p.MACs = positions(y) * int64(p.Elements)
		p.SkippableMACs = positions(y) * int64(p.ZerosAfter)
		byTensor[wi] = len(res)
		res = append(res, p)
	}
	return res, nil
}

// positions is the number of output positions of an operator whose output
// is y: every weight is used once per position (output elements over the
// channel dimension, the last one), at the file's static shape.
func positions(y *schema.TensorT) int64 {
	if len(y.Shape) == 0 {
		return 0
	}
	n := int64(1)
	for _, d := range y.Shape[:len(y.Shape)-1] {
		n *= int64(max(d, 0))
	}
	return n
}

func weightDType(t schema.TensorType) (tensor.DType, bool) {
	switch t {
	case schema.TensorTypeFLOAT32:
		return tensor.Float32, true
	case schema.TensorTypeINT8:
		return tensor.Int8, true
	case schema.TensorTypeUINT8:
		return tensor.UInt8, true
	}
	return 0, false
}

// quantOf converts a tensor's quantization parameters (nil when it has
// no scale).
func quantOf(t *schema.TensorT) *tensor.Quant {
	qp := t.Quantization
	if qp == nil || len(qp.Scale) == 0 {
		return nil
	}
	q := &tensor.Quant{Scale: qp.Scale, Axis: int(qp.QuantizedDimension)}
	for _, z := range qp.ZeroPoint {
		q.ZeroPoint = append(q.ZeroPoint, int32(z))
	}
	return q
}

// channelParams returns the scale and zero point of element i.
func channelParams(i int, shape []int, q *tensor.Quant) (float64, int32) {
	if q == nil {
		return 1, 0
	}
	c := 0
	if len(q.Scale) > 1 && q.Axis >= 0 && q.Axis < len(shape) && shape[q.Axis] > 0 {
		stride := 1
		for _, d := range shape[q.Axis+1:] {
			stride *= d
		}
		c = (i / stride) % shape[q.Axis]
	}
	scale := float64(q.Scale[min(c, len(q.Scale)-1)])
	var zp int32
	if len(q.ZeroPoint) > 0 {
		zp = q.ZeroPoint[min(c, len(q.ZeroPoint)-1)]
	}
	return scale, zp
}

// magnitudes returns |w| (dequantized for int8/uint8) and whether each
// element is an exact zero (its zero point when quantized).
func magnitudes(dt tensor.DType, raw []byte, shape []int, q *tensor.Quant) ([]float64, []bool, error) {
	n := tensor.NumElements(shape)
	if n*dt.Size() != len(raw) {
		return nil, nil, fmt.Errorf("%d bytes for %s%v", len(raw), dt, shape)
	}
	if q != nil && len(q.Scale) > 1 && (q.Axis < 0 || q.Axis >= len(shape) || shape[q.Axis] != len(q.Scale)) {
		return nil, nil, fmt.Errorf("%d per-channel scales on axis %d of shape %v", len(q.Scale), q.Axis, shape)
	}
	mag := make([]float64, n)
	zero := make([]bool, n)
	for i := range n {
		switch dt {
		case tensor.Float32:
			v := float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
			mag[i], zero[i] = math.Abs(v), v == 0
			if math.IsNaN(v) {
				mag[i] = math.Inf(1) // never pruned in favour of a number
			}
		default:
			scale, zp := channelParams(i, shape, q)
			v := int32(int8(raw[i]))
			if dt == tensor.UInt8 {
				v = int32(raw[i])
			}
			mag[i], zero[i] = math.Abs(float64(v-zp))*scale, v == zp
		}
	}
	return mag, zero, nil
}

func setZero(dt tensor.DType, raw []byte, i int, shape []int, q *tensor.Quant) {
	switch dt {
	case tensor.Float32:
		binary.LittleEndian.PutUint32(raw[4*i:], 0)
	default:
		_, zp := channelParams(i, shape, q)
		raw[i] = byte(zp)
	}
}

// Sparsity counts the exact zeros of a constant tensor: elements equal to
// 0 for float and integer tensors, equal to their (per-channel) zero point
// for quantized int8, uint8 and int16 ones. ok is false for types it does
// not count (strings, bools, int4...).
func Sparsity(dt tensor.DType, data []byte, shape []int, q *tensor.Quant) (zeros, n int, ok bool) {
	n = tensor.NumElements(shape)
	if dt.Size() <= 0 || n*dt.Size() != len(data) {
		return 0, n, false
	}
	if q != nil && len(q.Scale) > 1 && (q.Axis < 0 || q.Axis >= len(shape) || shape[q.Axis] != len(q.Scale)) {
		q = nil
	}
	for i := range n {
		var zp int32
		if q != nil {
			_, zp = channelParams(i, shape, q)
		}
		var isZero bool
		switch dt {
		case tensor.Float32:
			isZero = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])) == 0
		case tensor.Float64:
			isZero = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:])) == 0
		case tensor.Float16:
			isZero = binary.LittleEndian.Uint16(data[2*i:])&0x7fff == 0
		case tensor.Int8:
			isZero = int32(int8(data[i])) == zp
		case tensor.UInt8:
			isZero = int32(data[i]) == zp
		case tensor.Int16:
			isZero = int32(int16(binary.LittleEndian.Uint16(data[2*i:]))) == zp
		case tensor.Int32:
			isZero = int32(binary.LittleEndian.Uint32(data[4*i:])) == zp
		case tensor.Int64:
			isZero = binary.LittleEndian.Uint64(data[8*i:]) == 0
		default:
			return 0, n, false
		}
		if isZero {
			zeros++
		}
	}
	return zeros, n, true
}
