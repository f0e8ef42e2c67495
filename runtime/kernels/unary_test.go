package kernels_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/edged-dev/edged/internal/testenv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/edged-dev/edged/runtime/kernels"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func unaryT(name string, dt tensor.DType, shape []int, q *tensor.Quant, data []byte) *tensor.Tensor {
	return &tensor.Tensor{Name: name, Type: dt, Shape: shape, Quant: q, Data: data}
}

func unaryQ(scale float32, zp int32) *tensor.Quant {
	return &tensor.Quant{Scale: []float32{scale}, ZeroPoint: []int32{zp}}
}

func TestUnary(t *testing.T) {
	f32, i8 := tensor.Float32, tensor.Int8
	e := math.E
	cases := []struct {
		name     string
		op       kernels.UnaryOp
		in, out  *tensor.Tensor
		want     []float64
		wantErr  bool
		wantEval error
	}{
		{name: "sqrt_float", op: kernels.OpSqrt,
			in:   unaryT("x", f32, []int{3}, nil, tflitetest.Float32Bytes([]float32{4, 2.25, 0})),
			out:  unaryT("y", f32, nil, nil, nil),
			want: []float64{2, 1.5, 0}},
		{name: "rsqrt_float", op: kernels.OpRsqrt,
			in:   unaryT("x", f32, []int{2, 1}, nil, tflitetest.Float32Bytes([]float32{4, 0.25})),
			out:  unaryT("y", f32, nil, nil, nil),
			want: []float64{0.5, 2}},
		{name: "exp_float", op: kernels.OpExp,
			in:   unaryT("x", f32, []int{3}, nil, tflitetest.Float32Bytes([]float32{0, 1, -1})),
			out:  unaryT("y", f32, nil, nil, nil),
			want: []float64{1, e, 1 / e}},
		// in = q/4, out = q*64: rsqrt(4) = 0.5 -> 32; rsqrt(16) = 0.25 ->
		// 16; rsqrt(0.25) = 2 -> 128 saturates; 0 -> 127 by convention.
		{name: "rsqrt_int8", op: kernels.OpRsqrt,
			in:   unaryT("x", i8, []int{4}, unaryQ(0.25, 0), tflitetest.Int8Bytes([]int8{16, 64, 1, 0})),
			out:  unaryT("y", i8, nil, unaryQ(1.0/64, 0), nil),
			want: []float64{32, 16, 127, 127}},
		// Zero point -10: q = 6 is 4.0.
		{name: "rsqrt_int8_zero_point", op: kernels.OpRsqrt,
			in:   unaryT("x", i8, []int{1}, unaryQ(0.25, -10), tflitetest.Int8Bytes([]int8{6})),
			out:  unaryT("y", i8, nil, unaryQ(1.0/64, -20), nil),
			want: []float64{12}},
		{name: "rsqrt_int8_negative", op: kernels.OpRsqrt,
			in:       unaryT("x", i8, []int{2}, unaryQ(0.25, 0), tflitetest.Int8Bytes([]int8{4, -1})),
			out:      unaryT("y", i8, nil, unaryQ(1.0/64, 0), nil),
			wantEval: kernels.ErrNegativeRsqrt},
		// in = q/10, out = q/20 - 128: exp(0) = 1 -> 20-128; exp(1) =
		// 2.718 -> 54.4 -> 54-128; exp(-12.8) ~ 0 -> -128; exp(12.7)
		// saturates.
		{name: "exp_int8", op: kernels.OpExp,
			in:   unaryT("x", i8, []int{4}, unaryQ(0.1, 0), tflitetest.Int8Bytes([]int8{0, 10, -128, 127})),
			out:  unaryT("y", i8, nil, unaryQ(0.05, -128), nil),
			want: []float64{-108, -74, -128, 127}},
		{name: "exp_uint8", op: kernels.OpExp,
			in:   unaryT("x", tensor.UInt8, []int{2}, unaryQ(0.1, 100), []byte{100, 110}),
			out:  unaryT("y", tensor.UInt8, nil, unaryQ(0.05, 0), nil),
			want: []float64{20, 54}},
		// in = q/4, out = q/4 + 3: sqrt(1) = 1 -> 4+3; sqrt(2) = 1.414
		// -> 5.66 truncated to 5, +3; sqrt(0) -> 3; sqrt(100) = 10 -> 40+3.
		{name: "sqrt_int8", op: kernels.OpSqrt,
			in:   unaryT("x", i8, []int{4}, unaryQ(0.25, 0), tflitetest.Int8Bytes([]int8{4, 8, 0, 127})),
			out:  unaryT("y", i8, nil, unaryQ(0.25, 3), nil),
			want: []float64{7, 8, 3, 25}},
		{name: "sqrt_int8_negative", op: kernels.OpSqrt,
			in:       unaryT("x", i8, []int{2}, unaryQ(0.25, 0), tflitetest.Int8Bytes([]int8{4, -1})),
			out:      unaryT("y", i8, nil, unaryQ(0.25, 0), nil),
			wantEval: kernels.ErrNegativeSqrt},
		{name: "sqrt_uint8", op: kernels.OpSqrt,
			in:      unaryT("x", tensor.UInt8, []int{1}, unaryQ(0.25, 0), []byte{4}),
			out:     unaryT("y", tensor.UInt8, nil, unaryQ(0.25, 0), nil),
			wantErr: true},
		{name: "type_mismatch", op: kernels.OpExp,
			in:      unaryT("x", f32, []int{1}, nil, tflitetest.Float32Bytes([]float32{1})),
			out:     unaryT("y", i8, nil, unaryQ(0.25, 0), nil),
			wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := kernels.Unary(&kernels.Config{}, c.op, c.in, c.out)
			if c.wantErr {
				if err == nil {
					t.Fatalf("%s(%s) constructor succeeded; want an error", c.op, c.name)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s(%s) constructor: %v", c.op, c.name, err)
			}
			if !tensor.SameShape(c.out.Shape, c.in.Shape) {
				t.Fatalf("%s(%s) output shape = %v; want %v", c.op, c.name, c.out.Shape, c.in.Shape)
			}
			c.out.Data = make([]byte, c.out.NumBytes())
			err = k.Eval()
			if c.wantEval != nil {
				if !errors.Is(err, c.wantEval) {
					t.Fatalf("%s(%s) Eval error = %v; want %v", c.op, c.name, err, c.wantEval)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s(%s) Eval: %v", c.op, c.name, err)
			}
			for i, w := range c.want {
				switch c.out.Type {
				case tensor.Float32:
					if got := float64(c.out.Float32s()[i]); math.Abs(got-w) > 1e-6+1e-6*math.Abs(w) {
						t.Errorf("%s(%s) output[%d] = %g; want %g", c.op, c.name, i, got, w)
					}
				case tensor.Int8:
					if got := c.out.Int8s()[i]; float64(got) != w {
						t.Errorf("%s(%s) output[%d] = %d; want %d", c.op, c.name, i, got, int(w))
					}
				case tensor.UInt8:
					if got := c.out.UInt8s()[i]; float64(got) != w {
						t.Errorf("%s(%s) output[%d] = %d; want %d", c.op, c.name, i, got, int(w))
					}
				}
			}
		})
	}
}

// Builtin operator codes of the TFLite schema (the generated enum is
// internal to package tflite).
const (
	opADD               = 0
	opMUL               = 18
	opSUB               = 41
	opDIV               = 42
	opEXP               = 47
	opMAXIMUM           = 55
	opMINIMUM           = 57
	opSQRT              = 75
	opRSQRT             = 76
	opFLOOR_DIV         = 90
	opSQUARED_DIFF      = 99
	actNone, actRelu    = 0, 1
	actReluN1, actRelu6 = 2, 3
)

// elemCase is one single-operator model run through edged and the oracle.
type elemCase struct {
	name   string
	model  []byte
	inputs [][]byte
}

// elemGen describes one random single-op model.
type elemGen struct {
	name    string
	op      int
	dt      tensor.DType
	unary   bool
	act     int
	opts    string // "add", "sub", "mul", "div" or "" (no options table)
	version int
}

func elemQuant(r *rand.Rand, dt tensor.DType) *tensor.Quant {
	if dt != tensor.Int8 && dt != tensor.UInt8 && dt != tensor.Int16 {
		return nil
	}
	s := float32(0.005 * math.Pow(20, r.Float64()))
	var zp int32
	switch dt {
	case tensor.Int8:
		zp = int32(r.IntN(41)) - 20
	case tensor.UInt8:
		zp = 108 + int32(r.IntN(41))
	}
	return &tensor.Quant{Scale: []float32{s}, ZeroPoint: []int32{zp}}
}

func elemShapes(r *rand.Rand) (a, b []int) {
	rank := 1 + r.IntN(5)
	out := make([]int, rank)
	for i := range out {
		out[i] = 1 + r.IntN(4)
	}
	mk := func() []int {
		s := append([]int(nil), out[r.IntN(rank):]...)
		for i := range s {
			if r.IntN(3) == 0 {
				s[i] = 1
			}
		}
		return s
	}
	a, b = mk(), mk()
	if r.IntN(3) == 0 {
		a = out
	}
	return a, b
}

// elemData draws n random values of dt; avoid lists raw values not to draw
// (zero divisors).
func elemData(r *rand.Rand, dt tensor.DType, n int, positive bool, avoid int64) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		for {
			var v int64
			var fv float32
			switch dt {
			case tensor.Float32:
				fv = float32(r.NormFloat64() * 3)
				if positive {
					fv = float32(math.Abs(float64(fv))) + 0.01
				}
				if fv == 0 && avoid == 0 {
					continue
				}
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(fv))
			case tensor.Int8:
				v = int64(r.IntN(256)) - 128
			case tensor.UInt8:
				v = int64(r.IntN(256))
			case tensor.Int16:
				v = int64(r.IntN(65536)) - 32768
			case tensor.Int32, tensor.Int64:
				v = int64(r.IntN(2001)) - 1000
			}
			if dt == tensor.Float32 {
				break
			}
			if v == avoid || (positive && v < avoid) {
				continue
			}
			switch dt {
			case tensor.Int8, tensor.UInt8:
				b = append(b, byte(v))
			case tensor.Int16:
				b = binary.LittleEndian.AppendUint16(b, uint16(int16(v)))
			case tensor.Int32:
				b = binary.LittleEndian.AppendUint32(b, uint32(int32(v)))
			case tensor.Int64:
				b = binary.LittleEndian.AppendUint64(b, uint64(v))
			}
			break
		}
	}
	return b
}

