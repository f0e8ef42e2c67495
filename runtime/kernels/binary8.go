package kernels

import (
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// 8-bit quantized binary operators. Their result byte depends on the two
// input bytes only, so, as for unary operators (table8.go), it can be
// tabulated with the operator's own arithmetic, exact by construction:
//
//   - one operand a constant scalar: a 256-entry row, applied with the
//     vector lookup;
//   - outputs of lutMinElems elements or more: the 256×256 table (64 KiB,
//     built at Prepare), laid out so that a run with one operand fixed
//     (a per-pixel scale) is one 256-entry row and takes the vector
//     lookup too;
//   - smaller outputs: the arithmetic per element, over contiguous runs.

// binary8Kernel returns the kernel of an int8 or uint8 binary operator
// whose result (clamped to the output type) is f of the raw values.
// check, if not nil, runs first at every Eval (a division's divisor).
func binary8Kernel[T int8 | uint8](plan *bcastPlan, a, b, out *tensor.Tensor, f func(x, y int32) int32, check func() error) Kernel {
	var z T
	lo, hi := int32(0), int32(255)
	if ^z < 0 {
		lo, hi = -128, 127
	}
	run := func(row rowFunc[byte, byte, byte], tile int) func() error {
		var tileA, tileB []byte
		if tile > 0 {
			tileA, tileB = make([]byte, tile), make([]byte, tile)
		}
		return func() error {
			if check != nil {
				if err := check(); err != nil {
					return err
				}
			}
			bcastRows(plan, a.Data, b.Data, out.Data, tileA, tileB, row)
			return nil
		}
	}
	// A constant scalar operand: one row.
	if (plan.kind == bcastScalarB && b.Const) || (plan.kind == bcastScalarA && a.Const) {
		var rt *[256]uint8
		if plan.kind == bcastScalarB {
			y := int32(T(b.Data[0]))
			rt = newTable8(a.Type, func(x int32) int32 { return f(x, y) })
		} else {
			x := int32(T(a.Data[0]))
			rt = newTable8(b.Type, func(y int32) int32 { return f(x, y) })
		}
		return Describe("table row "+lookup8Variant(), Func(run(func(k rowKind, a, b, y []byte) {
			if k == rowVS {
				lookup8(rt, a, y)
			} else {
				lookup8(rt, b, y)
			}
		}, 0)))
	}
	if plan.n < lutMinElems {
		g := func(x, y byte) byte { return byte(f(int32(T(x)), int32(T(y)))) }
		return Describe("scalar", Func(run(func(k rowKind, a, b, y []byte) { applyRow(k, a, b, y, g) }, plan.rowTileLen())))
	}
	// The whole table, indexed [fixed operand][other] for runs with b
	// fixed, [a][b] otherwise.
	k := plan.rowKind()
	lut := make([]uint8, 1<<16)
	for x := lo; x <= hi; x++ {
		for y := lo; y <= hi; y++ {
			v := uint8(f(x, y))
			if k == rowVS {
				lut[int(uint8(y))<<8|int(uint8(x))] = v
			} else {
				lut[int(uint8(x))<<8|int(uint8(y))] = v
			}
		}
	}
	full := (*[1 << 16]uint8)(lut)
	return Describe("table64k "+lookup8Variant(), Func(run(func(k rowKind, a, b, y []byte) {
		switch k {
		case rowVV:
			a, b = a[:len(y)], b[:len(y)]
			for i := range y {
				y[i] = full[uint16(a[i])<<8|uint16(b[i])]
			}
		case rowVS:
			lookup8(table8Row(full, b[0]), a, y)
		case rowSV:
			lookup8(table8Row(full, a[0]), b, y)
		default:
			v := full[uint16(a[0])<<8|uint16(b[0])]
			for i := range y {
				y[i] = v
			}
		}
	}, plan.rowTileLen())))
}

// table8Row is row r of a 256×256 table.
func table8Row(t *[1 << 16]uint8, r byte) *[256]uint8 {
	return (*[256]uint8)(unsafe.Pointer(&t[int(r)<<8]))
}
