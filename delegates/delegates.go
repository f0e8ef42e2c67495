// Package delegates runs a model on the best healthy backend of a host and
// falls back to the pure-Go CPU runtime when an accelerator is absent,
// errors, stalls or answers with the wrong shapes.
//
// A Backend (Edge TPU, GPU, XNNPACK through the vendor's library, or the
// CPU) is probed periph-style: loaded, not on this host, or failed with a
// reason. A prepared model is a Runner. A Chain holds one model's runners
// in order of preference, the CPU last; it serves every request from the
// first healthy runner, retries on the next one within the request's
// deadline, takes a failing accelerator out of use and probes it again
// with exponential backoff until it recovers.
//
// Backends register in the init function of their own package; only the
// daemon's main package imports them for that effect.
package delegates

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
)

// Errors a Backend, Runner or Chain may wrap.
var (
	// ErrNotPresent is wrapped by a Probe or Prepare whose hardware or
	// library is not on this host (no /dev/apex_0, no libedgetpu.so.1).
	ErrNotPresent = errors.New("not present on this host")
	// ErrBadInput is returned by Chain.Invoke when the inputs do not fit
	// the model (count, type, shape or size); no backend is blamed for it.
	ErrBadInput = errors.New("bad input")
	// ErrBadOutput is returned when a runner answered with outputs of the
	// wrong count, type, shape or size.
	ErrBadOutput = errors.New("bad output")
	// ErrStalled is returned when a runner did not answer before its
	// attempt deadline.
	ErrStalled = errors.New("stalled")
	// ErrClosed is returned by a closed Chain.
	ErrClosed = errors.New("delegate chain closed")
)

// Backend is one way of running models on this host.
type Backend interface {
	// Name is the backend's short name: "cpu", "edgetpu", "gpu", "xnnpack".
	Name() string
	// Probe reports whether the backend can run here, periph-style:
	// (true, nil) loaded; (false, err) not on this host, err says why and
	// wraps ErrNotPresent; (true, err) present but failed. It returns when
	// ctx ends.
	Probe(ctx context.Context) (bool, error)
	// Prepare readies model (the bytes of the bundle's variant, e.g.
	// "edgetpu" or "cpu") for Invoke.
	Prepare(ctx context.Context, model []byte, variant string) (Runner, error)
}

// Runner is a prepared model. It is not safe for concurrent use: the
// Chain gives each runner to one request at a time.
type Runner interface {
	// Invoke runs the model once. inputs[i] holds input i (raw
	// little-endian bytes). outputs has one element per model output;
	// Invoke sets its Type and Shape and copies the result into Data,
	// reusing Data's storage when it is large enough. Invoke returns when
	// ctx ends, as far as the backend allows (a call inside a vendor
	// library may not).
	Invoke(ctx context.Context, inputs, outputs []tensor.Tensor) error
	// Close releases the runner's resources.
	Close() error
}

// BatchRunner is a Runner that can run several requests in one call; the
// CPU's runs a batch as one invocation at batch n when the model's graph
// carries the batch dimension, else one request after another. A Chain
// hands the requests of a batch left to its fallback to it in one call.
type BatchRunner interface {
	Runner
	// InvokeBatch runs request k on inputs[k] into outputs[k] (as Invoke
	// does) and returns each request's error. The inputs fit the model:
	// the caller has checked them.
	InvokeBatch(ctx context.Context, inputs, outputs [][]tensor.Tensor) []error
	// Batchable reports whether a batch runs as one invocation.
	Batchable() bool
}

// Spec is the type and shape of one model input or output.
type Spec struct {
	Name  string
	Type  tensor.DType
	Shape []int
}

// Bytes is the size of a tensor of this spec.
func (s Spec) Bytes() int { return tensor.NumElements(s.Shape) * s.Type.Size() }

func (s Spec) String() string { return fmt.Sprintf("%s%v", s.Type, s.Shape) }

// Describer is implemented by runners that know their model's inputs and
// outputs. A Chain's fallback runner must implement it: its answer is the
// reference every other runner's outputs are checked against.
type Describer interface {
	Inputs() []Spec
	Outputs() []Spec
}

// State is a backend's standing in a chain.
type State int

