//go:build edged_dynamic && linux

package litert

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebitengine/purego"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tensor"
)

// These tests run the FFI plumbing against testdata/fakeabi.c, a fake of
// the TFLite C and libedgetpu ABIs built here with gcc: it checks that the
// symbols bind, that arguments and buffers cross in both directions and
// that resources are released in order. It says nothing about the real
// libraries; see the package README for running on a board.

var (
	fakeOnce sync.Once
	fakeLib  string
	fakeSO   []byte // the library's bytes, for tests that need another instance
	fakeDir  string
	fakeErr  error
	fakeLog  func() string
	fakeRst  func()
)

func buildFake(t *testing.T) string {
	t.Helper()
	fakeOnce.Do(func() {
		gcc, err := exec.LookPath("gcc")
		if err != nil {
			fakeErr = err
			return
		}
		dir, err := mkdirTemp()
		if err != nil {
			fakeErr = err
			return
		}
		fakeLib = filepath.Join(dir, "libfaketflite.so")
		if out, err := exec.Command(gcc, "-shared", "-fPIC", "-Wall", "-o", fakeLib, "testdata/fakeabi.c").CombinedOutput(); err != nil {
			fakeErr = errors.New(string(out))
			return
		}
		h, err := open(fakeLib)
		if err != nil {
			fakeErr = err
			return
		}
		// The file stays for the checks' child processes; TestMain
		// removes it.
		fakeDir = dir
		if fakeSO, fakeErr = os.ReadFile(fakeLib); fakeErr != nil {
			return
		}
		purego.RegisterLibFunc(&fakeLog, h, "fake_log")
		purego.RegisterLibFunc(&fakeRst, h, "fake_log_reset")
	})
	if fakeErr != nil {
		if errors.Is(fakeErr, exec.ErrNotFound) {
			testenv.Missing(t, "gcc: %v", fakeErr)
		}
		t.Fatalf("building the fake ABI library: %v", fakeErr)
	}
	fakeRst()
	return fakeLib
}

func floats(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func TestFakeABI(t *testing.T) {
	lib := buildFake(t)
	// The XNNPACK options' layout is learnt once per library, with a
	// delegate of its own: out of the logs compared below.
	if c, err := loadCAPI(lib); err != nil {
		t.Fatal(err)
	} else if l := c.learnXNNLayout(); l.flagsOff != 8 || l.defaultFlags != 3 {
		t.Errorf("XNNPACK layout = %+v; want flags 3 at offset 8 (TFLite 2.21's)", l)
	}
	tests := []struct {
		name    string
		opts    Options
		want    []float32
		wantLog string
	}{
		{
			name: XNNPACK, opts: Options{Threads: 3}, want: []float32{3, -6, 1.5, 0},
			wantLog: "ModelCreate;OptionsCreate;SetErrorReporter;SetNumThreads=3;XNNPackCreate threads=3 flags=3 fd=-1;AddDelegate;InterpreterCreate;AllocateTensors;Invoke;InterpreterDelete;XNNPackDelete;OptionsDelete;ModelDelete;",
		},
		{
			name: GPU, want: []float32{5, -10, 2.5, 0},
			wantLog: "ModelCreate;OptionsCreate;SetErrorReporter;SetNumThreads=1;GpuCreate defaults;AddDelegate;InterpreterCreate;AllocateTensors;Invoke;InterpreterDelete;GpuDelete;OptionsDelete;ModelDelete;",
		},
		{
			name: EdgeTPU, opts: Options{Device: "usb:0"}, want: []float32{10, -20, 5, 0},
			wantLog: "ModelCreate;OptionsCreate;SetErrorReporter;SetNumThreads=1;CreateDelegate device=usb:0;AddDelegate;InterpreterCreate;AllocateTensors;Invoke;InterpreterDelete;DestroyDelegate;OptionsDelete;ModelDelete;",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeRst()
			tt.opts.Paths = Paths{TFLite: lib, EdgeTPU: lib, GPU: lib}
			b := New(tt.name, tt.opts)
			if present, err := b.Probe(context.Background()); !present || err != nil {
				t.Fatalf("Probe = %v, %v; want true, nil", present, err)
			}
			r, err := b.Prepare(context.Background(), []byte("not really a model"), "cpu")
			if err != nil {
				t.Fatal(err)
			}
			d := r.(delegates.Describer)
			wantSpec := "float32[1 4]"
			if len(d.Inputs()) != 1 || d.Inputs()[0].String() != wantSpec || d.Inputs()[0].Name != "x" || len(d.Outputs()) != 1 || d.Outputs()[0].String() != wantSpec {
				t.Errorf("Inputs, Outputs = %v, %v; want [x %s], [y %s]", d.Inputs(), d.Outputs(), wantSpec, wantSpec)
			}
			out := make([]tensor.Tensor, 1)
			if err := r.Invoke(context.Background(), []tensor.Tensor{{Type: tensor.Float32, Data: floats(1, -2, 0.5, 0)}}, out); err != nil {
				t.Fatal(err)
			}
			if string(out[0].Data) != string(floats(tt.want...)) || out[0].Type != tensor.Float32 {
				t.Errorf("Invoke output = %s %v; want float32 %v", out[0].Type, out[0].Float32s(), tt.want)
			}
			if err := r.Invoke(context.Background(), []tensor.Tensor{{Type: tensor.Float32, Data: floats(1)}}, out); !errors.Is(err, delegates.ErrBadInput) {
				t.Errorf("Invoke(4 bytes) = %v; want ErrBadInput", err)
			}
			r.Close()
			r.Close() // twice is harmless
			if got := fakeLog(); got != tt.wantLog {
				t.Errorf("calls = %s\nwant %s", got, tt.wantLog)
			}
		})
	}
}

