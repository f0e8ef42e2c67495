//go:build !amd64

package kernels

func hybridMinMaxAsm(v []float32) (lo, hi float32, n int, ok bool) { return 0, 0, 0, false }

func hybridQuantAsm(v []float32, q []int8, scale float32, zp int32) int { return 0 }

func hybridQuantAwayAsm(v []float32, q []int8, mul, add float32, lo int32) int { return 0 }

func hybridStoreAsm(t []int32, y []float32, cst, wsum []int32, mul, bias []float32, two bool, zp int32, r, lo, hi float32) int {
	return 0
}

func hybridDWAccAsm(acc []int32, q []int16, w []int8) int { return 0 }

func hybridStoreRowsAsm(t *[gemmVMR][gemmVNR]int32, rows int, y []float32, ldy, nv int, cst, wsum []int32, mul, bias []float32, zp *[gemmVMR]int32, r *[gemmVMR]float32, two bool, lo, hi float32) int {
	return 0
}

func hybridQD8RowsAsm(x []float32, q []int8, n int, inv []float32, zp []int32) int { return 0 }