const (
	// Healthy: probed, prepared and answering.
	Healthy State = iota
	// Absent: not on this host (Probe said so); probed again with backoff
	// because USB devices come back.
	Absent
	// Failed: the probe, Prepare or a call failed; probed again with
	// backoff.
	Failed
)

func (s State) String() string {
	switch s {
	case Healthy:
		return "healthy"
	case Absent:
		return "absent"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// ProbeState turns a Probe result into a State.
func ProbeState(present bool, err error) State {
	switch {
	case !present:
		return Absent
	case err != nil:
		return Failed
	}
	return Healthy
}

var (
	regMu    sync.Mutex
	registry = map[string]Backend{}
)

// Register makes b available by name. It is meant for init functions and
// panics when the name is taken, a programming error.
func Register(b Backend) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[b.Name()]; dup {
		panic("delegates.Register: backend " + b.Name() + " registered twice")
	}
	registry[b.Name()] = b
}

// Lookup returns the backend registered under name.
func Lookup(name string) (Backend, bool) {
	regMu.Lock()
	defer regMu.Unlock()
	b, ok := registry[name]
	return b, ok
}

// Backends returns the registered backends sorted by name.
func Backends() []Backend {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]Backend, 0, len(registry))
	for _, b := range registry {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Link is one step of a chain: a backend and the variant of the model it
// runs.
type Link struct {
	Backend Backend
	Variant string
	Model   []byte
}

// Plan builds a chain's links from the preferred backends (the board's
// order, accelerators first, the CPU last) and the bundle's variants
// (variant name -> model bytes). A backend runs the first variant it
// accepts (see VariantChooser; by default its own name, then "cpu"); the
// last backend is the fallback and must get the "cpu" variant, so a bundle
// without one is refused: it would have nothing to fall back on. skipped
// names the preferred backends the bundle has no variant for.
func Plan(prefer []Backend, variants map[string][]byte) (links []Link, skipped []string, err error) {
	if len(prefer) == 0 {
		return nil, nil, errors.New("choosing backends: no backends")
	}
	if _, ok := variants["cpu"]; !ok {
		names := make([]string, 0, len(variants))
		for v := range variants {
			names = append(names, v)
		}
		slices.Sort(names)
		return nil, nil, fmt.Errorf("choosing backends: bundle has no \"cpu\" variant for the %s fallback (it has %q)", prefer[len(prefer)-1].Name(), names)
	}
	for i, b := range prefer {
		accepts := []string{b.Name(), "cpu"}
		if vc, ok := b.(VariantChooser); ok {
			accepts = vc.Variants()
		}
		if i == len(prefer)-1 {
			accepts = []string{"cpu"}
		}
		chosen := ""
		for _, v := range accepts {
			if _, ok := variants[v]; ok {
				chosen = v
				break
			}
		}
		if chosen == "" {
			skipped = append(skipped, b.Name())
			continue
		}
		links = append(links, Link{Backend: b, Variant: chosen, Model: variants[chosen]})
	}
	return links, skipped, nil
}

// Config is the host's configuration of its backends, as one model needs
// them: a registered backend that implements Configurable is configured
// with it (see Configured).
type Config struct {
	// CPU configures the pure-Go interpreters; MaxBatch readies them for
	// batches of up to that many requests; Model, when set, is the cpu
	// variant already loaded, which the CPU's runners share.
	CPU      *tflite.Options
	MaxBatch int
	Model    *tflite.Model
	// TFLite, EdgeTPU and GPU are the paths of the vendor's libraries
	// (empty: where the system keeps them); Device selects an Edge TPU
	// ("usb", "pci", "usb:0"; empty: the first found).
	TFLite, EdgeTPU, GPU string
	Device               string
}

// Configurable is implemented by registered backends that take the host's
// configuration.
type Configurable interface {
	Configure(Config) Backend
}

// Configured returns the backend registered under name, configured with c
// when it is Configurable.
func Configured(name string, c Config) (Backend, bool) {
	b, ok := Lookup(name)
	if !ok {
		return nil, false
	}
	if cb, ok := b.(Configurable); ok {
		return cb.Configure(c), true
	}
	return b, true
}

// VariantChooser is implemented by backends that run only some variants
// of a bundle, in order of preference: the Edge TPU runs only "edgetpu"
// (a plain file would run on the host CPU through the vendor library,
// which the pure-Go CPU backend already does).
type VariantChooser interface {
	Variants() []string
}
