package delegates

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edged-dev/edged/internal/clock"
	"github.com/edged-dev/edged/runtime/tensor"
)

// Defaults of Options.
const (
	DefaultAttemptTimeout = time.Second
	DefaultBackoffInitial = time.Second
	DefaultBackoffMax     = 5 * time.Minute
	DefaultProbeTimeout   = 10 * time.Second
	DefaultCloseTimeout   = 2 * time.Second
)

// Options configure a Chain. The zero value (or nil) means the defaults.
type Options struct {
	// Clock drives timestamps and re-probe timers; nil means real time.
	// Attempt deadlines use the contexts' real time.
	Clock clock.Clock
	// AttemptTimeout bounds one accelerator call; 0 means
	// DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// CPUReserve is the least time left to the fallback before a request's
	// deadline: an accelerator call is cut short that much before it. The
	// chain keeps at least twice the fallback's recent latency; when it has
	// neither figure it gives the accelerator half the time left.
	CPUReserve time.Duration
	// BackoffInitial and BackoffMax bound the delay between probes of an
	// unhealthy backend, doubled after every failed probe; 0 means
	// DefaultBackoffInitial and DefaultBackoffMax.
	BackoffInitial, BackoffMax time.Duration
	// ProbeTimeout bounds one probe (Probe, Prepare and a check call on
	// zero inputs); 0 means DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// FallbackRunners is the number of fallback runners (interpreters)
	// serving requests at once; < 1 means 1.
	FallbackRunners int
	// CloseTimeout bounds how long Close waits for accelerator calls that
	// were abandoned; 0 means DefaultCloseTimeout.
	CloseTimeout time.Duration
	// OnEvent is called (synchronously, without locks held) on every
	// change of a backend's state.
	OnEvent func(Event)
	// Auto orders the accelerators by speed instead of by the links'
	// order: when the chain is made, and again when one recovers, the
	// fallback and each healthy accelerator are timed on the model for
	// AutoBudget (interleaved, on the same pseudo-random inputs) and their
	// outputs checked against the fallback's; requests go first to the
	// fastest that agrees, and straight to the fallback when it is the
	// fastest. Status shows the figures.
	Auto bool
	// AutoBudget bounds the timing of one decision; 0 means
	// DefaultAutoBudget. Each backend gets at least 3 timed calls.
	AutoBudget time.Duration
	// AgreeWith, when set, gives the outputs the accelerators are checked
	// against instead of the fallback's (it prepares the fallback's
	// variant): the CPU runtime in the arithmetic of the accelerators'
	// library, say, when the fallback rounds otherwise and deep quantized
	// networks compound the difference on arbitrary inputs.
	AgreeWith Backend
	// OnHealth is called with every change of a backend's health, for the
	// gauge edged_delegate_healthy{model,delegate}; it is called once per
	// backend by NewChain with the initial health.
	OnHealth func(model, delegate string, healthy bool)
}

// Event is a change of a backend's state in a chain.
type Event struct {
	Time     time.Time
	Model    string
	Delegate string
	Variant  string
	From, To State
	// Reason is why the backend left Healthy (empty when it recovers).
	Reason string
	// Next is when the backend will be probed again (zero when Healthy).
	Next time.Time
}

func (e Event) String() string {
	s := fmt.Sprintf("model %s: delegate %s (%s variant) %s -> %s", e.Model, e.Delegate, e.Variant, e.From, e.To)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if !e.Next.IsZero() {
		s += "; next probe at " + e.Next.Format(time.RFC3339)
	}
	return s
}

// Status is one line of a chain's status: a backend and how it fares.
type Status struct {
	Delegate string
	Variant  string
	Fallback bool
	State    State
	Reason   string
	Since    time.Time
	// NextProbe is when an unhealthy backend is probed again.
	NextProbe time.Time
	// Served counts requests this backend answered; Failures counts calls
	// that failed and were retried further down the chain.
	Served, Failures uint64
	// Trial is what the automatic choice measured (Options.Auto).
	Trial *Trial
	// Check is the latest check of the backend's vendor libraries (nil
	// for a backend without any).
	Check *ProbeOutcome
}

// LastCheck is b's latest library check, if it reports one.
func LastCheck(b Backend) *ProbeOutcome {
	if pr, ok := b.(ProbeReporter); ok {
		if o, ok := pr.LastProbe(); ok {
			return &o
		}
	}
	return nil
}

