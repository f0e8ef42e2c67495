//go:build edged_dynamic

package litert

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The library's error text reaches edged through one purego callback
// (callbacks are a process-wide, never-freed resource), registered as the
// error reporter of every interpreter and model with a user-data number
// that names the errorText collecting it.
var (
	reporterOnce sync.Once
	reporterFn   uintptr

	reportersMu sync.Mutex
	reporterSeq uintptr
	reporters   = map[uintptr]*errorText{}
)

// errorText collects what the library reports for one runner: up to
// maxErrorLines distinct lines, in order, and how many there were.
type errorText struct {
	c     *capi
	id    uintptr
	mu    sync.Mutex
	lines []string
	total int
}

const maxErrorLines = 8

// newErrorText registers a collector; release unregisters it once the
// library can no longer call it (the interpreter and model are deleted).
func newErrorText(c *capi) *errorText {
	if c.vsnprintf == nil || (c.optionsSetErrorReporter == nil && c.modelCreateWithReporter == nil) {
		return nil
	}
	reporterOnce.Do(func() { reporterFn = purego.NewCallback(reportError) })
	reportersMu.Lock()
	defer reportersMu.Unlock()
	reporterSeq++
	e := &errorText{c: c, id: reporterSeq}
	reporters[e.id] = e
	return e
}

func (e *errorText) release() {
	if e == nil {
		return
	}
	reportersMu.Lock()
	delete(reporters, e.id)
	reportersMu.Unlock()
}

// reportError is the C callback void (*)(void *user_data, const char
// *format, va_list args). va_list is passed as one pointer-sized word on
// every target edged supports (amd64: a pointer to the register save
// area; arm64: a pointer to the caller's copy, the struct being larger
// than 16 bytes; arm: a one-pointer struct), which vsnprintf takes as is.
func reportError(user, format, args uintptr) {
	reportersMu.Lock()
	e := reporters[user]
	reportersMu.Unlock()
	if e == nil || format == 0 {
		return
	}
	var buf [1024]byte
	n := e.c.vsnprintf(unsafe.Pointer(&buf[0]), uintptr(len(buf)), format, args)
	if n < 0 {
		return
	}
	s := string(buf[:min(int(n), len(buf)-1)])
	e.add(s)
}

func (e *errorText) add(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.total++
	for _, l := range e.lines {
		if l == s {
			return
		}
	}
	if len(e.lines) < maxErrorLines {
		e.lines = append(e.lines, s)
	}
}

// take returns what was reported since the last take, as one line for an
// error message ("" when nothing was), and forgets it.
func (e *errorText) take() string {
	if e == nil {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.total == 0 {
		return ""
	}
	s := strings.Join(e.lines, "; ")
	if more := e.total - len(e.lines); more > 0 {
		s += fmt.Sprintf(" (%d lines in all)", e.total)
	}
	e.lines, e.total = nil, 0
	return s
}
