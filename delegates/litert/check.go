//go:build edged_dynamic

package litert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// A library is opened in the daemon only once a child process has opened
// it, found TfLiteVersion and run the check model with the backend's
// delegate (see delegates.CheckInChild): a truncated file crashes the
// process that maps it, a GPU driver can hang, and another library can
// stand at the configured path.

// checkName is the child check of this package.
const checkName = "litert"

// DefaultCheckTimeout bounds the child process of a library check.
const DefaultCheckTimeout = 10 * time.Second

// recheckAfter is how long an outcome other than a pass is reused before
// the next Probe checks the library again (a pass is final: the library
// is then mapped in this process).
const recheckAfter = 5 * time.Second

// inChild is set in the child process, which checks in-process.
var inChild bool

func init() { delegates.RegisterChildCheck(checkName, childCheck) }

type checkRequest struct {
	Backend string `json:"backend"`
	Paths   Paths  `json:"paths"`
	Threads int    `json:"threads"`
}

// vetting is the state of the checks of one backend's set of libraries.
type vetting struct {
	mu      sync.Mutex
	outcome delegates.ProbeOutcome
	done    bool
	running chan struct{} // closed when the check under way ends
}

var (
	vetMu sync.Mutex
	vets  = map[string]*vetting{}
)

func (b *Backend) libraries() []string {
	switch b.name {
	case EdgeTPU:
		return []string{b.opts.Paths.TFLite, b.opts.Paths.EdgeTPU}
	case GPU:
		return []string{b.opts.Paths.TFLite, b.opts.Paths.GPU}
	}
	return []string{b.opts.Paths.TFLite}
}

func (b *Backend) vetKey() string { return b.name + "\x00" + strings.Join(b.libraries(), "\x00") }

func (b *Backend) vetting() *vetting {
	vetMu.Lock()
	defer vetMu.Unlock()
	v := vets[b.vetKey()]
	if v == nil {
		v = &vetting{}
		vets[b.vetKey()] = v
	}
	return v
}

// LastProbe is the outcome of the latest check of the backend's
// libraries.
func (b *Backend) LastProbe() (delegates.ProbeOutcome, bool) {
	v := b.vetting()
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.outcome, v.done
}

// vet returns the outcome of the check of the backend's libraries in a
// child process: the last one when it passed or is recent, a new one
// otherwise. Concurrent callers share one check.
func (b *Backend) vet(ctx context.Context) delegates.ProbeOutcome {
	v := b.vetting()
	for {
		v.mu.Lock()
		if v.done && (v.outcome.State == delegates.Healthy || time.Since(v.outcome.At) < recheckAfter) {
			o := v.outcome
			v.mu.Unlock()
			return o
		}
		if wait := v.running; wait != nil {
			v.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return delegates.ProbeOutcome{Backend: b.name, State: delegates.Failed, Reason: "waiting for the library check: " + ctx.Err().Error(), At: time.Now()}
			}
		}
		v.running = make(chan struct{})
		v.mu.Unlock()
		break
	}
	o := b.checkInChild(ctx)
	v.mu.Lock()
	v.outcome, v.done = o, true
	close(v.running)
	v.running = nil
	v.mu.Unlock()
	if onCheck := OnCheck; onCheck != nil {
		onCheck(o)
	}
	return o
}

// OnCheck, when set, is told every outcome of a library check (the
// daemon logs them).
var OnCheck func(delegates.ProbeOutcome)

func (b *Backend) checkInChild(ctx context.Context) delegates.ProbeOutcome {
	req, _ := json.Marshal(checkRequest{Backend: b.name, Paths: b.opts.Paths, Threads: 1})
	timeout := b.opts.CheckTimeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	o := delegates.CheckInChild(ctx, checkName, req, timeout, delegates.ProbeOutcome{Backend: b.name, Libraries: b.libraries()})
	if o.State == delegates.Failed && strings.Contains(o.Reason, "while opening") && (strings.Contains(o.Reason, "SIGBUS") || strings.Contains(o.Reason, "SIGSEGV")) {
		o.Reason += " (a truncated or damaged file?)"
	}
	return o
}

