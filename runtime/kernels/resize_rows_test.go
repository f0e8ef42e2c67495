package kernels

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// The separable bilinear interpolation gives bilinearXNN's bytes (the
// per-pixel form of XNNPACK's arithmetic, which the differential tests pin
// to the oracle) for every variant, size, depth and option.
func TestXNNBilinearRows(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	forEachVariant(t, func(t *testing.T, v string) {
		for i := 0; i < 120; i++ {
			batch, inH, inW, depth := 1+r.IntN(2), 1+r.IntN(9), 1+r.IntN(9), 1+r.IntN(21)
			outH, outW := 1+r.IntN(40), 1+r.IntN(40)
			p := ResizeParams{}
			switch r.IntN(3) {
			case 1:
				p.AlignCorners = true
			case 2:
				p.HalfPixelCenters = true
			}
			ya, xa := newXNNBilinearAxis(inH, outH, p), newXNNBilinearAxis(inW, outW, p)
			x := make([]byte, batch*inH*inW*depth)
			for j := range x {
				x[j] = byte(r.Uint32())
			}
			n := batch * outH * outW * depth
			want, got := make([]byte, n), make([]byte, n+1)
			got[n] = 0x5a
			rows := newXNNBilinearRows(inH, inW, depth, ya, xa)
			if i%2 == 0 {
				bilinearXNN(x, want, batch, inH, inW, depth, ya, xa)
				runXNNRows(rows, x, got[:n], batch)
			} else {
				xs := unsafe.Slice((*int8)(unsafe.Pointer(&x[0])), len(x))
				bilinearXNN(xs, unsafe.Slice((*int8)(unsafe.Pointer(&want[0])), n), batch, inH, inW, depth, ya, xa)
				runXNNRows(rows, xs, unsafe.Slice((*int8)(unsafe.Pointer(&got[0])), n), batch)
			}
			if !bytes.Equal(got[:n], want) {
				t.Fatalf("%s: %dx%dx%dx%d -> %dx%d %+v (int8 %v): rows differ from bilinearXNN", v, batch, inH, inW, depth, outH, outW, p, i%2 == 1)
			}
			if got[n] != 0x5a {
				t.Fatalf("%s: wrote past the end", v)
			}
		}
	})
}

// The separable float interpolation gives, for every variant, the bits of
// XNNPACK's per-pixel formula t = tl+(tr−tl)·h, b = bl+(br−bl)·h,
// y = t+(b−t)·v (the differential tests pin that to the oracle).
func TestBilinearF32Rows(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	forEachVariant(t, func(t *testing.T, v string) {
		for i := 0; i < 120; i++ {
			batch, inH, inW, depth := 1+r.IntN(2), 1+r.IntN(9), 1+r.IntN(9), 1+r.IntN(40)
			outH, outW := 1+r.IntN(40), 1+r.IntN(40)
			p := ResizeParams{}
			switch r.IntN(3) {
			case 1:
				p.AlignCorners = true
			case 2:
				p.HalfPixelCenters = true
			}
			x := make([]float32, batch*inH*inW*depth)
			for j := range x {
				x[j] = 4*r.Float32() - 2
			}
			n := batch * outH * outW * depth
			want, got := make([]float32, n), make([]float32, n+1)
			got[n] = 42
			ylo, yhi, yw := xnnBilinearFloatAxis(inH, outH, p)
			xlo, xhi, xw := xnnBilinearFloatAxis(inW, outW, p)
			o := 0
			for b := 0; b < batch; b++ {
				img := x[b*inH*inW*depth:]
				for oy := range ylo {
					for ox := range xlo {
						for c := 0; c < depth; c++ {
							at := func(y, x int) float32 { return img[(y*inW+x)*depth+c] }
							tl, tr := at(ylo[oy], xlo[ox]), at(ylo[oy], xhi[ox])
							bl, br := at(yhi[oy], xlo[ox]), at(yhi[oy], xhi[ox])
							top := float32(tl + float32(float32(tr-tl)*xw[ox]))
							bot := float32(bl + float32(float32(br-bl)*xw[ox]))
							want[o] = float32(top + float32(float32(bot-top)*yw[oy]))
							o++
						}
					}
				}
			}
			newBilinearF32Rows(inH, inW, outH, outW, depth, p).run(x, got[:n], batch)
			for j := range want {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("%s: %dx%dx%dx%d -> %dx%d %+v: [%d] = %v; XNNPACK's formula %v", v, batch, inH, inW, depth, outH, outW, p, j, got[j], want[j])
				}
			}
			if got[n] != 42 {
				t.Fatalf("%s: wrote past the end", v)
			}
		}
	})
}
