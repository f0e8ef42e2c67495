//go:build edged_dynamic && (amd64 || arm64)

package litert

import (
	"unsafe"

	"github.com/ebitengine/purego"
)

// xnnOptionsMem is larger than any TfLiteXNNPackDelegateOptions (56 bytes
// in TFLite 2.21): a C struct that size is returned in memory the caller
// provides (amd64: hidden pointer in RDI; arm64: X8), which purego does
// for a Go struct return; the callee fills the C struct's bytes and leaves
// the rest.
type xnnOptionsMem struct{ w [xnnOptionsSize / 8]uint64 }

// bindOptionsDefault binds TfLiteXNNPackDelegateOptionsDefault, which
// returns its struct by value.
func bindOptionsDefault(sym uintptr) func(out unsafe.Pointer) {
	var f func() xnnOptionsMem
	purego.RegisterFunc(&f, sym)
	return func(out unsafe.Pointer) {
		v := f()
		copy(unsafe.Slice((*byte)(out), xnnOptionsSize), unsafe.Slice((*byte)(unsafe.Pointer(&v)), xnnOptionsSize))
	}
}