// Chain runs one model on the first healthy backend of an ordered list
// whose last element, the fallback (the pure-Go CPU), is always used.
// It is safe for concurrent use.
type Chain struct {
	model   string
	opts    Options
	clock   clock.Clock
	links   []*link // accelerators, in order
	fb      *link
	in, out []Spec
	pool    chan Runner // fallback runners
	// batchable: the fallback runs a batch as one invocation.
	batchable bool

	cpuNanos atomic.Int64 // EWMA of the fallback's latency

	// With Options.Auto: the links requests try, in order, and the
	// fallback's figures; decideMu serialises the decisions.
	order    atomic.Pointer[[]*link]
	fbTrial  atomic.Pointer[Trial]
	decideMu sync.Mutex

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // probe loops
	inflight sync.WaitGroup // accelerator calls, possibly abandoned
	closed   atomic.Bool
	// runs is held shared by every Run and exclusively by Close, so that
	// Close starts releasing runners only once no request can reach them.
	runs sync.RWMutex
}

type link struct {
	name, variant string
	backend       Backend
	model         []byte
	served, fails atomic.Uint64

	mu        sync.Mutex
	state     State
	reason    string
	since     time.Time
	nextProbe time.Time
	slot      *slot // nil unless Healthy
	probing   bool
	trial     *Trial // Options.Auto's figures
}

// slot is one accelerator runner with the scratch tensors it owns: a call
// that is abandoned keeps its slot until it returns.
type slot struct {
	r        Runner
	tok      chan struct{} // holds a token while the runner is free
	ins, out []tensor.Tensor
	dead     chan struct{} // closed when the slot is retired
	once     sync.Once
}

func newSlot(r Runner, nin, nout int) *slot {
	s := &slot{r: r, tok: make(chan struct{}, 1), ins: make([]tensor.Tensor, nin), out: make([]tensor.Tensor, nout), dead: make(chan struct{})}
	s.tok <- struct{}{}
	return s
}

