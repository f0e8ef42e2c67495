// Package litert runs models through the vendor's TensorFlow Lite C
// library (libtensorflowlite_c.so) and its delegates: the Edge TPU
// (libedgetpu.so.1), the GPU (libtensorflowlite_gpu_delegate.so, Jetson
// and Mali) and XNNPACK (built into the C library; edged creates the
// delegate itself, as the C API applies none by default).
//
// The libraries are opened at run time with github.com/ebitengine/purego,
// without cgo, and only in a build with the tag edged_dynamic; such a
// binary must be dynamically linked against glibc (the loader path is
// needed for dlopen). Without the tag the package registers the same
// backends with a probe that says the binary cannot load them, and the
// default static build contains no purego code (a test proves it).
//
// Backends register themselves ("edgetpu", "gpu", "xnnpack") in init;
// only cmd/edged imports this package for that effect.
package litert

import (
	"time"

	"github.com/edged-dev/edged/delegates"
)

// Paths name the libraries to open: a bare name is looked up by the
// dynamic loader (LD_LIBRARY_PATH, ld.so.cache), a path is opened as is.
type Paths struct {
	TFLite  string
	EdgeTPU string
	GPU     string
}

// DefaultPaths are the names the vendors' packages install.
var DefaultPaths = Paths{
	TFLite:  "libtensorflowlite_c.so",
	EdgeTPU: "libedgetpu.so.1",
	GPU:     "libtensorflowlite_gpu_delegate.so",
}

// Backend names.
const (
	EdgeTPU = "edgetpu"
	GPU     = "gpu"
	XNNPACK = "xnnpack"
)

// Options configure a backend.
type Options struct {
	// Paths of the libraries; zero fields take DefaultPaths.
	Paths Paths
	// Threads for the CPU part of the graph; < 1 means 1.
	Threads int
	// Device selects an Edge TPU as libedgetpu spells it: "usb", "pci",
	// "usb:0", ":0"; empty means the first found.
	Device string
	// CheckTimeout bounds the child process that checks the libraries
	// before this process opens them; 0 means DefaultCheckTimeout.
	CheckTimeout time.Duration
}

func init() {
	for _, name := range []string{EdgeTPU, GPU, XNNPACK} {
		delegates.Register(New(name, Options{}))
	}
}

// Configure returns the backend with the host's library paths, device and
// the threads of its CPU part.
func (b *Backend) Configure(c delegates.Config) delegates.Backend {
	o := Options{Paths: Paths{TFLite: c.TFLite, EdgeTPU: c.EdgeTPU, GPU: c.GPU}, Device: c.Device}
	if c.CPU != nil {
		o.Threads = c.CPU.Threads
	}
	return New(b.name, o)
}

// Variants says which bundle variants a backend runs: the Edge TPU only
// its compiled variant; the GPU and XNNPACK the plain one.
func (b *Backend) Variants() []string {
	if b.name == EdgeTPU {
		return []string{"edgetpu"}
	}
	return []string{"cpu"}
}

// Name returns the backend's name.
func (b *Backend) Name() string { return b.name }
