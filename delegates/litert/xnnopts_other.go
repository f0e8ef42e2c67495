//go:build edged_dynamic && !(amd64 || arm64 || arm)

package litert

import "unsafe"

// bindOptionsDefault: edged knows how this architecture returns a struct
// by value only for amd64, arm64 and arm; elsewhere the XNNPACK delegate
// is not used.
func bindOptionsDefault(sym uintptr) func(out unsafe.Pointer) { return nil }
