package boards_test

import (
	"fmt"
	"os"

	"github.com/edged-dev/edged/boards"
)

// Production code passes os.DirFS("/"); this reads a fixture tree instead.
func ExampleDetect() {
	b, err := boards.Detect(os.DirFS("testdata/rpi-4"))
	if err != nil {
		fmt.Println("partial detection:", err)
	}
	fmt.Println(b.Summary())
	fmt.Println(b.DefaultThreads(), b.PreferredDelegates())
	// Output:
	// rpi-4b: Raspberry Pi 4 Model B Rev 1.4, 4x Cortex-A72 (neon), 7.6 GiB
	// 4 [cpu]
}
