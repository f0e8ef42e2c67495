package tflite

import (
	"encoding/binary"
	"math"
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// QUANTIZE from float32 on inputs that sit on or next to a rounding tie,
// (k + 0.5)·scale, where rounding half away from zero (TFLite's kernel)
// and half to even (XNNPACK's convert, which the oracle runs) disagree,
// and where x/scale and x·(1/scale) may fall on either side of the tie.
// The uniform inputs of QUANTIZE/float32_* almost never hit one.
func init() {
	for _, dt := range []tensor.DType{tensor.Int8, tensor.UInt8} {
		addDiffGen("QUANTIZE/float32_"+dt.String()+"_ties", func(r *rand.Rand) ([]byte, [][]byte, error) {
			q := diffQuant(r, dt, 0.005, 0.05)
			// Scales with short mantissas make exact ties common.
			if r.IntN(2) == 0 {
				q.Scale[0] = float32(math.Ldexp(float64(diffInt(r, 1, 15)), -diffInt(r, 6, 10)))
			}
			n := diffInt(r, 16, 96)
			data := make([]byte, 4*n)
			for i := range n {
				k := float32(diffInt(r, -140, 140))
				v := (k + 0.5) * q.Scale[0]
				switch r.IntN(4) {
				case 1:
					v = math.Nextafter32(v, float32(math.Inf(1)))
				case 2:
					v = math.Nextafter32(v, float32(math.Inf(-1)))
				case 3:
					v = k * q.Scale[0]
				}
				binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
			}
			b := tflitetest.NewBuilder()
			in := b.Tensor("in", tensor.Float32, []int{n}, nil, nil)
			out := b.Tensor("out", dt, []int{n}, q, nil)
			b.Op(schema.BuiltinOperatorQUANTIZE, 1, []int{in}, []int{out}, nil)
			b.Inputs(in)
			b.Outputs(out)
			model, err := b.Bytes()
			return model, [][]byte{data}, err
		})
	}
}
