package tflite

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
)

// diffLiteRT runs a case again in LiteRT arithmetic and requires the
// oracle's outputs exactly (floats within the usual tolerance), in the
// subtest "litert": XNNPACK's arithmetic where the oracle's delegate takes
// the operator, TFLite's kernels' where it does not.
func diffLiteRT(t *testing.T, gen string, model []byte, inputs, want [][]byte) {
	t.Run("litert", func(t *testing.T) {
		m, err := Load(model)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		it, err := NewInterpreter(m, &Options{Arithmetic: LiteRT})
		if err != nil {
			if errors.Is(err, ErrUnsupportedOp) || errors.Is(err, kernels.ErrUnsupported) {
				t.Skipf("not implemented in LiteRT arithmetic: %v", err)
			}
			t.Fatalf("NewInterpreter(LiteRT): %v", err)
		}
		for i, b := range inputs {
			copy(it.Input(i).Data, b)
		}
		if err := it.Invoke(); err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		for k, w := range want {
			o := it.Output(k)
			if len(o.Data) != len(w) {
				t.Fatalf("output %d %v: %d bytes; the oracle's has %d", k, o, len(o.Data), len(w))
			}
			bad, first := 0, -1
			size := max(o.Type.Size(), 1)
			for i := 0; i*size < len(w); i++ {
				g, x := o.Data[i*size:(i+1)*size], w[i*size:(i+1)*size]
				if o.Type == tensor.Float32 && !diffIsHybrid(gen) {
					gf := float64(math.Float32frombits(binary.LittleEndian.Uint32(g)))
					wf := float64(math.Float32frombits(binary.LittleEndian.Uint32(x)))
					if gf == wf || math.IsNaN(gf) && math.IsNaN(wf) || math.Abs(gf-wf) <= 1e-4+1e-4*math.Abs(wf) {
						continue
					}
				} else if string(g) == string(x) {
					continue
				}
				if bad++; first < 0 {
					first = i
				}
			}
			if bad > 0 {
				i := first
				t.Errorf("%s LiteRT output %d %v: %d of %d elements differ from the oracle; first [%d] (at %v) = %v, oracle %v",
					gen, k, o, bad, o.NumElements(), i, diffCoords(o.Shape, i), diffElem(o.Type, o.Data, i), diffElem(o.Type, w, i))
			}
		}
	})
}

// diffElem decodes element i of raw data of type dt for a message.
func diffElem(dt tensor.DType, b []byte, i int) any {
	switch dt {
	case tensor.Int8:
		return int8(b[i])
	case tensor.UInt8:
		return b[i]
	case tensor.Int16:
		return int16(binary.LittleEndian.Uint16(b[2*i:]))
	case tensor.Float32:
		return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	size := max(dt.Size(), 1)
	return diffScalar(dt, b[i*size:(i+1)*size])
}