func (g elemGen) build(r *rand.Rand) (elemCase, error) {
	b := tflitetest.NewBuilder()
	const noAvoid = math.MinInt64
	if g.unary {
		shape, _ := elemShapes(r)
		q := elemQuant(r, g.dt)
		oq := elemQuant(r, g.dt)
		positive := g.op == opSQRT || g.op == opRSQRT
		avoid := int64(noAvoid)
		if positive && q != nil {
			avoid = int64(q.ZeroPoint[0]) // raw values >= zp only
		}
		if g.op == opEXP && q != nil {
			// Keep exp's range within a sensible output scale.
			q.Scale[0] = float32(0.01 + 0.03*r.Float64())
			oq.Scale[0] = float32(math.Exp(float64(q.Scale[0])*float64(127-q.ZeroPoint[0])) / 200)
			if g.dt == tensor.Int8 {
				oq.ZeroPoint[0] = -128
			} else {
				oq.ZeroPoint[0] = 0
			}
		}
		data := elemData(r, g.dt, tensor.NumElements(shape), positive, avoid)
		if positive && q == nil {
			data = elemData(r, g.dt, tensor.NumElements(shape), true, noAvoid)
		}
		x := b.Tensor("x", g.dt, shape, q, nil)
		y := b.Tensor("y", g.dt, shape, oq, nil)
		elemOp(b, g.op, g.version, []int{x}, []int{y}, nil)
		b.Inputs(x)
		b.Outputs(y)
		m, err := b.Bytes()
		return elemCase{model: m, inputs: [][]byte{data}}, err
	}
	aShape, bShape := elemShapes(r)
	outShape, err := kernels.BroadcastShape(aShape, bShape)
	if err != nil {
		return elemCase{}, err
	}
	aq, bq, oq := elemQuant(r, g.dt), elemQuant(r, g.dt), elemQuant(r, g.dt)
	switch g.op {
	case opMAXIMUM, opMINIMUM:
		bq, oq = aq, aq
	case opMUL:
		if oq != nil {
			oq.Scale[0] = aq.Scale[0] * bq.Scale[0] * 64
		}
	case opDIV:
		if oq != nil {
			// A multiplier of 2^6 or more keeps TFLite's final shift
			// within 31 bits (beyond, TFLite's result is undefined; see
			// divQuant).
			oq.Scale[0] = aq.Scale[0] / bq.Scale[0] / 64
		}
	case opSQUARED_DIFF:
		if oq != nil {
			m := max(aq.Scale[0], bq.Scale[0])
			oq.Scale[0] = m * m * 64
			oq.ZeroPoint[0] = -128
		}
	case opADD, opSUB:
		if oq != nil {
			oq.Scale[0] = max(aq.Scale[0], bq.Scale[0]) * 2
		}
	}
	avoid := int64(noAvoid)
	if g.op == opDIV || g.op == opFLOOR_DIV {
		avoid = 0
		if bq != nil {
			avoid = int64(bq.ZeroPoint[0])
		}
	}
	aData := elemData(r, g.dt, tensor.NumElements(aShape), false, noAvoid)
	bData := elemData(r, g.dt, tensor.NumElements(bShape), false, avoid)
	x := b.Tensor("a", g.dt, aShape, aq, nil)
	y := b.Tensor("b", g.dt, bShape, bq, nil)
	o := b.Tensor("out", g.dt, outShape, oq, nil)
	elemOp(b, g.op, g.version, []int{x, y}, []int{o}, elemOptions(g.opts, g.act))
	b.Inputs(x, y)
	b.Outputs(o)
	m, err := b.Bytes()
	return elemCase{model: m, inputs: [][]byte{aData, bData}}, err
}

