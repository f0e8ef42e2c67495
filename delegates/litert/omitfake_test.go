//go:build !(edged_dynamic && linux)

package litert

func removeFake() {}