// NewChain prepares model on every link: the last link is the fallback
// and must prepare (its runner must implement Describer); an accelerator
// that is absent or fails is recorded and probed again in the background
// until Close. model names the chain in events and metrics.
func NewChain(ctx context.Context, model string, links []Link, opts *Options) (*Chain, error) {
	if len(links) == 0 {
		return nil, fmt.Errorf("setting up the backends of %s: no links; want at least the cpu fallback", model)
	}
	c := &Chain{model: model}
	if opts != nil {
		c.opts = *opts
	}
	o := &c.opts
	c.clock = clock.Or(o.Clock)
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	if o.BackoffInitial <= 0 {
		o.BackoffInitial = DefaultBackoffInitial
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	o.BackoffMax = max(o.BackoffMax, o.BackoffInitial)
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	n := max(1, o.FallbackRunners)

	fl := links[len(links)-1]
	c.fb = &link{name: fl.Backend.Name(), variant: fl.Variant, backend: fl.Backend, model: fl.Model, state: Healthy, since: c.clock.Now()}
	c.pool = make(chan Runner, n)
	for i := range n {
		r, err := fl.Backend.Prepare(ctx, fl.Model, fl.Variant)
		if err != nil {
			c.closePool()
			return nil, fmt.Errorf("setting up the backends of %s: fallback %s (%s variant): %w", model, c.fb.name, fl.Variant, err)
		}
		if i == 0 {
			d, ok := r.(Describer)
			if !ok {
				r.Close()
				return nil, fmt.Errorf("setting up the backends of %s: fallback %s runner does not describe its inputs and outputs", model, c.fb.name)
			}
			c.in, c.out = d.Inputs(), d.Outputs()
			if br, ok := r.(BatchRunner); ok {
				c.batchable = br.Batchable()
			}
		}
		c.pool <- r
	}

	c.ctx, c.cancel = context.WithCancel(context.Background())
	for _, l := range links[:len(links)-1] {
		c.links = append(c.links, &link{name: l.Backend.Name(), variant: l.Variant, backend: l.Backend, model: l.Model})
	}
	if o.OnHealth != nil {
		o.OnHealth(model, c.fb.name, true)
	}
	for _, l := range c.links {
		s, state, err := c.load(ctx, l)
		now := c.clock.Now()
		l.mu.Lock()
		l.since = now
		if err == nil {
			l.state, l.slot = Healthy, s
			l.mu.Unlock()
			if o.OnHealth != nil {
				o.OnHealth(model, l.name, true)
			}
			continue
		}
		l.state, l.reason = state, err.Error()
		l.mu.Unlock()
		if o.OnHealth != nil {
			o.OnHealth(model, l.name, false)
		}
		c.emit(Event{Time: now, Model: model, Delegate: l.name, Variant: l.variant, From: Healthy, To: state, Reason: err.Error()})
		c.startProbing(l)
	}
	if o.Auto {
		c.order.Store(&[]*link{})
		if len(c.links) > 0 { // a chain of the CPU alone has nothing to choose
			c.decide(ctx, c.links)
		}
	}
	return c, nil
}

// Inputs describes the model's inputs (from the fallback).
func (c *Chain) Inputs() []Spec { return c.in }

// Outputs describes the model's outputs (from the fallback).
func (c *Chain) Outputs() []Spec { return c.out }

// Invoke runs the model on the first healthy backend, falling back down
// the chain; see Run.
func (c *Chain) Invoke(ctx context.Context, inputs, outputs []tensor.Tensor) error {
	_, err := c.Run(ctx, inputs, outputs)
	return err
}

// Run is Invoke that also says which backend answered. An accelerator
// gets until its attempt deadline (AttemptTimeout, and CPUReserve before
// ctx's deadline); when it errors, stalls or answers with the wrong
// outputs it is marked Failed, probed again in the background, and the
// request goes on down the chain to the fallback.
func (c *Chain) Run(ctx context.Context, inputs, outputs []tensor.Tensor) (string, error) {
	c.runs.RLock()
	defer c.runs.RUnlock()
	if c.closed.Load() {
		return "", ErrClosed
	}
	if err := checkInputs(c.in, inputs); err != nil {
		return "", fmt.Errorf("model %s: %w", c.model, err)
	}
	if len(outputs) != len(c.out) {
		return "", fmt.Errorf("model %s: %w: %d output tensors given; the model has %d", c.model, ErrBadInput, len(outputs), len(c.out))
	}
	if name, err := c.accelerate(ctx, inputs, outputs); name != "" || err != nil {
		return name, err
	}
	if err := c.runFallback(ctx, inputs, outputs); err != nil {
		return "", err
	}
	c.fb.served.Add(1)
	return c.fb.name, nil
}

// RunBatch runs several requests (inputs[k] and outputs[k] are request
// k's, as for Run) and says which backend answered each; errs[k] is
// request k's error. Each request tries the accelerators as Run does;
// those left to the fallback run as one call when its runner is a
// BatchRunner. RunBatch does not check the inputs: the caller has checked
// them against Inputs, and gives one outputs slice of len(Outputs()) per
// request.
func (c *Chain) RunBatch(ctx context.Context, inputs, outputs [][]tensor.Tensor) (served []string, errs []error) {
	c.runs.RLock()
	defer c.runs.RUnlock()
	served, errs = make([]string, len(inputs)), make([]error, len(inputs))
	if c.closed.Load() {
		for k := range errs {
			errs[k] = ErrClosed
		}
		return served, errs
	}
	var rest []int
	for k := range inputs {
		if served[k], errs[k] = c.accelerate(ctx, inputs[k], outputs[k]); served[k] == "" && errs[k] == nil {
			rest = append(rest, k)
		}
	}
	if len(rest) == 0 {
		return served, errs
	}
	fin, fout := make([][]tensor.Tensor, len(rest)), make([][]tensor.Tensor, len(rest))
	for j, k := range rest {
		fin[j], fout[j] = inputs[k], outputs[k]
	}
	for j, err := range c.runFallbackBatch(ctx, fin, fout) {
		if k := rest[j]; err != nil {
			errs[k] = err
		} else {
			served[k] = c.fb.name
			c.fb.served.Add(1)
		}
	}
	return served, errs
}

// accelerate tries the healthy accelerators in order. It returns the
// name of the one that answered, or "" and nil when the request is left
// to the fallback, or an error when ctx ended.
func (c *Chain) accelerate(ctx context.Context, inputs, outputs []tensor.Tensor) (string, error) {
	links := c.links
	if c.opts.Auto {
		links = *c.order.Load()
	}
	for _, l := range links {
		l.mu.Lock()
		s := l.slot
		l.mu.Unlock()
		if s == nil {
			continue
		}
		actx, cancel, full, ok := c.attemptContext(ctx)
		if !ok {
			break // too little time left: straight to the fallback
		}
		err := c.attempt(actx, s, inputs, outputs)
		cancel()
		if err == nil {
			l.served.Add(1)
			return l.name, nil
		}
		if errors.Is(err, errBusy) {
			continue // another request holds the runner; not its fault
		}
		if errors.Is(err, ErrStalled) && !full {
			// The request's deadline, not AttemptTimeout, cut the call
			// short (it waited long in a queue): not the backend's fault.
			continue
		}
		if ctx.Err() != nil {
			// The caller gave up (the attempt deadline comes before the
			// request's): the backend is not to blame.
			return "", fmt.Errorf("model %s on %s: %w", c.model, l.name, ctx.Err())
		}
		l.fails.Add(1)
		c.markFailed(l, s, err)
	}
	return "", nil
}

var errBusy = errors.New("runner busy")

// attemptContext returns the context of one accelerator call and whether
// it has the whole AttemptTimeout, or false when the request's deadline
// leaves the accelerator no time.
func (c *Chain) attemptContext(ctx context.Context) (actx context.Context, cancel context.CancelFunc, full, ok bool) {
	budget := c.opts.AttemptTimeout
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		reserve := max(c.opts.CPUReserve, 2*time.Duration(c.cpuNanos.Load()))
		if reserve == 0 {
			reserve = left / 2
		}
		budget = min(budget, left-reserve)
	}
	if budget <= 0 {
		return nil, nil, false, false
	}
	actx, cancel = context.WithTimeout(ctx, budget)
	return actx, cancel, budget == c.opts.AttemptTimeout, true
}

