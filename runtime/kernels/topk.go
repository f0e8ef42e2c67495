package kernels

import (
	"fmt"
	"math"

	"github.com/edged-dev/edged/runtime/tensor"
)

// TopKV2 finds the k largest values of every row (last dimension) of in
// and their indices (TFLite's TOPK_V2), largest first; equal values keep
// their index order and NaNs come last, so the result is unique. float32,
// int8, uint8, int16, int32 and int64 values; int32 or int16 indices.
func TopKV2(in *tensor.Tensor, k int, values, indices *tensor.Tensor) (Kernel, error) {
	const op = "TOPK_V2"
	if err := CheckType(op+" input", in, tensor.Float32, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Int32, tensor.Int64); err != nil {
		return nil, err
	}
	if values.Type != in.Type {
		return nil, fmt.Errorf("%s: values output %q has type %s; want %s", op, values.Name, values.Type, in.Type)
	}
	if err := CheckType(op+" indices output", indices, tensor.Int32, tensor.Int16); err != nil {
		return nil, err
	}
	if in.Rank() < 1 {
		return nil, fmt.Errorf("%s: input %q is a scalar; want at least one dimension", op, in.Name)
	}
	row := in.Shape[in.Rank()-1]
	if k > row {
		return nil, fmt.Errorf("%s: k = %d is larger than the last dimension (%d)", op, k, row)
	}
	k = max(k, 0)
	if indices.Type == tensor.Int16 && row > math.MaxInt16 && k > 0 {
		return nil, fmt.Errorf("%s: rows of %d do not fit int16 indices", op, row)
	}
	shape := append([]int(nil), in.Shape...)
	shape[len(shape)-1] = k
	values.Shape = append(values.Shape[:0], shape...)
	indices.Shape = append(indices.Shape[:0], shape...)
	rows := 0
	if row > 0 {
		rows = in.NumElements() / row
	}
	heap := make([]int32, k)
	var before func(base int, a, b int32) bool // a ranks before b in the row at base
	switch in.Type {
	case tensor.Float32:
		before = topkBefore(in.Float32s, true)
	case tensor.Int8:
		before = topkBefore(in.Int8s, false)
	case tensor.UInt8:
		before = topkBefore(in.UInt8s, false)
	case tensor.Int16:
		before = topkBefore(in.Int16s, false)
	case tensor.Int32:
		before = topkBefore(in.Int32s, false)
	default:
		before = topkBefore(in.Int64s, false)
	}
	es := in.Type.Size()
	return Func(func() error {
		if err := shapeCheckData(in, values, indices); err != nil {
			return err
		}
		if k == 0 {
			return nil
		}
		for r := 0; r < rows; r++ {
			// A heap of the k best so far with the worst at the root.
			base := r * row
			less := func(i, j int) bool { return before(base, heap[i], heap[j]) }
			n := 0
			for c := 0; c < row; c++ {
				if n < k {
					heap[n] = int32(c)
					n++
					siftUp(heap[:n], n-1, less)
					continue
				}
				if before(base, int32(c), heap[0]) {
					heap[0] = int32(c)
					siftDown(heap[:n], 0, less)
				}
			}
			// Pop the worst to the end: the slice ends sorted best first.
			for m := n - 1; m > 0; m-- {
				heap[0], heap[m] = heap[m], heap[0]
				siftDown(heap[:m], 0, less)
			}
			for j, c := range heap {
				o := r*k + j
				if indices.Type == tensor.Int32 {
					indices.Int32s()[o] = c
				} else {
					indices.Int16s()[o] = int16(c)
				}
				s := (r*row + int(c)) * es
				copy(values.Data[o*es:(o+1)*es], in.Data[s:s+es])
			}
		}
		return nil
	}), nil
}

// topkBefore returns TFLite's TopK order on the row at base of the data
// view: larger first, NaN last, then the lower index.
func topkBefore[T ordered](data func() []T, float bool) func(base int, a, b int32) bool {
	return func(base int, a, b int32) bool {
		v := data()
		x, y := v[base+int(a)], v[base+int(b)]
		if float {
			xn, yn := x != x, y != y
			if xn != yn {
				return yn
			}
		}
		if x != y {
			return x > y
		}
		return a < b
	}
}

// siftUp and siftDown keep heap[0] the element that ranks last (a
// min-heap under "ranks before").
func siftUp(h []int32, i int, before func(i, j int) bool) {
	for i > 0 {
		p := (i - 1) / 2
		if !before(p, i) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func siftDown(h []int32, i int, before func(i, j int) bool) {
	n := len(h)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && before(c, c+1) {
			c++
		}
		if !before(i, c) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
