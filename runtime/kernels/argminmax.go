package kernels

import (
	"fmt"

	"github.com/edged-dev/edged/runtime/tensor"
)

// ArgMinMax computes ARG_MAX (isMax) or ARG_MIN of in along axis (negative
// counts from the end). The output, int32 or int64, has in's shape without
// that axis. Ties pick the first index, as TFLite's strict comparison; NaNs
// never win a comparison.
func ArgMinMax(cfg *Config, isMax bool, axis int, in, out *tensor.Tensor) (Kernel, error) {
	op := "ARG_MIN"
	if isMax {
		op = "ARG_MAX"
	}
	r := in.Rank()
	if r == 0 {
		return nil, fmt.Errorf("%s: input %q is a scalar", op, in.Name)
	}
	a := axis
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return nil, fmt.Errorf("%s: axis %d out of range for input %q of rank %d", op, axis, in.Name, r)
	}
	if err := CheckType("output", out, tensor.Int32, tensor.Int64); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out.Shape = append(append(out.Shape[:0], in.Shape[:a]...), in.Shape[a+1:]...)
	outer := tensor.NumElements(in.Shape[:a])
	n := in.Shape[a]
	inner := tensor.NumElements(in.Shape[a+1:])
	if n == 0 && outer*inner > 0 {
		return nil, fmt.Errorf("%s: axis %d of input %q is empty", op, axis, in.Name)
	}
	g := argGeom{outer: outer, n: n, inner: inner, isMax: isMax}
	switch in.Type {
	case tensor.Float32:
		return argKernel(g, in.Float32s, out), nil
	case tensor.Int8:
		return argKernel(g, in.Int8s, out), nil
	case tensor.UInt8:
		return argKernel(g, in.UInt8s, out), nil
	case tensor.Int16:
		return argKernel(g, in.Int16s, out), nil
	case tensor.Int32:
		return argKernel(g, in.Int32s, out), nil
	case tensor.Int64:
		return argKernel(g, in.Int64s, out), nil
	case tensor.Bool:
		return argKernel(g, in.UInt8s, out), nil // bools are 0/1 bytes; false < true
	}
	return nil, unsupportedf("%s on %s input", op, in.Type)
}

type argGeom struct {
	outer, n, inner int
	isMax           bool
}

type argElem interface {
	float32 | int8 | uint8 | int16 | int32 | int64
}

func argKernel[T argElem](g argGeom, view func() []T, out *tensor.Tensor) Kernel {
	if out.Type == tensor.Int64 {
		return Func(func() error { argLoop(g, view(), out.Int64s()); return nil })
	}
	return Func(func() error { argLoop(g, view(), out.Int32s()); return nil })
}

func argLoop[T argElem, I int32 | int64](g argGeom, x []T, y []I) {
	if g.inner == 1 && g.n > 0 && g.n <= 256 && argSmall[T]() {
		argRowsSmall(g, x, y)
		return
	}
	if g.inner == 1 && g.n > 0 {
		// The axis is the last (a classifier's or a segmenter's
		// channels): one contiguous row per output.
		n := g.n
		y = y[:g.outer]
		for o := range y {
			row := x[o*n : o*n+n]
			best, bi := row[0], 0
			if g.isMax {
				for k, v := range row {
					if v > best {
						best, bi = v, k
					}
				}
			} else {
				for k, v := range row {
					if v < best {
						best, bi = v, k
					}
				}
			}
			y[o] = I(bi)
		}
		return
	}
	for o := 0; o < g.outer; o++ {
		base := o * g.n * g.inner
		for i := 0; i < g.inner; i++ {
			best := x[base+i]
			bi := 0
			for k := 1; k < g.n; k++ {
				v := x[base+k*g.inner+i]
				if (g.isMax && v > best) || (!g.isMax && v < best) {
					best, bi = v, k
				}
			}
			y[o*g.inner+i] = I(bi)
		}
	}
}

// argSmall reports whether T's values fit 16 bits (argRowsSmall).
func argSmall[T argElem]() bool {
	var z T
	switch any(z).(type) {
	case int8, uint8, int16:
		return true
	}
	return false
}

// argRowsSmall is argLoop's last-axis case for 8- and 16-bit values and
// rows of at most 256, without branches: each element becomes the key
// (value as unsigned, or its complement for ARG_MIN)·256 + 255 − index,
// whose maximum (a conditional move) is the winning value with the
// smallest index among ties, as the strict comparison picks.
func argRowsSmall[T argElem, I int32 | int64](g argGeom, x []T, y []I) {
	n := g.n
	var z T
	var bias uint32
	switch any(z).(type) {
	case int8:
		bias = 1 << 7
	case int16:
		bias = 1 << 15
	}
	flip := uint32(0)
	if !g.isMax {
		flip = 0xffff
	}
	y = y[:g.outer]
	for o := range y {
		row := x[o*n : o*n+n]
		best := uint32(0)
		for k, v := range row {
			key := ((uint32(int32(v))+bias)^flip)<<8 | uint32(255-k)
			best = max(best, key)
		}
		y[o] = I(255 - best&0xff)
	}
}