// attempt runs one accelerator call in its own goroutine so that a call
// stuck inside a vendor library cannot hold the request past actx.
func (c *Chain) attempt(actx context.Context, s *slot, inputs, outputs []tensor.Tensor) error {
	select {
	case <-s.tok:
	case <-s.dead:
		return errBusy // retired by another request's failure
	case <-actx.Done():
		return errBusy
	}
	select {
	case <-s.dead:
		s.tok <- struct{}{}
		return errBusy
	default:
	}
	// The runner reads and writes only the slot's scratch, which outlives
	// an abandoned call.
	for i, t := range inputs {
		setOutput(&s.ins[i], t.Type, c.in[i].Shape, t.Data)
	}
	var (
		mu        sync.Mutex
		abandoned bool
	)
	done := make(chan error, 1)
	c.inflight.Add(1)
	go func() {
		defer c.inflight.Done()
		err := safeInvoke(actx, s.r, s.ins, s.out)
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			s.tok <- struct{}{}
			return
		}
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-actx.Done():
		mu.Lock()
		select {
		case err = <-done: // it answered just in time
		default:
			abandoned = true
		}
		mu.Unlock()
		if abandoned {
			return fmt.Errorf("%w: no answer within the attempt deadline: %w", ErrStalled, actx.Err())
		}
	}
	defer func() { s.tok <- struct{}{} }()
	if err != nil {
		if actx.Err() != nil {
			// The runner honoured the attempt deadline and returned
			// before the wait above noticed it: the same stall.
			return fmt.Errorf("%w: no answer within the attempt deadline: %w", ErrStalled, err)
		}
		return err
	}
	if err := checkOutputs(c.out, s.out); err != nil {
		return err
	}
	for j := range outputs {
		setOutput(&outputs[j], s.out[j].Type, s.out[j].Shape, s.out[j].Data)
	}
	return nil
}

// safeInvoke turns a panicking runner into an error.
func safeInvoke(ctx context.Context, r Runner, in, out []tensor.Tensor) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("runner panicked: %v", p)
		}
	}()
	return r.Invoke(ctx, in, out)
}

func (c *Chain) runFallback(ctx context.Context, inputs, outputs []tensor.Tensor) error {
	return c.runFallbackBatch(ctx, [][]tensor.Tensor{inputs}, [][]tensor.Tensor{outputs})[0]
}

