package cli

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edged-dev/edged/runtime/tensor"
)

func runInfer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("infer", stdout, stderr)
	model := fs.String("model", "", "model `file` (.tflite)")
	var inputs multiFlag
	fs.Var(&inputs, "input", "input tensor `file`, raw little-endian bytes (or .npy), once per model input in subgraph order")
	out := fs.String("out", "", "output `dir`: output_K.bin per model output")
	threads := fs.Int("threads", 1, "threads per inference")
	arith := fs.String("arithmetic", "litert", arithmeticUsage)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("infer: unexpected argument %q", pos[0])
	}
	if *out == "" {
		return fmt.Errorf("infer: --out is required")
	}
	it, err := openInterpreter(*model, *threads, *arith)
	if err != nil {
		return fmt.Errorf("infer: %w", err)
	}
	if len(inputs) != it.NumInputs() {
		return fmt.Errorf("infer: the model has %d inputs; got %d --input files", it.NumInputs(), len(inputs))
	}
	for i, f := range inputs {
		in := it.Input(i)
		b, err := readTensorFile(f, in)
		if err != nil {
			return fmt.Errorf("infer: input %d: %w", i, err)
		}
		copy(in.Data, b)
	}
	if err := it.Invoke(); err != nil {
		return fmt.Errorf("infer: %w", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("infer: %w", err)
	}
	for k := 0; k < it.NumOutputs(); k++ {
		p := filepath.Join(*out, fmt.Sprintf("output_%d.bin", k))
		if err := os.WriteFile(p, it.Output(k).Data, 0o644); err != nil {
			return fmt.Errorf("infer: %w", err)
		}
	}
	return nil
}

// readTensorFile reads raw little-endian tensor bytes, or an .npy file,
// and checks them against the tensor's type and shape.
func readTensorFile(path string, t *tensor.Tensor) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(strings.ToLower(path), ".npy") {
		dt, shape, data, err := parseNPY(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if dt != t.Type {
			return nil, fmt.Errorf("%s holds %s; tensor %v needs %s", path, dt, t, t.Type)
		}
		if tensor.NumElements(shape) != t.NumElements() {
			return nil, fmt.Errorf("%s has shape %v; tensor %v", path, shape, t)
		}
		b = data
	}
	if len(b) != t.NumBytes() {
		return nil, fmt.Errorf("%s has %d bytes; tensor %v needs %d (%d elements of %s)", path, len(b), t, t.NumBytes(), t.NumElements(), t.Type)
	}
	return b, nil
}

var npyTypes = map[string]tensor.DType{
	"<f4": tensor.Float32, "<i4": tensor.Int32, "<i8": tensor.Int64, "<i2": tensor.Int16,
	"|i1": tensor.Int8, "|u1": tensor.UInt8, "|b1": tensor.Bool, "<f2": tensor.Float16, "<f8": tensor.Float64,
}

// parseNPY reads a C-order .npy (version 1 to 3).
func parseNPY(b []byte) (tensor.DType, []int, []byte, error) {
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return 0, nil, nil, fmt.Errorf("not an .npy file")
	}
	var hlen, start int
	if b[6] == 1 {
		hlen, start = int(binary.LittleEndian.Uint16(b[8:10])), 10
	} else {
		if len(b) < 12 {
			return 0, nil, nil, fmt.Errorf("truncated .npy header")
		}
		hlen, start = int(binary.LittleEndian.Uint32(b[8:12])), 12
	}
	if hlen < 0 || start+hlen > len(b) {
		return 0, nil, nil, fmt.Errorf("truncated .npy header")
	}
	h := string(b[start : start+hlen])
	field := func(key string) string {
		i := strings.Index(h, "'"+key+"'")
		if i < 0 {
			return ""
		}
		rest := strings.TrimLeft(h[i+len(key)+2:], " :")
		return rest
	}
	descr := field("descr")
	if len(descr) < 2 || descr[0] != '\'' {
		return 0, nil, nil, fmt.Errorf(".npy header has no descr")
	}
	descr = descr[1 : strings.IndexByte(descr[1:], '\'')+1]
	dt, ok := npyTypes[descr]
	if !ok {
		return 0, nil, nil, fmt.Errorf(".npy dtype %q not supported", descr)
	}
	if strings.HasPrefix(field("fortran_order"), "True") {
		return 0, nil, nil, fmt.Errorf("fortran-order .npy not supported")
	}
	sh := field("shape")
	if len(sh) < 2 || sh[0] != '(' || strings.IndexByte(sh, ')') < 0 {
		return 0, nil, nil, fmt.Errorf(".npy header has no shape")
	}
	var shape []int
	for _, p := range strings.Split(sh[1:strings.IndexByte(sh, ')')], ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, nil, nil, fmt.Errorf(".npy shape %q", sh)
		}
		shape = append(shape, n)
	}
	return dt, shape, b[start+hlen:], nil
}
