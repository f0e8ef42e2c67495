package kernels

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/edged-dev/edged/runtime/tensor"
)

// RFFT2D computes the 2-D discrete Fourier transform of the real inner
// two dimensions of in (TFLite's RFFT2D): each [H, W] slice is cropped or
// zero-padded to fftLen = [fh, fw] (powers of two) and transformed to
// fh × (fw/2 + 1) complex64 bins, X[k, l] = Σ x[m, n]·e^(−2πi(km/fh +
// ln/fw)). TFLite computes in float64 (Ooura's fft2d) and rounds to
// float32; so does this radix-2 transform, whose results agree to the
// last float32 bit except for values near a rounding boundary.
func RFFT2D(in *tensor.Tensor, fftLen []int, out *tensor.Tensor) (Kernel, error) {
	const op = "RFFT2D"
	if in.Type != tensor.Float32 {
		return nil, unsupportedf("%s on %s input %q", op, in.Type, in.Name)
	}
	if out.Type != tensor.Complex64 {
		return nil, fmt.Errorf("%s: output %q has type %s; want complex64", op, out.Name, out.Type)
	}
	if in.Rank() < 2 {
		return nil, fmt.Errorf("%s: input %q has rank %d; want at least 2", op, in.Name, in.Rank())
	}
	if len(fftLen) != 2 {
		return nil, fmt.Errorf("%s: fft_length has %d values; want 2", op, len(fftLen))
	}
	fh, fw := fftLen[0], fftLen[1]
	for _, l := range fftLen {
		if l < 1 || l > 1<<20 || l&(l-1) != 0 {
			return nil, fmt.Errorf("%s: fft_length %v; want powers of two up to 2^20", op, fftLen)
		}
	}
	r := in.Rank()
	shape := append([]int(nil), in.Shape...)
	shape[r-2], shape[r-1] = fh, fw/2+1
	if err := checkOutShape(op, shape); err != nil {
		return nil, err
	}
	out.Shape = append(out.Shape[:0], shape...)
	slices := tensor.NumElements(in.Shape[:r-2])
	h, w := in.Shape[r-2], in.Shape[r-1]
	bins := fw/2 + 1
	rowPlan, colPlan := newFFTPlan(fw), newFFTPlan(fh)
	row := make([]complex128, fw)
	grid := make([]complex128, fh*bins) // the row transforms, column by column later
	col := make([]complex128, fh)
	vh, vw := min(h, fh), min(w, fw)
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		x, y := in.Float32s(), out.Complex64s()
		for s := 0; s < slices; s++ {
			src := x[s*h*w:]
			for i := 0; i < fh; i++ {
				clear(row)
				if i < vh {
					for j := 0; j < vw; j++ {
						row[j] = complex(float64(src[i*w+j]), 0)
					}
				}
				rowPlan.transform(row)
				copy(grid[i*bins:(i+1)*bins], row[:bins])
			}
			dst := y[s*fh*bins:]
			for j := 0; j < bins; j++ {
				for i := 0; i < fh; i++ {
					col[i] = grid[i*bins+j]
				}
				colPlan.transform(col)
				for i := 0; i < fh; i++ {
					dst[i*bins+j] = complex(float32(real(col[i])), float32(imag(col[i])))
				}
			}
			// The bins that are real for a real input: TFLite writes
			// their imaginary parts as -0.
			negZero := float32(math.Copysign(0, -1))
			for _, i := range [2]int{0, fh / 2} {
				for _, j := range [2]int{0, bins - 1} {
					dst[i*bins+j] = complex(real(dst[i*bins+j]), negZero)
				}
			}
		}
		return nil
	}), nil
}

// fftPlan is an in-place iterative radix-2 forward transform of one
// length, with its bit-reversal permutation and twiddle factors computed
// once.
type fftPlan struct {
	n   int
	rev []int
	tw  []complex128 // e^(−2πik/n), k < n/2
}