// runFallbackBatch runs requests on one fallback runner: in one call when
// it is a BatchRunner, else one after another.
func (c *Chain) runFallbackBatch(ctx context.Context, inputs, outputs [][]tensor.Tensor) []error {
	errs := make([]error, len(inputs))
	var r Runner
	select {
	case r = <-c.pool:
	case <-ctx.Done():
		for k := range errs {
			errs[k] = fmt.Errorf("model %s: waiting for the %s fallback: %w", c.model, c.fb.name, ctx.Err())
		}
		return errs
	}
	defer func() { c.pool <- r }()
	start := time.Now()
	if br, ok := r.(BatchRunner); ok {
		errs = safeInvokeBatch(ctx, br, inputs, outputs)
	} else {
		for k := range inputs {
			errs[k] = safeInvoke(ctx, r, inputs[k], outputs[k])
		}
	}
	failed := false
	for k, err := range errs {
		if err != nil {
			c.fb.fails.Add(1)
			errs[k], failed = fmt.Errorf("model %s on %s: %w", c.model, c.fb.name, err), true
		}
	}
	if !failed {
		c.observeFallback(time.Since(start) / time.Duration(len(inputs)))
	}
	return errs
}

// observeFallback follows the fallback's latency per request with an EWMA
// of weight 1/8, which follows load without jumping at one outlier.
func (c *Chain) observeFallback(d time.Duration) {
	old := c.cpuNanos.Load()
	if old == 0 {
		c.cpuNanos.Store(int64(d))
	} else {
		c.cpuNanos.Store(old + (int64(d)-old)/8)
	}
}

// safeInvokeBatch turns a panicking runner into an error for every
// request of the batch.
func safeInvokeBatch(ctx context.Context, r BatchRunner, inputs, outputs [][]tensor.Tensor) (errs []error) {
	defer func() {
		if p := recover(); p != nil {
			errs = make([]error, len(inputs))
			for k := range errs {
				errs[k] = fmt.Errorf("runner panicked: %v", p)
			}
		}
	}()
	return r.InvokeBatch(ctx, inputs, outputs)
}

// Batchable reports whether the fallback runs a batch of requests as one
// invocation (its runner is a BatchRunner whose model carries the batch
// dimension).
func (c *Chain) Batchable() bool { return c.batchable }

// markFailed takes l out of use when s is still its runner, and starts
// probing it again.
func (c *Chain) markFailed(l *link, s *slot, cause error) {
	now := c.clock.Now()
	l.mu.Lock()
	if l.slot != s {
		l.mu.Unlock()
		return // another request already did
	}
	from := l.state
	l.slot, l.state, l.reason, l.since = nil, Failed, cause.Error(), now
	l.mu.Unlock()
	c.retire(s)
	if c.opts.OnHealth != nil {
		c.opts.OnHealth(c.model, l.name, false)
	}
	c.emit(Event{Time: now, Model: c.model, Delegate: l.name, Variant: l.variant, From: from, To: Failed, Reason: cause.Error()})
	c.startProbing(l)
}

// retire closes a runner once no call holds it.
func (c *Chain) retire(s *slot) {
	s.once.Do(func() { close(s.dead) })
	c.inflight.Add(1)
	go func() {
		defer c.inflight.Done()
		<-s.tok
		s.r.Close()
	}()
}

func (c *Chain) startProbing(l *link) {
	l.mu.Lock()
	if l.probing || c.closed.Load() {
		l.mu.Unlock()
		return
	}
	l.probing = true
	l.mu.Unlock()
	c.wg.Add(1)
	go c.probeLoop(l)
}

// probeLoop probes l after 1, 2, 4 ... BackoffMax backoff units until it
// loads again or the chain closes.
func (c *Chain) probeLoop(l *link) {
	defer c.wg.Done()
	defer func() {
		l.mu.Lock()
		l.probing = false
		l.mu.Unlock()
	}()
	wait := c.opts.BackoffInitial
	for {
		l.mu.Lock()
		l.nextProbe = c.clock.Now().Add(wait)
		l.mu.Unlock()
		t := c.clock.NewTimer(wait)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		s, state, err := c.load(c.ctx, l)
		if c.ctx.Err() != nil {
			if s != nil {
				s.r.Close()
			}
			return
		}
		now := c.clock.Now()
		l.mu.Lock()
		from, oldReason := l.state, l.reason
		if err == nil {
			l.slot, l.state, l.reason, l.since, l.nextProbe = s, Healthy, "", now, time.Time{}
			l.mu.Unlock()
			if c.opts.OnHealth != nil {
				c.opts.OnHealth(c.model, l.name, true)
			}
			c.emit(Event{Time: now, Model: c.model, Delegate: l.name, Variant: l.variant, From: from, To: Healthy})
			if c.opts.Auto {
				c.decide(c.ctx, []*link{l})
			}
			return
		}
		wait = min(2*wait, c.opts.BackoffMax)
		l.state, l.reason = state, err.Error()
		if from != state {
			l.since = now
		}
		l.mu.Unlock()
		if from != state || oldReason != err.Error() {
			c.emit(Event{Time: now, Model: c.model, Delegate: l.name, Variant: l.variant, From: from, To: state, Reason: err.Error(), Next: now.Add(wait)})
		}
	}
}

