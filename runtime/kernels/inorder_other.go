//go:build !amd64

package kernels

import "unsafe"

func inOrderHaveSIMD() bool { return false }

// inOrderAsm is inOrderAVX2 in Go (unused: convInOrderFast is for vector
// units only).
func inOrderAsm(a *float32, k int, w *float32, bias *float32, lo, hi float32, out *[4][8]float32) {
	as, ws, bs := unsafe.Slice(a, 4*k), unsafe.Slice(w, 8*k), unsafe.Slice(bias, 8)
	for r := range 4 {
		for c := range 8 {
			acc := bs[c]
			for d := range k {
				acc = acc + float32(as[r*k+d]*ws[d*8+c])
			}
			out[r][c] = ClampF(acc, lo, hi)
		}
	}
}
