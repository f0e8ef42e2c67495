//go:build edged_dynamic

package litert

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/runtime/tensor"
)

// Backend runs models through libtensorflowlite_c with one delegate.
type Backend struct {
	name string
	opts Options
}

// New returns the backend name (EdgeTPU, GPU or XNNPACK).
func New(name string, opts Options) *Backend {
	opts.Paths = opts.paths()
	return &Backend{name: name, opts: opts}
}

// Probe checks the libraries the backend needs in a child process (once
// they passed, not again), then opens them here and, for the Edge TPU,
// lists the devices: a missing library or no device is "not on this
// host"; a library that crashes, hangs, is not the expected one or gets
// the check model wrong is a failure.
func (b *Backend) Probe(ctx context.Context) (bool, error) {
	if !inChild {
		if o := b.vet(ctx); o.State != delegates.Healthy {
			return o.State != delegates.Absent, fmt.Errorf("litert %s: %w", b.name, o.Err())
		}
	}
	c, err := loadCAPI(b.opts.Paths.TFLite)
	if err != nil {
		return !errors.Is(err, delegates.ErrNotPresent), fmt.Errorf("litert %s: %w", b.name, err)
	}
	switch b.name {
	case EdgeTPU:
		a, err := loadEdgeTPU(b.opts.Paths.EdgeTPU)
		if err != nil {
			return !errors.Is(err, delegates.ErrNotPresent), fmt.Errorf("litert %s: %w", b.name, err)
		}
		if len(a.devices()) == 0 {
			return false, fmt.Errorf("litert %s: %s (TFLite %s) sees no Edge TPU (USB 1a6e:089a or 18d1:9302, PCIe /dev/apex_*): %w", b.name, b.opts.Paths.EdgeTPU, c.version(), delegates.ErrNotPresent)
		}
	case GPU:
		if _, err := loadGPU(b.opts.Paths.GPU); err != nil {
			return !errors.Is(err, delegates.ErrNotPresent), fmt.Errorf("litert %s: %w", b.name, err)
		}
	case XNNPACK:
	default:
		return true, fmt.Errorf("litert: unknown backend %q; want %s, %s or %s", b.name, EdgeTPU, GPU, XNNPACK)
	}
	return true, nil
}

// Devices lists the Edge TPUs libedgetpu sees ("usb:..." or "pci:...").
func (b *Backend) Devices() ([]string, error) {
	a, err := loadEdgeTPU(b.opts.Paths.EdgeTPU)
	if err != nil {
		return nil, fmt.Errorf("litert: %w", err)
	}
	return a.devices(), nil
}

// Prepare builds an interpreter for model with the backend's delegate.
func (b *Backend) Prepare(ctx context.Context, model []byte, variant string) (delegates.Runner, error) {
	if present, err := b.Probe(ctx); !present || err != nil {
		return nil, err
	}
	return b.prepare(ctx, model, variant, true)
}

