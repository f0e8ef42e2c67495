package delegates_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/delegatetest"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tensor"
)

// TestStallOnShortDeadline: an accelerator that misses a budget the
// request's deadline cut short (the request waited in a queue) is not
// taken out of use; one that misses its whole AttemptTimeout is.
func TestStallOnShortDeadline(t *testing.T) {
	model, cases := personDetect(t)
	acc := delegatetest.New("acc", cpu)
	links := []delegates.Link{{Backend: acc, Variant: "cpu", Model: model}, {Backend: cpu, Variant: "cpu", Model: model}}
	c, err := delegates.NewChain(context.Background(), "person_detect", links, &delegates.Options{AttemptTimeout: 300 * time.Millisecond, CPUReserve: 100 * time.Millisecond, BackoffInitial: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acc.Delay(200 * time.Millisecond)
	// 250 ms left, 100 ms kept for the CPU: a 150 ms budget.
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	out := make([]tensor.Tensor, 1)
	who, err := c.Run(ctx, inputs(cases[0]), out)
	cancel()
	if err != nil || who != "cpu" {
		t.Fatalf("Run = %s, %v; want the cpu to answer", who, err)
	}
	if st := c.Status()[0]; st.State != delegates.Healthy || st.Failures != 0 {
		t.Errorf("acc after a squeezed stall: %+v; want healthy, no failure", st)
	}
	acc.Delay(time.Second)
	testenv.WaitFor(t, "the abandoned call to return", 5*time.Second, func() bool {
		_, err := c.Run(context.Background(), inputs(cases[0]), out)
		return err == nil && c.Status()[0].State == delegates.Failed
	})
	if st := c.Status()[0]; !strings.Contains(st.Reason, "stalled") {
		t.Errorf("acc after missing its whole attempt timeout: %+v; want failed, stalled", st)
	}
}
