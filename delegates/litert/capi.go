//go:build edged_dynamic

package litert

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/runtime/tensor"
)

// capi holds the functions of libtensorflowlite_c.so (tensorflow/lite/core/
// c/c_api.h) that edged calls. Opaque C pointers are uintptr.
type capi struct {
	version func() string

	modelCreate func(data unsafe.Pointer, size uintptr) uintptr
	modelDelete func(model uintptr)

	optionsCreate      func() uintptr
	optionsDelete      func(opts uintptr)
	optionsSetThreads  func(opts uintptr, n int32)
	optionsAddDelegate func(opts, delegate uintptr)
	// optionsSetErrorReporter and modelCreateWithReporter route the
	// library's error text to reporterCallback (nil when the library
	// lacks them: it then prints to stderr).
	optionsSetErrorReporter func(opts, reporter, user uintptr)
	modelCreateWithReporter func(data unsafe.Pointer, size uintptr, reporter, user uintptr) uintptr

	// The XNNPACK delegate (xnnpack_delegate.h); xnnGetFlags is optional.
	xnnOptionsDefault func(out unsafe.Pointer)
	xnnCreate         func(opts unsafe.Pointer) uintptr
	xnnDelete         func(d uintptr)
	xnnGetFlags       func(d uintptr) int32
	xnnOnce           sync.Once
	xnn               xnnLayout

	interpreterCreate  func(model, opts uintptr) uintptr
	interpreterDelete  func(interp uintptr)
	allocateTensors    func(interp uintptr) int32
	invoke             func(interp uintptr) int32
	inputCount         func(interp uintptr) int32
	inputTensor        func(interp uintptr, i int32) uintptr
	outputCount        func(interp uintptr) int32
	outputTensor       func(interp uintptr, i int32) uintptr
	tensorType         func(t uintptr) int32
	tensorNumDims      func(t uintptr) int32
	tensorDim          func(t uintptr, i int32) int32
	tensorByteSize     func(t uintptr) uintptr
	tensorName         func(t uintptr) string
	tensorCopyFrom     func(t uintptr, data unsafe.Pointer, size uintptr) int32
	tensorCopyToBuffer func(t uintptr, data unsafe.Pointer, size uintptr) int32

	malloc    func(size uintptr) unsafe.Pointer
	free      func(p unsafe.Pointer)
	vsnprintf func(buf unsafe.Pointer, n uintptr, format, args uintptr) int32
}

// edgetpuDevice is struct edgetpu_device of edgetpu_c.h.
type edgetpuDevice struct {
	typ  int32 // EDGETPU_APEX_PCI = 0, EDGETPU_APEX_USB = 1
	path *byte // Go aligns it as C does, on 32- and 64-bit
}

type edgetpuAPI struct {
	listDevices     func(num *uintptr) *edgetpuDevice
	freeDevices     func(devs *edgetpuDevice)
	createDelegate  func(keys, values unsafe.Pointer, n uintptr, report uintptr) uintptr
	destroyDelegate func(d uintptr)
}

type gpuAPI struct {
	create  func(opts uintptr) uintptr
	destroy func(d uintptr)
}

// dlopen'ed libraries stay open for the life of the process: TFLite's
// delegates keep global state, and a library is small next to a model.
var (
	libMu sync.Mutex
	libs  = map[string]uintptr{}
)

// open dlopens path once; a library that cannot be opened is not on this
// host.
func open(path string) (uintptr, error) {
	libMu.Lock()
	defer libMu.Unlock()
	if h, ok := libs[path]; ok {
		return h, nil
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return 0, fmt.Errorf("dlopen %s: %v: %w", path, err, delegates.ErrNotPresent)
	}
	libs[path] = h
	return h, nil
}

