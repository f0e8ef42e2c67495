package delegates_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/delegatetest"
	"github.com/edged-dev/edged/runtime/tensor"
)

// A chain serves from the accelerator while it answers and from the CPU
// when it fails.
func ExampleChain() {
	model, err := os.ReadFile("../testdata/models/person_detect.tflite")
	if err != nil {
		fmt.Println(err)
		return
	}
	tpu := delegatetest.New("edgetpu", delegates.CPU{})
	links, _, err := delegates.Plan([]delegates.Backend{tpu, delegates.CPU{}}, map[string][]byte{"edgetpu": model, "cpu": model})
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := delegates.NewChain(context.Background(), "person_detect", links, &delegates.Options{
		OnEvent: func(e delegates.Event) { fmt.Println(e.Delegate, e.From, "->", e.To) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	in := []tensor.Tensor{{Type: tensor.Int8, Data: make([]byte, 96*96)}}
	out := make([]tensor.Tensor, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, mode := range []delegatetest.Mode{delegatetest.OK, delegatetest.Fail} {
		tpu.Set(mode)
		served, err := c.Run(ctx, in, out)
		fmt.Println(mode, "served by", served, err, out[0].Shape)
	}
	// Output:
	// ok served by edgetpu <nil> [1 2]
	// edgetpu healthy -> failed
	// fail served by cpu <nil> [1 2]
}