// childCheck runs in the child: it opens the libraries, asks the version
// and runs the check model with the backend's delegate (the Edge TPU's
// needs a compiled model: its library is opened and asked for devices,
// and the check model runs on the TFLite library alone).
func childCheck(ctx context.Context, raw []byte, stage func(string)) delegates.ProbeOutcome {
	inChild = true
	var req checkRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return delegates.ProbeOutcome{State: delegates.Failed, Reason: "bad check request: " + err.Error()}
	}
	o := delegates.ProbeOutcome{Backend: req.Backend}
	failed := func(err error) delegates.ProbeOutcome {
		o.State, o.Reason = delegates.Failed, err.Error()
		if errors.Is(err, delegates.ErrNotPresent) {
			o.State = delegates.Absent
			o.Reason = strings.TrimSuffix(o.Reason, ": "+delegates.ErrNotPresent.Error())
		}
		return o
	}
	stage("opening " + req.Paths.TFLite)
	c, err := loadCAPI(req.Paths.TFLite)
	if err != nil {
		return failed(err)
	}
	stage("calling TfLiteVersion in " + req.Paths.TFLite)
	v := c.version()
	if !versionRE.MatchString(v) {
		return failed(fmt.Errorf("%s: TfLiteVersion says %q; want a version such as 2.21.0", req.Paths.TFLite, v))
	}
	o.Version = v
	b := New(req.Backend, Options{Paths: req.Paths, Threads: req.Threads})
	var details []string
	switch req.Backend {
	case EdgeTPU:
		stage("opening " + req.Paths.EdgeTPU)
		a, err := loadEdgeTPU(req.Paths.EdgeTPU)
		if err != nil {
			return failed(err)
		}
		stage("listing the Edge TPUs with " + req.Paths.EdgeTPU)
		details = append(details, fmt.Sprintf("Edge TPUs: %d", len(a.devices())))
	case GPU:
		stage("opening " + req.Paths.GPU)
		if _, err := loadGPU(req.Paths.GPU); err != nil {
			return failed(err)
		}
	case XNNPACK:
	default:
		return failed(fmt.Errorf("unknown backend %q", req.Backend))
	}
	stage("running the check model (" + req.Backend + ")")
	detail, err := b.runCheckModel(ctx, req.Backend != EdgeTPU)
	if err != nil {
		return failed(err)
	}
	o.State, o.Detail = delegates.Healthy, strings.Join(append(details, detail), "; ")
	return o
}

var versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+[0-9A-Za-z.+-]*$`)

// runCheckModel prepares the check model (with the backend's delegate,
// or on the library alone) and checks its one answer.
func (b *Backend) runCheckModel(ctx context.Context, withDelegate bool) (string, error) {
	model, err := checkModel(1)
	if err != nil {
		return "", err
	}
	r, err := b.prepare(ctx, model, "check", withDelegate)
	if err != nil {
		return "", err
	}
	defer r.Close()
	out := make([]tensor.Tensor, 1)
	in := tensor.Tensor{Type: tensor.Float32, Shape: []int{1, 4}, Data: tflitetest.Float32Bytes(checkInput)}
	if err := r.Invoke(ctx, []tensor.Tensor{in}, out); err != nil {
		return "", err
	}
	if out[0].Type != tensor.Float32 || !slices.Equal(out[0].Float32s(), checkOutput) {
		return "", fmt.Errorf("the check model answered %v %v; want float32 %v", out[0].Type, out[0].Float32s(), checkOutput)
	}
	detail := "check model answered"
	if rr := r.(*runner); rr.xnnFlags != 0 {
		detail += fmt.Sprintf("; XNNPACK flags %#x", rr.xnnFlags)
	}
	return detail, nil
}