// bind looks up each symbol and binds it to its Go function pointer; a
// missing symbol means a library too old or not the one expected.
func bind(h uintptr, lib, what string, fns map[string]any) error {
	var missing []string
	for name, fptr := range fns {
		sym, err := purego.Dlsym(h, name)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		purego.RegisterFunc(fptr, sym)
	}
	switch {
	case len(missing) == 0:
		return nil
	case len(missing) == len(fns):
		return fmt.Errorf("%s is not %s: it has none of the %d functions edged calls (e.g. %s)", lib, what, len(fns), slices.Min(missing))
	}
	slices.Sort(missing)
	return fmt.Errorf("%s lacks %s (an older or different library?)", lib, strings.Join(missing, ", "))
}

// bindOptional binds the symbols the library has and returns how many.
func bindOptional(h uintptr, fns map[string]any) int {
	n := 0
	for name, fptr := range fns {
		if sym, err := purego.Dlsym(h, name); err == nil {
			purego.RegisterFunc(fptr, sym)
			n++
		}
	}
	return n
}

var (
	capiMu    sync.Mutex
	capiByLib = map[string]*capi{}
)

func loadCAPI(path string) (*capi, error) {
	capiMu.Lock()
	defer capiMu.Unlock()
	if c := capiByLib[path]; c != nil {
		return c, nil
	}
	h, err := open(path)
	if err != nil {
		return nil, err
	}
	libc, err := open("libc.so.6")
	if err != nil {
		return nil, err
	}
	c := &capi{}
	if err := bind(h, path, "the TFLite C library", map[string]any{
		"TfLiteVersion":                         &c.version,
		"TfLiteModelCreate":                     &c.modelCreate,
		"TfLiteModelDelete":                     &c.modelDelete,
		"TfLiteInterpreterOptionsCreate":        &c.optionsCreate,
		"TfLiteInterpreterOptionsDelete":        &c.optionsDelete,
		"TfLiteInterpreterOptionsSetNumThreads": &c.optionsSetThreads,
		"TfLiteInterpreterOptionsAddDelegate":   &c.optionsAddDelegate,
		"TfLiteInterpreterCreate":               &c.interpreterCreate,
		"TfLiteInterpreterDelete":               &c.interpreterDelete,
		"TfLiteInterpreterAllocateTensors":      &c.allocateTensors,
		"TfLiteInterpreterInvoke":               &c.invoke,
		"TfLiteInterpreterGetInputTensorCount":  &c.inputCount,
		"TfLiteInterpreterGetInputTensor":       &c.inputTensor,
		"TfLiteInterpreterGetOutputTensorCount": &c.outputCount,
		"TfLiteInterpreterGetOutputTensor":      &c.outputTensor,
		"TfLiteTensorType":                      &c.tensorType,
		"TfLiteTensorNumDims":                   &c.tensorNumDims,
		"TfLiteTensorDim":                       &c.tensorDim,
		"TfLiteTensorByteSize":                  &c.tensorByteSize,
		"TfLiteTensorName":                      &c.tensorName,
		"TfLiteTensorCopyFromBuffer":            &c.tensorCopyFrom,
		"TfLiteTensorCopyToBuffer":              &c.tensorCopyToBuffer,
	}); err != nil {
		return nil, err
	}
	if err := bind(libc, "libc.so.6", "the C library", map[string]any{"malloc": &c.malloc, "free": &c.free, "vsnprintf": &c.vsnprintf}); err != nil {
		return nil, err
	}
	// Optional: older libraries lack them, and the fake of the tests
	// leaves some out.
	bindOptional(h, map[string]any{
		"TfLiteInterpreterOptionsSetErrorReporter": &c.optionsSetErrorReporter,
		"TfLiteModelCreateWithErrorReporter":       &c.modelCreateWithReporter,
		"TfLiteXNNPackDelegateGetFlags":            &c.xnnGetFlags,
	})
	if bindOptional(h, map[string]any{
		"TfLiteXNNPackDelegateCreate": &c.xnnCreate,
		"TfLiteXNNPackDelegateDelete": &c.xnnDelete,
	}) == 2 {
		if sym, err := purego.Dlsym(h, "TfLiteXNNPackDelegateOptionsDefault"); err == nil {
			c.xnnOptionsDefault = bindOptionsDefault(sym)
		}
	}
	capiByLib[path] = c
	return c, nil
}