// elemOp adds operator op to b. The builder's operator and activation
// types live in package tflite's internal schema, which this package
// cannot name, so the codes are passed as untyped constants.
func elemOp(b *tflitetest.Builder, op, version int, in, out []int, opts tflitetest.Options) {
	switch op {
	case opADD:
		b.Op(opADD, version, in, out, opts)
	case opSUB:
		b.Op(opSUB, version, in, out, opts)
	case opMUL:
		b.Op(opMUL, version, in, out, opts)
	case opDIV:
		b.Op(opDIV, version, in, out, opts)
	case opFLOOR_DIV:
		b.Op(opFLOOR_DIV, version, in, out, opts)
	case opSQUARED_DIFF:
		b.Op(opSQUARED_DIFF, version, in, out, opts)
	case opMAXIMUM:
		b.Op(opMAXIMUM, version, in, out, opts)
	case opMINIMUM:
		b.Op(opMINIMUM, version, in, out, opts)
	case opSQRT:
		b.Op(opSQRT, version, in, out, opts)
	case opRSQRT:
		b.Op(opRSQRT, version, in, out, opts)
	case opEXP:
		b.Op(opEXP, version, in, out, opts)
	}
}

// elemOptions returns the options table of kind ("add", "sub", "mul",
// "div") with fused activation act, or nil.
func elemOptions(kind string, act int) tflitetest.Options {
	acts := map[string][4]tflitetest.Options{
		"add": {tflitetest.AddOptions(actNone), tflitetest.AddOptions(actRelu), tflitetest.AddOptions(actReluN1), tflitetest.AddOptions(actRelu6)},
		"sub": {tflitetest.SubOptions(actNone), tflitetest.SubOptions(actRelu), tflitetest.SubOptions(actReluN1), tflitetest.SubOptions(actRelu6)},
		"mul": {tflitetest.MulOptions(actNone), tflitetest.MulOptions(actRelu), tflitetest.MulOptions(actReluN1), tflitetest.MulOptions(actRelu6)},
		"div": {tflitetest.DivOptions(actNone), tflitetest.DivOptions(actRelu), tflitetest.DivOptions(actReluN1), tflitetest.DivOptions(actRelu6)},
	}
	if o, ok := acts[kind]; ok {
		return o[act]
	}
	return nil
}

