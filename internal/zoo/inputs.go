package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/edged-dev/edged/internal/indexinput"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// ioSpec is one model input or output as the oracle describes it.
type ioSpec struct {
	TensorIndex int    `json:"tensor_index"`
	Name        string `json:"name"`
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
}

// Input values. Every input gets its own stream seeded by the file's
// SHA-256 and the input's position:
//
//   - int8, uint8, int16: uniform over the whole type (quantized inputs
//     carry raw integer values, as the model receives them);
//   - float32, float16: uniform in [-1, 1), the range of normalized images
//     and audio waveforms;
//   - int32, int64 used as indices (directly or through RESHAPE, SQUEEZE,
//     EXPAND_DIMS or CAST) by GATHER, GATHER_ND or EMBEDDING_LOOKUP:
//     uniform in [0, n) with n the size of the indexed dimension (the
//     vocabulary of a text model); other integers: uniform in [0, 8);
//   - bool: 0 or 1.
const floatRange = 1.0

// defaultIntRange bounds integer inputs that are not indices.
const defaultIntRange = 8

// makeInputs returns one byte slice per input, in subgraph input order.
// m may be nil (edged could not decode the file); integer inputs then use
// the default range.
func makeInputs(sum [32]byte, specs []ioSpec, m *tflite.Model) ([][]byte, []string, error) {
	seed := binary.LittleEndian.Uint64(sum[:8])
	var out [][]byte
	var notes []string
	for i, s := range specs {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		dt, err := tensor.ParseDType(s.DType)
		if err != nil {
			return nil, nil, fmt.Errorf("input %d (%s): %w", i, s.Name, err)
		}
		if dt == tensor.String {
			return nil, nil, fmt.Errorf("input %d (%s) is a string tensor; the harness feeds only numeric inputs", i, s.Name)
		}
		b := make([]byte, n*dt.Size())
		switch dt {
		case tensor.Int8, tensor.UInt8, tensor.Bool:
			for k := range b {
				b[k] = byte(r.Uint32())
			}
			if dt == tensor.Bool {
				for k := range b {
					b[k] &= 1
				}
			}
		case tensor.Int16:
			for k := 0; k < n; k++ {
				binary.LittleEndian.PutUint16(b[2*k:], uint16(r.Uint32()))
			}
		case tensor.Float32:
			for k := 0; k < n; k++ {
				binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(float32((2*r.Float64()-1)*floatRange)))
			}
		case tensor.Float16:
			for k := 0; k < n; k++ {
				binary.LittleEndian.PutUint16(b[2*k:], float16Bits(float32((2*r.Float64()-1)*floatRange)))
			}
		case tensor.Int32, tensor.Int64:
			if vals, why := shapeInput(m, s.TensorIndex, n); vals != nil {
				notes = append(notes, fmt.Sprintf("input %d: %v (%s)", i, vals, why))
				for k, v := range vals {
					if dt == tensor.Int32 {
						binary.LittleEndian.PutUint32(b[4*k:], uint32(v))
					} else {
						binary.LittleEndian.PutUint64(b[8*k:], uint64(v))
					}
				}
				break
			}
			hi, why := indexRange(m, s.TensorIndex)
			if why != "" {
				notes = append(notes, fmt.Sprintf("input %d: ids in [0, %d) (%s)", i, hi, why))
			}
			for k := 0; k < n; k++ {
				v := uint64(r.IntN(hi))
				if dt == tensor.Int32 {
					binary.LittleEndian.PutUint32(b[4*k:], uint32(v))
				} else {
					binary.LittleEndian.PutUint64(b[8*k:], v)
				}
			}
		default:
			return nil, nil, fmt.Errorf("input %d (%s): no generator for %s", i, s.Name, dt)
		}
		out = append(out, b)
	}
	return out, notes, nil
}

// shapeInput returns the values of an integer input that is a shape
// operand: TRANSPOSE_CONV's output_shape, RESHAPE's new shape, the size of
// RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR. The values are what the file
// declares for the operator's output, so the graph computes what it was
// built for; nil when the input is not such an operand.
func shapeInput(m *tflite.Model, ti, n int) ([]int, string) {
	if m == nil || len(m.Subgraphs) == 0 {
		return nil, ""
	}
	sg := m.Subgraphs[0]
	for oi := range sg.Operators {
		op := &sg.Operators[oi]
		if len(op.Outputs) == 0 {
			continue
		}
		out := sg.Tensors[op.Outputs[0]].Shape
		name := m.OpName(op)
		for pos, in := range op.Inputs {
			if in != ti {
				continue
			}
			var vals []int
			switch {
			case name == "TRANSPOSE_CONV" && pos == 0, name == "RESHAPE" && pos == 1:
				vals = out
			case (name == "RESIZE_BILINEAR" || name == "RESIZE_NEAREST_NEIGHBOR") && pos == 1 && len(out) == 4:
				vals = out[1:3]
			}
			if vals != nil && len(vals) == n {
				return vals, fmt.Sprintf("the output shape of %s operator %d", name, oi)
			}
		}
	}
	return nil, ""
}

// indexRange finds how input tensor ti is used: as indices into a
// dimension of size n it returns n and a description; otherwise
// defaultIntRange and "".
func indexRange(m *tflite.Model, ti int) (int, string) {
	if n, why := indexinput.Range(m, ti); n > 0 {
		return n, why
	}
	return defaultIntRange, ""
}

// sha256File is the digest that seeds a model's inputs.
func sha256File(b []byte) [32]byte { return sha256.Sum256(b) }

// float16Bits rounds f to IEEE half precision (round to nearest even).
func float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case exp >= 31:
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - exp)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

// float16Value decodes IEEE half precision bits.
func float16Value(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * mant * math.Pow(2, -24)
	case 31:
		if mant != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * (1 + mant/1024) * math.Pow(2, float64(exp-15))
}
