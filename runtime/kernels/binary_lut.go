package kernels

import "github.com/edged-dev/edged/runtime/tensor"

// lutMinElems is the output size from which an 8-bit ADD/SUB runs from a
// full 256×256 table of results: building it at Prepare costs 65 536
// requantizations (about 0.3 ms) and 64 KiB, after which every element is
// one load instead of about 4 ns of requantization, so the table has paid
// for itself after some 20 invocations of a 4096-element op — a daemon
// runs millions. A variable so that tests can take the table path on small
// tensors.
var lutMinElems = 1 << 12

// addSub8LUT is addSub8 with the whole result tabulated: the output byte
// depends on the two input bytes only, so the table holds exactly what
// addSub8's arithmetic gives, for every pair.
func addSub8LUT[T int8 | uint8](q *addSubQ, plan *bcastPlan, a, b, out *tensor.Tensor) Kernel {
	lo, hi, _ := TypeRange(a.Type)
	t1, t2 := q.tables(a.Type)
	lut := make([]T, 1<<16)
	for x := lo; x <= hi; x++ {
		row := lut[int(uint8(x))<<8:][:256]
		for y := lo; y <= hi; y++ {
			r := MultiplyByQuantizedMultiplierSmallerThanOneExp(t1[uint8(x)]+t2[uint8(y)], q.mo, q.sho) + q.outOff
			row[uint8(y)] = T(Clamp(r, q.lo, q.hi))
		}
	}
	f := func(x, y T) T { return lut[int(uint8(x))<<8|int(uint8(y))] }
	return Func(func() error {
		av, bv, ov := binView[T](a), binView[T](b), binView[T](out)
		if plan.kind == bcastSame {
			n := plan.n
			av, bv, ov = av[:n], bv[:n], ov[:n]
			lut := (*[1 << 16]T)(lut)
			for i := range ov {
				ov[i] = lut[uint16(uint8(av[i]))<<8|uint16(uint8(bv[i]))]
			}
			return nil
		}
		bcastApply(plan, av, bv, ov, f)
		return nil
	})
}