func TestFakeEdgeTPUNoDevice(t *testing.T) {
	lib := buildFake(t)
	t.Setenv("FAKE_EDGETPU_DEVICES", "0")
	b := New(EdgeTPU, Options{Paths: Paths{TFLite: lib, EdgeTPU: lib}})
	present, err := b.Probe(context.Background())
	if present || !errors.Is(err, delegates.ErrNotPresent) || !strings.Contains(err.Error(), "sees no Edge TPU") {
		t.Errorf("Probe = %v, %v; want false, ErrNotPresent: sees no Edge TPU", present, err)
	}
}

func TestFakeEdgeTPUDevices(t *testing.T) {
	lib := buildFake(t)
	got, err := New(EdgeTPU, Options{Paths: Paths{TFLite: lib, EdgeTPU: lib}}).Devices()
	if err != nil || len(got) != 1 || got[0] != "usb:/sys/bus/usb/devices/2-1" {
		t.Errorf("Devices() = %v, %v; want [usb:/sys/bus/usb/devices/2-1]", got, err)
	}
}

// mkdirTemp makes a directory that outlives one test: the library stays
// loaded for the whole process.
func mkdirTemp() (string, error) { return os.MkdirTemp("", "litert-fakeabi-") }

// TestFakeXNNPACKQuantizedOn: a library whose XNNPACK defaults leave the
// unsigned quantized operators off gets them turned on.
func TestFakeXNNPACKQuantizedOn(t *testing.T) {
	buildFake(t)
	// Another path is another instance of the library, whose layout is
	// learnt afresh.
	lib2 := filepath.Join(t.TempDir(), "libfaketflite-qs8.so")
	if err := os.WriteFile(lib2, fakeSO, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_XNN_DEFAULT_FLAGS", "1") // QS8 only
	r, err := New(XNNPACK, Options{Paths: Paths{TFLite: lib2}, Threads: 2}).Prepare(context.Background(), []byte("model"), "cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.(*runner).xnnFlags; got != 3 {
		t.Errorf("XNNPACK flags in effect = %d; want 3 (QS8|QU8)", got)
	}
}

// TestFakeErrorText: the library's own messages, formatted from their
// printf arguments, are the cause in the error; repeated lines once.
func TestFakeErrorText(t *testing.T) {
	lib := buildFake(t)
	_, err := New(XNNPACK, Options{Paths: Paths{TFLite: lib}}).Prepare(context.Background(), []byte("refuse this"), "cpu")
	want := "litert xnnpack (cpu variant): TfLiteInterpreterCreate failed: TFLite says: tensor 7: quantized_dimension out of range (2.5); Registration failed. (3 lines in all)"
	if err == nil || err.Error() != want {
		t.Errorf("Prepare error = %v\nwant %s", err, want)
	}
	if got := fakeLog(); !strings.HasSuffix(got, "XNNPackDelete;OptionsDelete;ModelDelete;") {
		t.Errorf("calls = %s; want the delegate, options and model released after the failure", got)
	}
}

func removeFake() {
	if fakeDir != "" {
		os.RemoveAll(fakeDir)
	}
}

// TestFakeProbeIsolated: a vendor library that faults or hangs does so in
// the check's child process; the backend is failed with the reason and
// the stage, and this process goes on.
func TestFakeProbeIsolated(t *testing.T) {
	lib := buildFake(t)
	tests := []struct {
		name, env, want string
	}{
		{name: EdgeTPU, env: "FAKE_EDGETPU_CRASH", want: "the check process crashed with SIGSEGV while listing the Edge TPUs with "},
		{name: GPU, env: "FAKE_GPU_HANG", want: "the check process did not finish within 3s (hung while running the check model (gpu)); killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.env, "1")
			// A path of its own: outcomes are kept per set of libraries.
			dir := t.TempDir()
			p := filepath.Join(dir, "libfake-"+tt.name+".so")
			if err := os.WriteFile(p, fakeSO, 0o644); err != nil {
				t.Fatal(err)
			}
			b := New(tt.name, Options{Paths: Paths{TFLite: lib, EdgeTPU: p, GPU: p}, CheckTimeout: 3 * time.Second})
			present, err := b.Probe(context.Background())
			if !present || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Probe = %v, %v; want failed: %s", present, err, tt.want)
			}
			if _, err := b.Prepare(context.Background(), []byte("model"), "cpu"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Prepare error = %v; want the check's reason", err)
			}
		})
	}
}