// prepare builds an interpreter for model, with the backend's delegate or
// on the library's builtin kernels alone.
func (b *Backend) prepare(ctx context.Context, model []byte, variant string, withDelegate bool) (delegates.Runner, error) {
	if len(model) == 0 {
		return nil, fmt.Errorf("litert %s: empty %s model", b.name, variant)
	}
	c, _ := loadCAPI(b.opts.Paths.TFLite)
	r := &runner{c: c, name: b.name, errs: newErrorText(c)}
	fail := func(format string, args ...any) (delegates.Runner, error) {
		msg := fmt.Sprintf(format, args...)
		if said := r.errs.take(); said != "" {
			msg += ": TFLite says: " + said
		}
		r.Close()
		return nil, fmt.Errorf("litert %s (%s variant): %s", b.name, variant, msg)
	}
	// The library refuses some files edged's loader accepts; hand it the
	// same model with those quirks made explicit.
	model, r.fixes, _ = Normalize(model)
	// TfLiteModelCreate keeps the buffer without copying: it lives in C
	// memory until Close.
	r.data = c.malloc(uintptr(len(model)))
	if r.data == nil {
		return fail("malloc %d bytes for the model failed", len(model))
	}
	copy(unsafe.Slice((*byte)(r.data), len(model)), model)
	if r.errs != nil && c.modelCreateWithReporter != nil {
		r.model = c.modelCreateWithReporter(r.data, uintptr(len(model)), reporterFn, r.errs.id)
	} else {
		r.model = c.modelCreate(r.data, uintptr(len(model)))
	}
	if r.model == 0 {
		return fail("TfLiteModelCreate rejected the %d-byte model", len(model))
	}
	r.opts = c.optionsCreate()
	if r.errs != nil && c.optionsSetErrorReporter != nil {
		c.optionsSetErrorReporter(r.opts, reporterFn, r.errs.id)
	}
	// Threads for TFLite's builtin kernels (the part of the graph no
	// delegate takes).
	c.optionsSetThreads(r.opts, int32(max(1, b.opts.Threads)))
	name := b.name
	if !withDelegate {
		name = ""
	}
	switch name {
	case XNNPACK:
		// TfLiteInterpreterCreate applies no delegate by default: without
		// this the builtin kernels run the whole graph.
		var err error
		if r.delegate, r.xnnFlags, err = c.newXNNPACK(b.opts.Threads); err != nil {
			return fail("%v", err)
		}
		r.deleteDelegate = c.xnnDelete
	case EdgeTPU:
		a, _ := loadEdgeTPU(b.opts.Paths.EdgeTPU)
		var keys, values unsafe.Pointer
		var n uintptr
		if b.opts.Device != "" {
			keys, values, n = c.cStrings([]string{"device"}), c.cStrings([]string{b.opts.Device}), 1
			defer c.free(keys)
			defer c.free(values)
		}
		r.delegate, r.deleteDelegate = a.createDelegate(keys, values, n, 0), a.destroyDelegate
		if r.delegate == 0 {
			return fail("tflite_plugin_create_delegate returned NULL (device %q)", b.opts.Device)
		}
	case GPU:
		a, _ := loadGPU(b.opts.Paths.GPU)
		r.delegate, r.deleteDelegate = a.create(0), a.destroy // NULL: default options
		if r.delegate == 0 {
			return fail("TfLiteGpuDelegateV2Create returned NULL")
		}
	}
	if r.delegate != 0 {
		c.optionsAddDelegate(r.opts, r.delegate)
	}
	if r.interp = c.interpreterCreate(r.model, r.opts); r.interp == 0 {
		if r.errs == nil {
			return fail("TfLiteInterpreterCreate failed (the library printed why on its standard error)")
		}
		return fail("TfLiteInterpreterCreate failed")
	}
	if st := c.allocateTensors(r.interp); st != 0 {
		return fail("TfLiteInterpreterAllocateTensors: status %d", st)
	}
	var err error
	if r.in, err = r.specs(c.inputCount(r.interp), c.inputTensor); err != nil {
		return fail("input %v", err)
	}
	if r.out, err = r.specs(c.outputCount(r.interp), c.outputTensor); err != nil {
		return fail("output %v", err)
	}
	return r, nil
}

// runner is one TfLiteInterpreter; the chain calls it from one goroutine
// at a time, mu guards against misuse and against Close during Invoke.
type runner struct {
	c              *capi
	name           string
	mu             sync.Mutex
	data           unsafe.Pointer
	model, opts    uintptr
	interp         uintptr
	delegate       uintptr
	deleteDelegate func(uintptr)
	in, out        []delegates.Spec
	// errs collects the library's error text (nil when it cannot).
	errs *errorText
	// fixes are the changes Normalize made to the model.
	fixes []Fix
	// xnnFlags are the XNNPACK delegate's flags in effect.
	xnnFlags uint32
}

func (r *runner) specs(n int32, get func(uintptr, int32) uintptr) ([]delegates.Spec, error) {
	out := make([]delegates.Spec, n)
	for i := range n {
		t := get(r.interp, i)
		typ, err := dtype(r.c.tensorType(t))
		if err != nil {
			return nil, fmt.Errorf("%d: %w", i, err)
		}
		shape := make([]int, r.c.tensorNumDims(t))
		for d := range shape {
			shape[d] = int(r.c.tensorDim(t, int32(d)))
		}
		out[i] = delegates.Spec{Name: r.c.tensorName(t), Type: typ, Shape: shape}
		if got, want := int(r.c.tensorByteSize(t)), out[i].Bytes(); got != want {
			return nil, fmt.Errorf("%d (%s): %d bytes for %s; want %d", i, out[i].Name, got, out[i], want)
		}
	}
	return out, nil
}

