//go:build edged_dynamic && arm

package litert

import (
	"unsafe"

	"github.com/ebitengine/purego"
)

// bindOptionsDefault binds TfLiteXNNPackDelegateOptionsDefault, which
// returns its struct by value: on 32-bit ARM (AAPCS) a struct larger than
// 4 bytes is returned in memory whose address the caller passes in R0,
// the first argument.
func bindOptionsDefault(sym uintptr) func(out unsafe.Pointer) {
	var f func(out unsafe.Pointer) unsafe.Pointer
	purego.RegisterFunc(&f, sym)
	return func(out unsafe.Pointer) { f(out) }
}
