package cache

import (
	"bytes"
	"slices"
	"testing"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// FuzzDecodeValue feeds arbitrary bytes, as a torn or bit-flipped bbolt
// page would hold, to decodeValue. It must not panic; what it accepts
// encodes to a value that decodes to the same tensors.
func FuzzDecodeValue(f *testing.F) {
	for _, outs := range [][]infer.Tensor{
		nil,
		{{Name: "out", DType: tensor.Int8, Shape: []int{1, 3}, Data: []byte{1, 2, 3}}},
		{{Name: "a", DType: tensor.Float32, Shape: []int{1}, Data: []byte{0, 0, 128, 63}}, {DType: tensor.UInt8, Shape: []int{}, Data: []byte{}}},
	} {
		f.Add(encodeValue(1767225600e9, outs))
	}
	f.Add([]byte{valueVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, v []byte) {
		created, cerr := valueCreated(v)
		outs, err := decodeValue(v)
		if err != nil {
			return
		}
		if cerr != nil {
			t.Fatalf("decodeValue(%x) accepted a value valueCreated refuses: %v", v, cerr)
		}
		again, err := decodeValue(encodeValue(created, outs))
		if err != nil || !equalTensors(again, outs) {
			t.Fatalf("decodeValue(encodeValue(decodeValue(%x))) = %+v, %v; want %+v", v, again, err, outs)
		}
	})
}

// FuzzCodecRoundTrip encodes tensors built from fuzzed parts and checks
// that decodeValue gives them back.
func FuzzCodecRoundTrip(f *testing.F) {
	f.Add(int64(0), "out", byte(tensor.Int8), 3, []byte{1, 2, 3}, 2)
	f.Add(int64(-1), "", byte(0), -7, []byte{}, 0)
	f.Fuzz(func(t *testing.T, created int64, name string, dtype byte, dim int, data []byte, n int) {
		n = max(0, min(n, 4))
		outs := make([]infer.Tensor, n)
		for i := range outs {
			outs[i] = infer.Tensor{Name: name, DType: tensor.DType(dtype), Shape: []int{dim, i}, Data: data}
		}
		v := encodeValue(created, outs)
		got, err := decodeValue(v)
		if err != nil {
			t.Fatalf("decodeValue(encodeValue(%d tensors)) = %v", n, err)
		}
		if c, err := valueCreated(v); err != nil || c != created {
			t.Fatalf("valueCreated = %d, %v; want %d", c, err, created)
		}
		if !equalTensors(got, outs) {
			t.Fatalf("decodeValue(encodeValue(%+v)) = %+v", outs, got)
		}
	})
}

func equalTensors(a, b []infer.Tensor) bool {
	return slices.EqualFunc(a, b, func(x, y infer.Tensor) bool {
		return x.Name == y.Name && x.DType == y.DType && slices.Equal(x.Shape, y.Shape) && bytes.Equal(x.Data, y.Data)
	})
}