// Inputs describes the model's inputs as the library sees them.
func (r *runner) Inputs() []delegates.Spec { return r.in }

// Outputs describes the model's outputs as the library sees them.
func (r *runner) Outputs() []delegates.Spec { return r.out }

// Invoke copies the inputs in, runs the interpreter and copies the outputs
// out. The C call cannot be interrupted: ctx is checked before it, and the
// chain abandons a call that outlives its deadline.
func (r *runner) Invoke(ctx context.Context, inputs, outputs []tensor.Tensor) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.interp == 0 {
		return fmt.Errorf("litert %s: runner closed", r.name)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("litert %s: %w", r.name, err)
	}
	if len(inputs) != len(r.in) || len(outputs) != len(r.out) {
		return fmt.Errorf("litert %s: %w: %d inputs and %d outputs; the model has %d and %d", r.name, delegates.ErrBadInput, len(inputs), len(outputs), len(r.in), len(r.out))
	}
	for i, t := range inputs {
		if len(t.Data) != r.in[i].Bytes() {
			return fmt.Errorf("litert %s: %w: input %d has %d bytes; want %d", r.name, delegates.ErrBadInput, i, len(t.Data), r.in[i].Bytes())
		}
		if len(t.Data) == 0 {
			continue
		}
		if st := r.c.tensorCopyFrom(r.c.inputTensor(r.interp, int32(i)), unsafe.Pointer(&t.Data[0]), uintptr(len(t.Data))); st != 0 {
			return fmt.Errorf("litert %s: TfLiteTensorCopyFromBuffer input %d: status %d", r.name, i, st)
		}
	}
	if st := r.c.invoke(r.interp); st != 0 {
		if said := r.errs.take(); said != "" {
			return fmt.Errorf("litert %s: TfLiteInterpreterInvoke: status %d: TFLite says: %s", r.name, st, said)
		}
		return fmt.Errorf("litert %s: TfLiteInterpreterInvoke: status %d", r.name, st)
	}
	for j := range outputs {
		s := r.out[j]
		o := &outputs[j]
		o.Type, o.Shape = s.Type, append(o.Shape[:0], s.Shape...)
		if n := s.Bytes(); cap(o.Data) >= n {
			o.Data = o.Data[:n]
		} else {
			o.Data = make([]byte, n)
		}
		if len(o.Data) == 0 {
			continue
		}
		if st := r.c.tensorCopyToBuffer(r.c.outputTensor(r.interp, int32(j)), unsafe.Pointer(&o.Data[0]), uintptr(len(o.Data))); st != 0 {
			return fmt.Errorf("litert %s: TfLiteTensorCopyToBuffer output %d: status %d", r.name, j, st)
		}
	}
	return nil
}

// Close deletes the interpreter before the delegate it uses, then the
// options, the model and its buffer.
func (r *runner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.interp != 0 {
		r.c.interpreterDelete(r.interp)
		r.interp = 0
	}
	if r.delegate != 0 {
		r.deleteDelegate(r.delegate)
		r.delegate = 0
	}
	if r.opts != 0 {
		r.c.optionsDelete(r.opts)
		r.opts = 0
	}
	if r.model != 0 {
		r.c.modelDelete(r.model)
		r.model = 0
	}
	if r.data != nil {
		r.c.free(r.data)
		r.data = nil
	}
	r.errs.release()
	return nil
}

func (o Options) paths() Paths {
	p := o.Paths
	if p.TFLite == "" {
		p.TFLite = DefaultPaths.TFLite
	}
	if p.EdgeTPU == "" {
		p.EdgeTPU = DefaultPaths.EdgeTPU
	}
	if p.GPU == "" {
		p.GPU = DefaultPaths.GPU
	}
	return p
}
