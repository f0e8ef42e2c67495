package kernels

import "github.com/edged-dev/edged/runtime/tensor"

// Tables for 8-bit element-wise operators. An int8 or uint8 unary
// operator has 256 possible inputs, so its whole result is a table of 256
// bytes: Prepare evaluates the operator's own scalar arithmetic (that of
// the active mode) once per input value, and Eval is a table lookup, exact
// by construction. The lookup is vectorised: AVX-512 VBMI byte permutes
// (four 64-byte registers hold the table) on amd64 CPUs that have them,
// NEON TBL/TBX on arm64, Go elsewhere.

// newTable8 returns f evaluated at every raw value of the 8-bit type typ,
// indexed by the value's byte. f's results must fit the output type.
func newTable8(typ tensor.DType, f func(int32) int32) *[256]uint8 {
	var lut [256]uint8
	if typ == tensor.Int8 {
		for v := int32(-128); v < 128; v++ {
			lut[uint8(v)] = uint8(f(v))
		}
		return &lut
	}
	for v := int32(0); v < 256; v++ {
		lut[v] = uint8(f(v))
	}
	return &lut
}

// table8Kernel applies lut to the raw bytes of in.
func table8Kernel(in, out *tensor.Tensor, lut *[256]uint8) Kernel {
	return Describe("table "+lookup8Variant(), Func(func() error {
		lookup8(lut, in.Data, out.Data[:len(in.Data)])
		return nil
	}))
}

// lookup8 sets y[i] = lut[x[i]]; y has x's length.
func lookup8(lut *[256]uint8, x, y []byte) {
	n := len(x)
	y = y[:n]
	if m := n &^ (lookup8Block - 1); m > 0 && lookup8HaveSIMD() {
		lookup8Asm(lut, &x[0], &y[0], m)
		x, y = x[m:], y[m:]
	}
	lookup8Go(lut, x, y)
}

func lookup8Go(lut *[256]uint8, x, y []byte) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = lut[v]
	}
}

func lookup8Variant() string {
	if lookup8HaveSIMD() {
		return lookup8SIMD
	}
	return VariantPortable
}
