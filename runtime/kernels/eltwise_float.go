package kernels

import (
	"math"
	"unsafe"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Element-wise float32 loops for RELU and same-shape ADD. They are
// chosen in the kernel constructors: the per-element closure of
// actMapFloat/bcastApply costs more than the arithmetic (RELU and ADD were
// half of BlazeFace's float time), so these run as plain loops, and on
// amd64 with AVX2 as 8-wide MAXPS/MINPS, which give ClampF's results bit
// for bit (NaN and -0 included, see eltwise_float_amd64.s).

// clampF32s sets y[i] = ClampF(x[i], lo, hi) for every element of x.
type clampF32sFunc func(x, y []float32, lo, hi float32)

// addClampF32s sets y[i] = ClampF(a[i]+b[i], lo, hi) for every element of a.
type addClampF32sFunc func(a, b, y []float32, lo, hi float32)

func clampF32sGo(x, y []float32, lo, hi float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = ClampF(v, lo, hi)
	}
}

func addClampF32sGo(a, b, y []float32, lo, hi float32) {
	b, y = b[:len(a)], y[:len(a)]
	for i, v := range a {
		y[i] = ClampF(v+b[i], lo, hi)
	}
}

// clampF32sKernel returns the clamp loop for the variant in use.
func clampF32sKernel() clampF32sFunc {
	if eltwiseHaveSIMD() {
		return clampF32sSIMD
	}
	return clampF32sGo
}

// addClampF32sKernel returns the add-and-clamp loop for the variant in use.
func addClampF32sKernel() addClampF32sFunc {
	if eltwiseHaveSIMD() {
		return addClampF32sSIMD
	}
	return addClampF32sGo
}

// clampF32sSIMD runs the assembly on whole blocks of 8 and Go on the tail.
func clampF32sSIMD(x, y []float32, lo, hi float32) {
	n := len(x)
	y = y[:n]
	if m := n &^ 7; m > 0 {
		clampF32sAsm(&x[0], &y[0], m, lo, hi)
	}
	clampF32sGo(x[n&^7:], y[n&^7:], lo, hi)
}

func addClampF32sSIMD(a, b, y []float32, lo, hi float32) {
	n := len(a)
	b, y = b[:n], y[:n]
	if m := n &^ 7; m > 0 {
		addClampF32sAsm(&a[0], &b[0], &y[0], m, lo, hi)
	}
	addClampF32sGo(a[n&^7:], b[n&^7:], y[n&^7:], lo, hi)
}

// maxF32sFunc sets acc[i] = x[i] if x[i] > acc[i], for every element of
// acc: MAX_POOL's running maximum, which keeps acc when x is NaN.
type maxF32sFunc func(acc, x []float32)

func maxF32sGo(acc, x []float32) {
	x = x[:len(acc)]
	for i, v := range x {
		if v > acc[i] {
			acc[i] = v
		}
	}
}

func maxF32sSIMD(acc, x []float32) {
	n := len(acc)
	x = x[:n]
	if m := n &^ 7; m > 0 {
		maxF32sAsm(&acc[0], &x[0], m)
	}
	maxF32sGo(acc[n&^7:], x[n&^7:])
}

// maxPoolFloat is max pooling for float32 with the per-element closures
// replaced by the variant's loops; same order, same results.
func maxPoolFloat(g *poolGeom, x, y []float32, lo, hi float32, maxInto maxF32sFunc, clamp clampF32sFunc) {
	d := g.depth
	o := 0
	for b := 0; b < g.batch; b++ {
		for oy := 0; oy < g.outH; oy++ {
			for ox := 0; ox < g.outW; ox++ {
				maxPoolFloatPixel(g, x, y, b, oy, ox, maxInto)
				clamp(y[o:o+d], y[o:o+d], lo, hi)
				o += d
			}
		}
	}
}

// maxPoolFloatPixel sets output pixel (b, oy, ox) to the maximum of its
// window, from -MaxFloat32, visiting the window row by row.
func maxPoolFloatPixel(g *poolGeom, x, y []float32, b, oy, ox int, maxInto maxF32sFunc) {
	d := g.depth
	y0, y1, x0, x1 := g.window(oy, ox)
	o := ((b*g.outH+oy)*g.outW + ox) * d
	acc := y[o : o+d]
	for c := range acc {
		acc[c] = -math.MaxFloat32
	}
	for iy := y0; iy < y1; iy++ {
		row := ((b*g.inH+iy)*g.inW + x0) * d
		for ix := x0; ix < x1; ix++ {
			maxInto(acc, x[row:row+d])
			row += d
		}
	}
}

// maxPoolFloatKernel returns the MAX_POOL_2D float32 kernel for the
// variant in use.
func maxPoolFloatKernel(g *poolGeom, in, out *tensor.Tensor, lo, hi float32) Kernel {
	maxInto, clamp := maxF32sFunc(maxF32sGo), clampF32sKernel()
	if eltwiseHaveSIMD() {
		maxInto = maxF32sSIMD
	}
	if poolTapsHaveSIMD() {
		t := &poolTapsF{taps: make([][2]unsafe.Pointer, g.p.FilterH*g.p.FilterW)}
		return Describe("window "+floatVariant(), Func(func() error {
			maxPoolFloatRows(g, t, in.Float32s(), out.Float32s(), lo, hi, maxInto, clamp)
			return nil
		}))
	}
	return Func(func() error {
		maxPoolFloat(g, in.Float32s(), out.Float32s(), lo, hi, maxInto, clamp)
		return nil
	})
}

// hardSwishF32 is float HARD_SWISH: x·relu6(x+3)/6, each step rounded to
// float32 (TFLite's reference order).
func hardSwishF32(x float32) float32 {
	return x * min(6, max(0, x+3)) / 6
}

func hardSwishF32sGo(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = hardSwishF32(v)
	}
}

// hardSwishF32sSIMD runs the assembly on whole blocks of 8 and Go on the
// tail.
func hardSwishF32sSIMD(x, y []float32) {
	n := len(x)
	y = y[:n]
	if m := n &^ 7; m > 0 {
		hardSwishF32sAsm(&x[0], &y[0], m)
	}
	hardSwishF32sGo(x[n&^7:], y[n&^7:])
}

// hardSwishF32sKernel returns the float HARD_SWISH loop for the variant in
// use.
func hardSwishF32sKernel() func(x, y []float32) {
	if eltwiseHaveSIMD() {
		return hardSwishF32sSIMD
	}
	return hardSwishF32sGo
}

// sumRowsF32 adds rows of len(acc) floats, stride floats apart from the
// start of x, into acc: acc[c] += row[c] row after row, each sum rounded
// (the reference order of a pooling window or a reduction), with the
// running sums in vector registers where there are some.
func sumRowsF32(acc, x []float32, rows, stride int) {
	n := len(acc)
	if rows <= 0 || n == 0 {
		return
	}
	_ = x[(rows-1)*stride+n-1]
	v := 0
	if eltwiseHaveSIMD() {
		if v = n &^ 7; v > 0 {
			sumRowsF32Asm(&x[0], 4*stride, rows, &acc[0], v)
		}
	}
	if v == n {
		return
	}
	a := acc[v:n]
	for r := 0; r < rows; r++ {
		row := x[r*stride+v : r*stride+n]
		for c, val := range row {
			a[c] += val
		}
	}
}