var elemGens = []elemGen{
	{name: "ADD/int32", op: opADD, dt: tensor.Int32, act: actRelu, opts: "add", version: 1},
	{name: "ADD/int64", op: opADD, dt: tensor.Int64, opts: "add", version: 4},
	{name: "ADD/float32_relu_n1", op: opADD, dt: tensor.Float32, act: actReluN1, opts: "add", version: 1},
	{name: "ADD/int16", op: opADD, dt: tensor.Int16, act: actRelu, opts: "add", version: 3},
	{name: "SUB/int16", op: opSUB, dt: tensor.Int16, opts: "sub", version: 3},
	{name: "MUL/int16", op: opMUL, dt: tensor.Int16, act: actRelu6, opts: "mul", version: 4},
	{name: "MAXIMUM/int16", op: opMAXIMUM, dt: tensor.Int16, version: 4},
	{name: "SUB/int32", op: opSUB, dt: tensor.Int32, opts: "sub", version: 1},
	{name: "SUB/int64", op: opSUB, dt: tensor.Int64, opts: "sub", version: 1},
	{name: "SUB/int8_relu6", op: opSUB, dt: tensor.Int8, act: actRelu6, opts: "sub", version: 2},
	{name: "MUL/int32", op: opMUL, dt: tensor.Int32, act: actRelu6, opts: "mul", version: 1},
	{name: "MUL/int64", op: opMUL, dt: tensor.Int64, opts: "mul", version: 1},
	{name: "DIV/float32", op: opDIV, dt: tensor.Float32, act: actRelu, opts: "div", version: 1},
	{name: "DIV/int32", op: opDIV, dt: tensor.Int32, opts: "div", version: 1},
	{name: "DIV/uint8", op: opDIV, dt: tensor.UInt8, opts: "div", version: 2},
	{name: "FLOOR_DIV/float32", op: opFLOOR_DIV, dt: tensor.Float32, version: 2},
	{name: "FLOOR_DIV/int32", op: opFLOOR_DIV, dt: tensor.Int32, version: 1},
	{name: "SQUARED_DIFFERENCE/float32", op: opSQUARED_DIFF, dt: tensor.Float32, version: 1},
	{name: "SQUARED_DIFFERENCE/int32", op: opSQUARED_DIFF, dt: tensor.Int32, version: 1},
	{name: "SQUARED_DIFFERENCE/int8", op: opSQUARED_DIFF, dt: tensor.Int8, version: 2},
	{name: "MAXIMUM/float32", op: opMAXIMUM, dt: tensor.Float32, version: 1},
	{name: "MAXIMUM/int8", op: opMAXIMUM, dt: tensor.Int8, version: 2},
	{name: "MAXIMUM/uint8", op: opMAXIMUM, dt: tensor.UInt8, version: 1},
	{name: "MAXIMUM/int32", op: opMAXIMUM, dt: tensor.Int32, version: 1},
	{name: "MINIMUM/float32", op: opMINIMUM, dt: tensor.Float32, version: 1},
	{name: "MINIMUM/int8", op: opMINIMUM, dt: tensor.Int8, version: 2},
	{name: "MINIMUM/int64", op: opMINIMUM, dt: tensor.Int64, version: 1},
	{name: "SQRT/float32", op: opSQRT, dt: tensor.Float32, unary: true, version: 1},
	{name: "RSQRT/float32", op: opRSQRT, dt: tensor.Float32, unary: true, version: 1},
	{name: "RSQRT/int8", op: opRSQRT, dt: tensor.Int8, unary: true, version: 2},
	{name: "EXP/float32", op: opEXP, dt: tensor.Float32, unary: true, version: 1},
	{name: "EXP/int8", op: opEXP, dt: tensor.Int8, unary: true, version: 2},
}

