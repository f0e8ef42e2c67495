package litert

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Fix is one change Normalize made to a model.
type Fix struct {
	Subgraph, Tensor int
	// QuantizedDimension was From and is To.
	From, To int32
}

func (f Fix) String() string {
	return fmt.Sprintf("subgraph %d tensor %d: quantized_dimension %d -> %d", f.Subgraph, f.Tensor, f.From, f.To)
}

// Normalize returns model as the vendor's library should see it, with the
// quirks edged's own loader tolerates made explicit: a tensor quantized
// per tensor (one scale), or a rank-1 tensor, whose quantized_dimension
// is out of range for its rank gets quantized_dimension 0, the only
// dimension either can mean (TFLite refuses such a file, "quantized_
// dimension must be in range"; person_detect.tflite has rank-1 biases
// with dimension 3). The arithmetic is unchanged. model is not modified:
// when there is something to fix the result is a copy. A file that
// cannot be read as a TFLite flatbuffer is returned as is, with an error
// saying why; the library will then give its own.
func Normalize(model []byte) ([]byte, []Fix, error) {
	var fixes []Fix
	var at []int
	err := walkQuant(model, func(sg, ti, rank, scales int, qd int32, qdPos int) {
		if qd >= 0 && (rank == 0 || int(qd) < rank) {
			return
		}
		if scales > 1 && rank != 1 {
			return // a real error; edged refuses it too
		}
		if qdPos < 0 {
			return // absent: the default, 0, is in range
		}
		fixes = append(fixes, Fix{Subgraph: sg, Tensor: ti, From: qd, To: 0})
		at = append(at, qdPos)
	})
	if err != nil {
		return model, nil, fmt.Errorf("normalize model: %w", err)
	}
	if len(at) == 0 {
		return model, nil, nil
	}
	out := make([]byte, len(model))
	copy(out, model)
	for _, p := range at {
		binary.LittleEndian.PutUint32(out[p:], 0)
	}
	return out, fixes, nil
}

// builtinADD and actNone are TFLite's BuiltinOperator ADD and
// ActivationFunctionType NONE (for the models edged builds to check a
// library).
const (
	builtinADD = 0
	actNone    = 0
)

var errMalformed = errors.New("not a readable TFLite flatbuffer")

// fb reads a flatbuffer with every offset checked.
type fb []byte

func (b fb) u32(p int) (uint32, bool) {
	if p < 0 || p > len(b)-4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[p:]), true
}

func (b fb) u16(p int) (uint16, bool) {
	if p < 0 || p > len(b)-2 {
		return 0, false
	}
	return binary.LittleEndian.Uint16(b[p:]), true
}

// ref follows the uoffset stored at p.
func (b fb) ref(p int) (int, bool) {
	v, ok := b.u32(p)
	if !ok || uint64(p)+uint64(v) > uint64(len(b)) || v > math.MaxInt32 {
		return 0, false
	}
	return p + int(v), true
}

// field returns the position of field i of the table at t, or -1 when the
// table does not have it.
func (b fb) field(t, i int) (int, bool) {
	so, ok := b.u32(t)
	if !ok {
		return 0, false
	}
	vt := int64(t) - int64(int32(so))
	if vt < 0 || vt > int64(len(b)) {
		return 0, false
	}
	vsize, ok := b.u16(int(vt))
	if !ok {
		return 0, false
	}
	slot := 4 + 2*i
	if slot+2 > int(vsize) {
		return -1, true
	}
	off, ok := b.u16(int(vt) + slot)
	if !ok {
		return 0, false
	}
	if off == 0 {
		return -1, true
	}
	return t + int(off), true
}

// table returns the position of the table that field i of t points at, or
// -1 when absent.
func (b fb) table(t, i int) (int, bool) {
	f, ok := b.field(t, i)
	if !ok || f < 0 {
		return f, ok
	}
	return b.ref(f)
}

// vector returns the start and length of the vector in field i of t (-1
// when absent); elem is the element size.
func (b fb) vector(t, i, elem int) (start, n int, ok bool) {
	p, ok := b.table(t, i)
	if !ok || p < 0 {
		return -1, 0, ok
	}
	l, ok := b.u32(p)
	if !ok || uint64(l)*uint64(elem) > uint64(len(b)-p-4) {
		return 0, 0, false
	}
	return p + 4, int(l), true
}

// walkQuant calls f for every tensor of every subgraph that has
// quantization parameters: its rank, number of scales, quantized_dimension
// and the position of that field (-1 when absent).
func walkQuant(model []byte, f func(sg, ti, rank, scales int, qd int32, qdPos int)) error {
	b := fb(model)
	root, ok := b.ref(0)
	if !ok {
		return errMalformed
	}
	sgs, nsg, ok := b.vector(root, 2, 4) // Model.subgraphs
	if !ok {
		return fmt.Errorf("subgraphs: %w", errMalformed)
	}
	for s := range nsg {
		sg, ok := b.ref(sgs + 4*s)
		if !ok {
			return fmt.Errorf("subgraph %d: %w", s, errMalformed)
		}
		ts, nt, ok := b.vector(sg, 0, 4) // SubGraph.tensors
		if !ok {
			return fmt.Errorf("subgraph %d tensors: %w", s, errMalformed)
		}
		for ti := range nt {
			t, ok := b.ref(ts + 4*ti)
			if !ok {
				return fmt.Errorf("subgraph %d tensor %d: %w", s, ti, errMalformed)
			}
			q, ok := b.table(t, 4) // Tensor.quantization
			if !ok {
				return fmt.Errorf("subgraph %d tensor %d quantization: %w", s, ti, errMalformed)
			}
			if q < 0 {
				continue
			}
			_, rank, ok := b.vector(t, 0, 4) // Tensor.shape
			if !ok {
				return fmt.Errorf("subgraph %d tensor %d shape: %w", s, ti, errMalformed)
			}
			_, scales, ok := b.vector(q, 2, 4) // QuantizationParameters.scale
			if !ok {
				return fmt.Errorf("subgraph %d tensor %d scales: %w", s, ti, errMalformed)
			}
			qdPos, ok := b.field(q, 6) // QuantizationParameters.quantized_dimension
			if !ok {
				return fmt.Errorf("subgraph %d tensor %d quantized_dimension: %w", s, ti, errMalformed)
			}
			var qd int32
			if qdPos >= 0 {
				v, ok := b.u32(qdPos)
				if !ok {
					return fmt.Errorf("subgraph %d tensor %d quantized_dimension: %w", s, ti, errMalformed)
				}
				qd = int32(v)
			}
			f(s, ti, rank, scales, qd, qdPos)
		}
	}
	return nil
}
