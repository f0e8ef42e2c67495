package kernels

// inOrderAVX2 is the AVX2 block of convInOrderFast (inorder_amd64.s).
//
//go:noescape
func inOrderAVX2(a *float32, k int, w *float32, bias *float32, lo, hi float32, out *[4][8]float32)

func inOrderHaveSIMD() bool { return features.avx2 }

func inOrderAsm(a *float32, k int, w *float32, bias *float32, lo, hi float32, out *[4][8]float32) {
	inOrderAVX2(a, k, w, bias, lo, hi, out)
}