// TestElementwiseOracle runs random single-operator models of every
// element-wise op and type through edged and the TFLite oracle (found by
// testenv.Oracle). Floats must
// agree within 1e-4+1e-4|want|, quantized values within 1, other integers
// exactly. EDGED_DIFF_CASES (or EDGED_ELEM_CASES) sets the number of cases
// per op and type (default 20, 5 with -short), like TestDifferential.
func TestElementwiseOracle(t *testing.T) {
	oracle, _ := filepath.Abs(testenv.Oracle(t))
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node not found")
	}
	script, _ := filepath.Abs("../../scripts/oracle-batch.mjs")
	perGen := 20
	if testing.Short() {
		perGen = 5
	}
	for _, env := range []string{"EDGED_DIFF_CASES", "EDGED_ELEM_CASES"} {
		if n, err := strconv.Atoi(os.Getenv(env)); err == nil && n > 0 {
			perGen = n
		}
	}
	work := t.TempDir()
	type job struct {
		Model  string   `json:"model"`
		Inputs []string `json:"inputs"`
		OutDir string   `json:"out_dir"`
	}
	var jobs []job
	var cases []elemCase
	for gi, g := range elemGens {
		for i := 0; i < perGen; i++ {
			r := rand.New(rand.NewPCG(uint64(gi), uint64(i)))
			c, err := g.build(r)
			if err != nil {
				t.Fatalf("%s/%d: %v", g.name, i, err)
			}
			c.name = fmt.Sprintf("%s/%d", g.name, i)
			dir := filepath.Join(work, fmt.Sprintf("c%03d_%d", gi, i))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			j := job{Model: filepath.Join(dir, "model.tflite"), Inputs: []string{}, OutDir: filepath.Join(dir, "oracle")}
			if err := os.WriteFile(j.Model, c.model, 0o644); err != nil {
				t.Fatal(err)
			}
			for k, in := range c.inputs {
				p := filepath.Join(dir, fmt.Sprintf("input_%d.bin", k))
				if err := os.WriteFile(p, in, 0o644); err != nil {
					t.Fatal(err)
				}
				j.Inputs = append(j.Inputs, p)
			}
			jobs = append(jobs, j)
			cases = append(cases, c)
		}
	}
	jf := filepath.Join(work, "jobs.json")
	data, _ := json.Marshal(jobs)
	if err := os.WriteFile(jf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, script, "--oracle", oracle, jf).CombinedOutput(); err != nil {
		t.Logf("oracle-batch: %v\n%s", err, tailStr(string(out), 2000))
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := jobs[ci]
			if msg, err := os.ReadFile(filepath.Join(j.OutDir, "error.txt")); err == nil {
				t.Skipf("oracle rejects the model: %s", tailStr(string(msg), 300))
			}
			want, err := os.ReadFile(filepath.Join(j.OutDir, "output_0.bin"))
			if err != nil {
				t.Fatalf("no oracle output: %v", err)
			}
			m, err := tflite.Load(c.model)
			if err != nil {
				t.Fatal(err)
			}
			it, err := tflite.NewInterpreter(m, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, in := range c.inputs {
				copy(it.Input(k).Data, in)
			}
			if err := it.Invoke(); err != nil {
				t.Fatal(err)
			}
			o := it.Output(0)
			if len(o.Data) != len(want) {
				t.Fatalf("output has %d bytes; oracle %d", len(o.Data), len(want))
			}
			wt := &tensor.Tensor{Type: o.Type, Shape: o.Shape, Data: want}
			for i := 0; i < o.NumElements(); i++ {
				g, w := elemAt(o, i), elemAt(wt, i)
				switch {
				case o.Type == tensor.Float32:
					if !(math.Abs(g-w) <= 1e-4+1e-4*math.Abs(w)) && !(math.IsNaN(g) && math.IsNaN(w)) && g != w {
						t.Errorf("%s output[%d] = %g; want %g", c.name, i, g, w)
					}
				case o.Type.Quantized():
					if math.Abs(g-w) > 1 {
						t.Errorf("%s output[%d] = %d; want %d (±1)", c.name, i, int64(g), int64(w))
					}
				default:
					if g != w {
						t.Errorf("%s output[%d] = %d; want %d", c.name, i, int64(g), int64(w))
					}
				}
			}
		})
	}
}

func elemAt(t *tensor.Tensor, i int) float64 {
	switch t.Type {
	case tensor.Float32:
		return float64(t.Float32s()[i])
	case tensor.Int8:
		return float64(t.Int8s()[i])
	case tensor.UInt8:
		return float64(t.UInt8s()[i])
	case tensor.Int16:
		return float64(t.Int16s()[i])
	case tensor.Int32:
		return float64(t.Int32s()[i])
	case tensor.Int64:
		return float64(t.Int64s()[i])
	}
	return math.NaN()
}

func tailStr(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
