package cli

// Progress bars by github.com/schollz/progressbar/v3: maintained, small
// (three dependencies), and it does what a hand-written bar got wrong —
// rate and ETA, throttled redraws. edgectl draws one only when the
// writer is a terminal and never moves it backwards.

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress is a byte-count bar on a terminal, and nothing elsewhere.
type progress struct {
	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	last int64
}

func newProgress(w io.Writer, label string, total int64) *progress {
	p := &progress{}
	if !isTerminal(w) {
		return p
	}
	p.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return p
}

// update moves the bar to sent bytes; it never goes back.
func (p *progress) update(sent, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil || sent <= p.last {
		return
	}
	p.last = sent
	p.bar.Set64(sent)
}

// done removes the bar.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
	}
}