// load probes l's backend, prepares the model and checks one call on zero
// inputs, all within ProbeTimeout.
func (c *Chain) load(ctx context.Context, l *link) (*slot, State, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ProbeTimeout)
	defer cancel()
	present, err := l.backend.Probe(ctx)
	if st := ProbeState(present, err); st != Healthy {
		if err == nil {
			err = fmt.Errorf("%s: %w", l.name, ErrNotPresent)
		}
		return nil, st, fmt.Errorf("probe: %w", err)
	}
	r, err := l.backend.Prepare(ctx, l.model, l.variant)
	if err != nil {
		if errors.Is(err, ErrNotPresent) {
			return nil, Absent, fmt.Errorf("prepare: %w", err)
		}
		return nil, Failed, fmt.Errorf("prepare %s variant: %w", l.variant, err)
	}
	s := newSlot(r, len(c.in), len(c.out))
	zeros := make([]tensor.Tensor, len(c.in))
	for i, sp := range c.in {
		zeros[i] = tensor.Tensor{Type: sp.Type, Shape: slices.Clone(sp.Shape), Data: make([]byte, sp.Bytes())}
	}
	if err := c.attempt(ctx, s, zeros, make([]tensor.Tensor, len(c.out))); err != nil {
		c.retire(s)
		if errors.Is(err, errBusy) {
			err = fmt.Errorf("%w: check call: %w", ErrStalled, ctx.Err())
		}
		return nil, Failed, fmt.Errorf("check call on zero inputs: %w", err)
	}
	return s, Healthy, nil
}

func (c *Chain) emit(e Event) {
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(e)
	}
}

// Healthy reports whether the named backend is in use.
func (c *Chain) Healthy(delegate string) bool {
	if delegate == c.fb.name {
		return true
	}
	for _, l := range c.links {
		if l.name == delegate {
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.state == Healthy
		}
	}
	return false
}

// Status returns one line per backend, in chain order.
func (c *Chain) Status() []Status {
	out := make([]Status, 0, len(c.links)+1)
	for _, l := range c.links {
		l.mu.Lock()
		out = append(out, Status{Delegate: l.name, Variant: l.variant, State: l.state, Reason: l.reason, Since: l.since, NextProbe: l.nextProbe, Served: l.served.Load(), Failures: l.fails.Load()})
		if l.trial != nil {
			t := *l.trial
			out[len(out)-1].Trial = &t
		}
		l.mu.Unlock()
		out[len(out)-1].Check = LastCheck(l.backend)
	}
	out = append(out, Status{Delegate: c.fb.name, Variant: c.fb.variant, Fallback: true, State: Healthy, Since: c.fb.since, Served: c.fb.served.Load(), Failures: c.fb.fails.Load(), Trial: c.fbTrial.Load()})
	return out
}

// Close lets requests under way finish (each is bounded by its attempt
// deadline and the fallback), stops the probes, closes every runner and
// waits CloseTimeout at most for accelerator calls still running; it
// reports those it left. A backend whose Probe or Prepare ignores its
// context holds Close until it returns.
func (c *Chain) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	// Taking the write lock waits for the Runs under way; later ones see
	// closed.
	c.runs.Lock()
	//lint:ignore SA2001 the lock is the wait, there is nothing to guard
	c.runs.Unlock()
	c.cancel()
	c.wg.Wait()
	for _, l := range c.links {
		l.mu.Lock()
		s := l.slot
		l.slot = nil
		l.mu.Unlock()
		if s != nil {
			c.retire(s)
		}
	}
	done := make(chan struct{})
	go func() { c.inflight.Wait(); close(done) }()
	// Real time, not the Clock: a fake clock must not hold up shutdown.
	t := time.NewTimer(c.opts.CloseTimeout)
	defer t.Stop()
	var err error
	select {
	case <-done:
	case <-t.C:
		err = fmt.Errorf("delegates: model %s: accelerator calls still running after %v; left behind", c.model, c.opts.CloseTimeout)
	}
	c.closePool()
	return err
}

func (c *Chain) closePool() {
	for {
		select {
		case r := <-c.pool:
			r.Close()
		default:
			return
		}
	}
}