func newFFTPlan(n int) *fftPlan {
	p := &fftPlan{n: n, rev: make([]int, n), tw: make([]complex128, n/2)}
	logN := bits.Len(uint(n)) - 1
	for i := range p.rev {
		p.rev[i] = int(bits.Reverse(uint(i)) >> (bits.UintSize - logN))
	}
	if logN == 0 {
		p.rev[0] = 0
	}
	for k := range p.tw {
		a := -2 * math.Pi * float64(k) / float64(n)
		p.tw[k] = complex(math.Cos(a), math.Sin(a))
	}
	return p
}

func (p *fftPlan) transform(a []complex128) {
	n := p.n
	for i, j := range p.rev {
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		half, stride := size/2, n/size
		for start := 0; start < n; start += size {
			for k := 0; k < half; k++ {
				// The complex product spelled out, each product rounded on
				// its own so that no platform fuses it: results are the
				// same on every architecture.
				w, v := p.tw[k*stride], a[start+k+half]
				t := complex(float64(real(w)*real(v))-float64(imag(w)*imag(v)), float64(real(w)*imag(v))+float64(imag(w)*real(v)))
				u := a[start+k]
				a[start+k] = u + t
				a[start+k+half] = u - t
			}
		}
	}
}

// ComplexOp selects what ComplexPart extracts.
type ComplexOp int

// Complex parts.
const (
	OpReal ComplexOp = iota
	OpImag
	OpComplexAbs
)

func (op ComplexOp) String() string {
	switch op {
	case OpReal:
		return "REAL"
	case OpImag:
		return "IMAG"
	case OpComplexAbs:
		return "COMPLEX_ABS"
	}
	return fmt.Sprintf("complex(%d)", int(op))
}

// ComplexPart maps complex64 elements to float32 ones (TFLite's REAL, IMAG
// and COMPLEX_ABS). The magnitude is computed as the oracle's C library
// computes hypotf: the squares summed in float64, rounded to float32, and
// its float32 square root, with the operands scaled by 2^±90 far from 1.
func ComplexPart(op ComplexOp, in, out *tensor.Tensor) (Kernel, error) {
	if in.Type != tensor.Complex64 {
		return nil, unsupportedf("%s on %s input %q", op, in.Type, in.Name)
	}
	if out.Type != tensor.Float32 {
		return nil, fmt.Errorf("%s: output %q has type %s; want float32", op, out.Name, out.Type)
	}
	var f func(complex64) float32
	switch op {
	case OpReal:
		f = func(c complex64) float32 { return real(c) }
	case OpImag:
		f = func(c complex64) float32 { return imag(c) }
	case OpComplexAbs:
		f = func(c complex64) float32 { return hypotf(real(c), imag(c)) }
	default:
		return nil, fmt.Errorf("%s: unknown operator", op)
	}
	out.Shape = append(out.Shape[:0], in.Shape...)
	n := in.NumElements()
	return Func(func() error {
		if err := shapeCheckData(in, out); err != nil {
			return err
		}
		x, y := in.Complex64s()[:n], out.Float32s()[:n]
		for i, c := range x {
			y[i] = f(c)
		}
		return nil
	}), nil
}

// hypotf is musl's hypotf (the oracle's C library).
func hypotf(x, y float32) float32 {
	ux, uy := math.Float32bits(x)&0x7fffffff, math.Float32bits(y)&0x7fffffff
	if ux < uy {
		ux, uy = uy, ux
	}
	x, y = math.Float32frombits(ux), math.Float32frombits(uy)
	if uy == 0xff<<23 {
		return y
	}
	if ux >= 0xff<<23 || uy == 0 || ux-uy >= 25<<23 {
		return x + y
	}
	z := float32(1)
	switch {
	case ux >= (0x7f+60)<<23:
		z = 0x1p90
		x *= 0x1p-90
		y *= 0x1p-90
	case uy < (0x7f-60)<<23:
		z = 0x1p-90
		x *= 0x1p90
		y *= 0x1p90
	}
	// Products of float32 values are exact in float64: fusing changes nothing.
	s := float32(float64(x)*float64(x) + float64(y)*float64(y))
	return z * float32(math.Sqrt(float64(s)))
}
