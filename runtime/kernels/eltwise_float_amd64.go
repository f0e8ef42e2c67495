package kernels

// n is a positive multiple of 8.
//
//go:noescape
func clampF32sAsm(x, y *float32, n int, lo, hi float32)

//go:noescape
func addClampF32sAsm(a, b, y *float32, n int, lo, hi float32)

//go:noescape
func maxF32sAsm(acc, x *float32, n int)

func eltwiseHaveSIMD() bool { return features.avx2 }

// n is a positive multiple of 8.
//
//go:noescape
func sigmoidF32sAsm(x, y *float32, n int)

// n is a positive multiple of 8.
//
//go:noescape
func expMinusMaxF32sAsm(x, y *float32, n int, mx float32)

// n is a positive multiple of 8.
//
//go:noescape
func hardSwishF32sAsm(x, y *float32, n int)

// argmaxWinAsm is maxPoolArgmaxXNN's window loop for n a positive
// multiple of 8 channels; offs are byte offsets, offs[0] = 0.
//
//go:noescape
func argmaxWinAsm(x *float32, offs *int, win int, y *float32, idx *uint32, n int)

// unpoolWinAsm is maxUnpoolXNN's loop over one input pixel's window for n
// a positive multiple of 8 channels; offs are byte offsets.
//
//go:noescape
func unpoolWinAsm(x *float32, idx *uint32, y *float32, offs *int, win int, n int)

// sumRowsF32Asm is sumRowsF32's loop for n a positive multiple of 8
// channels and at least one row; stride is in bytes.
//
//go:noescape
func sumRowsF32Asm(x *float32, stride int, rows int, acc *float32, n int)