var (
	tpuMu    sync.Mutex
	tpuByLib = map[string]*edgetpuAPI{}
	gpuByLib = map[string]*gpuAPI{}
)

func loadEdgeTPU(path string) (*edgetpuAPI, error) {
	tpuMu.Lock()
	defer tpuMu.Unlock()
	if a := tpuByLib[path]; a != nil {
		return a, nil
	}
	h, err := open(path)
	if err != nil {
		return nil, err
	}
	a := &edgetpuAPI{}
	if err := bind(h, path, "libedgetpu", map[string]any{
		"edgetpu_list_devices":           &a.listDevices,
		"edgetpu_free_devices":           &a.freeDevices,
		"tflite_plugin_create_delegate":  &a.createDelegate,
		"tflite_plugin_destroy_delegate": &a.destroyDelegate,
	}); err != nil {
		return nil, err
	}
	tpuByLib[path] = a
	return a, nil
}

func loadGPU(path string) (*gpuAPI, error) {
	tpuMu.Lock()
	defer tpuMu.Unlock()
	if a := gpuByLib[path]; a != nil {
		return a, nil
	}
	h, err := open(path)
	if err != nil {
		return nil, err
	}
	a := &gpuAPI{}
	if err := bind(h, path, "the TFLite GPU delegate", map[string]any{
		"TfLiteGpuDelegateV2Create": &a.create,
		"TfLiteGpuDelegateV2Delete": &a.destroy,
	}); err != nil {
		return nil, err
	}
	gpuByLib[path] = a
	return a, nil
}

// devices lists the Edge TPUs libedgetpu sees, as "usb:/sys/..." or
// "pci:/dev/apex_0".
func (a *edgetpuAPI) devices() []string {
	var n uintptr
	p := a.listDevices(&n)
	if p == nil {
		return nil
	}
	defer a.freeDevices(p)
	var out []string
	for _, d := range unsafe.Slice(p, n) {
		kind := "pci"
		if d.typ == 1 {
			kind = "usb"
		}
		out = append(out, kind+":"+goString(d.path))
	}
	return out
}

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for q := unsafe.Pointer(p); *(*byte)(q) != 0; q = unsafe.Add(q, 1) {
		b = append(b, *(*byte)(q))
	}
	return string(b)
}

// cStrings copies ss into one C allocation laid out as a char*[] followed
// by the strings, so that C never sees Go memory; free releases it.
func (c *capi) cStrings(ss []string) unsafe.Pointer {
	ptrSize := unsafe.Sizeof(uintptr(0))
	size := uintptr(len(ss)) * ptrSize
	for _, s := range ss {
		size += uintptr(len(s)) + 1
	}
	base := c.malloc(max(size, 1))
	if base == nil {
		return nil
	}
	mem := unsafe.Slice((*byte)(base), size)
	off := uintptr(len(ss)) * ptrSize
	for i, s := range ss {
		*(*uintptr)(unsafe.Add(base, uintptr(i)*ptrSize)) = uintptr(unsafe.Add(base, off))
		copy(mem[off:], s)
		mem[off+uintptr(len(s))] = 0
		off += uintptr(len(s)) + 1
	}
	return base
}

// dtype maps TfLiteType (c_api_types.h) to edged's element types.
func dtype(t int32) (tensor.DType, error) {
	switch t {
	case 1:
		return tensor.Float32, nil
	case 2:
		return tensor.Int32, nil
	case 3:
		return tensor.UInt8, nil
	case 4:
		return tensor.Int64, nil
	case 6:
		return tensor.Bool, nil
	case 7:
		return tensor.Int16, nil
	case 9:
		return tensor.Int8, nil
	case 10:
		return tensor.Float16, nil
	case 11:
		return tensor.Float64, nil
	case 13:
		return tensor.UInt64, nil
	case 16:
		return tensor.UInt32, nil
	case 17:
		return tensor.UInt16, nil
	}
	return tensor.Invalid, fmt.Errorf("TfLiteType %d not supported by edged", t)
}
