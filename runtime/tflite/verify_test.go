package tflite

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

const modelsDir = "../../testdata/models"

func modelFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(modelsDir, "*.tflite"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no models in %s (%v)", modelsDir, err)
	}
	return files
}

func readModel(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(modelsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyModels checks that every model of testdata/models passes the
// verifier and decodes, and that it loads unless it uses operators nobody
// has registered yet.
func TestVerifyModels(t *testing.T) {
	for _, f := range modelFiles(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data := readModel(t, name)
			if err := verify(data); err != nil {
				t.Fatalf("verify(%s) = %v; want nil", name, err)
			}
			m, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode(%s) = %v; want nil", name, err)
			}
			_, err = Load(data)
			if strings.HasSuffix(name, "_edgetpu.tflite") { // Coral's name for compiled models
				if !errors.Is(err, ErrUnsupportedOp) || !strings.Contains(errString(err), "edgetpu-custom-op") {
					t.Fatalf("Load(%s) = %v; want ErrUnsupportedOp naming edgetpu-custom-op", name, err)
				}
				return
			}
			if cerr := m.CheckOps(); cerr != nil {
				if !errors.Is(cerr, ErrUnsupportedOp) {
					t.Fatalf("CheckOps(%s) = %v; want nil or ErrUnsupportedOp", name, cerr)
				}
				t.Logf("verified only (not all ops registered yet): %v", cerr)
				return
			}
			if err != nil {
				t.Fatalf("Load(%s) = %v; want nil", name, err)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkLoadErr fails when Load's error is not a clean rejection.
func checkLoadErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), "internal error") {
		t.Fatalf("%s: Load = %v; the verifier let a bad buffer through", what, err)
	}
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedOp) {
		t.Fatalf("%s: Load = %v; want an error wrapping ErrMalformed or ErrUnsupportedOp", what, err)
	}
}

// TestVerifyTruncated loads every prefix of small models: each must be
// rejected as malformed, unless all it lacks is zero padding.
func TestVerifyTruncated(t *testing.T) {
	models := map[string][]byte{"fc": buildFCModel(t, fcModel{})}
	for _, name := range []string{"hello_world_float.tflite", "simple_add_model.tflite", "hello_world_int8.tflite"} {
		models[name] = readModel(t, name)
	}
	for name, data := range models {
		for n := 0; n < len(data); n++ {
			_, err := Load(data[:n:n])
			if err == nil && allZero(data[n:]) {
				continue
			}
			if !errors.Is(err, ErrMalformed) || strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Load(%s[:%d]) = %v; want an error wrapping ErrMalformed", name, n, err)
			}
		}
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TestVerifyByteFlips damages small models at random: Load may accept or
// reject them, but never panic or reach the decoder's recover backstop.
func TestVerifyByteFlips(t *testing.T) {
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	seeds := map[string][]byte{"fc": buildFCModel(t, fcModel{})}
	for _, f := range modelFiles(t) {
		if b := readModel(t, filepath.Base(f)); len(b) <= 64<<10 {
			seeds[filepath.Base(f)] = b
		}
	}
	rng := rand.New(rand.NewSource(1))
	for name, orig := range seeds {
		buf := make([]byte, len(orig))
		for i := 0; i < iters; i++ {
			copy(buf, orig)
			for k := rng.Intn(4); k >= 0; k-- {
				p := rng.Intn(len(buf))
				switch rng.Intn(3) {
				case 0:
					buf[p] ^= 1 << rng.Intn(8)
				case 1:
					buf[p] = byte(rng.Intn(256))
				default:
					// Interesting values for offsets and lengths.
					vals := []uint32{0, 1, 3, 0x7fffffff, 0x80000000, 0xffffffff, uint32(len(buf)), uint32(len(buf) - p)}
					if p+4 <= len(buf) {
						binary.LittleEndian.PutUint32(buf[p&^3:], vals[rng.Intn(len(vals))])
					}
				}
			}
			_, err := Load(buf)
			checkLoadErr(t, name+" flip "+strconv.Itoa(i), err)
		}
	}
}

// fbw reads a known-good flatbuffer to find where to damage it.
type fbw []byte

func (w fbw) u32(p int) int { return int(binary.LittleEndian.Uint32(w[p:])) }

func (w fbw) put32(p int, v uint32) { binary.LittleEndian.PutUint32(w[p:], v) }

func (w fbw) put16(p int, v uint16) { binary.LittleEndian.PutUint16(w[p:], v) }

func (w fbw) root() int { return w.u32(0) }

func (w fbw) vtable(table int) int { return table - int(int32(w.u32(table))) }

func slotOf(t *testing.T, id vTableID, field string) int {
	for _, f := range vTables[id].fields {
		if f.name == field {
			return int(f.slot)
		}
	}
	t.Fatalf("no field %s in %s", field, vTables[id].name)
	return 0
}

// field returns the position of the named field of the table at pos.
func (w fbw) field(t *testing.T, table int, id vTableID, name string) int {
	vt := w.vtable(table)
	slot := slotOf(t, id, name)
	if slot+2 > int(binary.LittleEndian.Uint16(w[vt:])) {
		t.Fatalf("%s.%s absent", vTables[id].name, name)
	}
	fo := int(binary.LittleEndian.Uint16(w[vt+slot:]))
	if fo == 0 {
		t.Fatalf("%s.%s absent", vTables[id].name, name)
	}
	return table + fo
}

// ref returns the target of the named offset field.
func (w fbw) ref(t *testing.T, table int, id vTableID, name string) int {
	p := w.field(t, table, id, name)
	return p + w.u32(p)
}

// elem returns the position of the offset of element i of the vector at vec.
func (w fbw) elem(vec, i int) int { return vec + 4 + 4*i }

// at follows element i of the vector of tables at vec.
func (w fbw) at(vec, i int) int { p := w.elem(vec, i); return p + w.u32(p) }

func (w fbw) subgraph0(t *testing.T) int { return w.at(w.ref(t, w.root(), vtModel, "subgraphs"), 0) }

// TestVerifyHostile damages known places of valid models and checks the
// verifier's error.
func TestVerifyHostile(t *testing.T) {
	fc := func() []byte { return buildFCModel(t, fcModel{}) }
	int8Model := func() []byte { return readModel(t, "hello_world_int8.tflite") }
	tests := []struct {
		name  string
		model func() []byte
		patch func(w fbw)
		want  string // substring of the error; "" = must load
	}{
		{"intact", fc, func(w fbw) {}, ""},
		{"file identifier", fc, func(w fbw) { copy(w[4:], "TFL2") }, `file identifier "TFL2"`},
		{"root offset past end", fc, func(w fbw) { w.put32(0, uint32(len(w))) }, "root offset: offset at 0 points to"},
		{"root offset zero", fc, func(w fbw) { w.put32(0, 0) }, "root offset: offset at 0 is 0 (points to itself)"},
		{"root offset negative", fc, func(w fbw) { w.put32(0, 0xfffffff0) }, "beyond 2^31"},
		{"root misaligned", fc, func(w fbw) { w.put32(0, uint32(w.root()+1)) }, "misaligned"},
		{"vtable outside buffer", fc, func(w fbw) { w.put32(w.root(), 0x7fff0000) }, "outside the buffer"},
		{"vtable misaligned", fc, func(w fbw) { w.put32(w.root(), uint32(int32(w.u32(w.root()))+1)) }, "misaligned vtable"},
		{"vtable is the table itself", fc, func(w fbw) { w.put32(w.root(), 0) }, "has bad size 0"},
		{"vtable size huge", fc, func(w fbw) { w.put16(w.vtable(w.root()), 0xfffe) }, "has bad size 65534"},
		{"vtable size odd", fc, func(w fbw) { w.put16(w.vtable(w.root()), 7) }, "has bad size 7"},
		{"object size huge", fc, func(w fbw) { w.put16(w.vtable(w.root())+2, 0xffff) }, "object size 65535 exceeds the buffer"},
		{"field outside object", fc, func(w fbw) {
			vt := w.vtable(w.root())
			w.put16(vt+slotOf(t, vtModel, "version"), binary.LittleEndian.Uint16(w[vt+2:]))
		}, "version field at"},
		{"subgraphs vector length huge", fc, func(w fbw) {
			w.put32(w.ref(t, w.root(), vtModel, "subgraphs"), 0x3fffffff)
		}, "subgraphs vector length 1073741823 exceeds the buffer"},
		{"subgraph element offset zero", fc, func(w fbw) {
			w.put32(w.elem(w.ref(t, w.root(), vtModel, "subgraphs"), 0), 0)
		}, "subgraph 0: offset at"},
		{"subgraph element self-referencing vtable", fc, func(w fbw) {
			w.put32(w.subgraph0(t), 0)
		}, "subgraph 0: table at"},
		{"tensor name length huge", fc, func(w fbw) {
			tv := w.ref(t, w.subgraph0(t), vtSubGraph, "tensors")
			w.put32(w.ref(t, w.at(tv, 1), vtTensor, "name"), 0x10000000)
		}, `subgraph 0 "main" tensor 1: name vector length 268435456 exceeds the buffer`},
		{"tensor name without NUL", fc, func(w fbw) {
			tv := w.ref(t, w.subgraph0(t), vtSubGraph, "tensors")
			s := w.ref(t, w.at(tv, 0), vtTensor, "name")
			w[s+4+w.u32(s)] = 'x'
		}, "is not NUL-terminated"},
		{"tensor shape misaligned", fc, func(w fbw) {
			tv := w.ref(t, w.subgraph0(t), vtSubGraph, "tensors")
			p := w.field(t, w.at(tv, 0), vtTensor, "shape")
			w.put32(p, uint32(w.u32(p)+2))
		}, `tensor 0 "x": shape vector at`},
		{"operator inputs past end", fc, func(w fbw) {
			ov := w.ref(t, w.subgraph0(t), vtSubGraph, "operators")
			p := w.field(t, w.at(ov, 0), vtOperator, "inputs")
			w.put32(p, uint32(len(w)-p+8))
		}, "subgraph 0 \"main\" operator 0: inputs offset at"},
		{"builtin options table broken", fc, func(w fbw) {
			ov := w.ref(t, w.subgraph0(t), vtSubGraph, "operators")
			o := w.ref(t, w.at(ov, 0), vtOperator, "builtin_options")
			w.put32(o, 0x40000000)
		}, "operator 0: builtin_options(FullyConnectedOptions) table at"},
		{"builtin options field outside object", func() []byte { return buildFCModel(t, fcModel{keepNumDims: true}) }, func(w fbw) {
			ov := w.ref(t, w.subgraph0(t), vtSubGraph, "operators")
			o := w.ref(t, w.at(ov, 0), vtOperator, "builtin_options")
			w.put16(w.vtable(o)+slotOf(t, vtFullyConnectedOptions, "keep_num_dims"), 0xfff0)
		}, "builtin_options(FullyConnectedOptions).keep_num_dims field at +65520"},
		{"builtin options type of another table", fc, func(w fbw) {
			ov := w.ref(t, w.subgraph0(t), vtSubGraph, "operators")
			w[w.field(t, w.at(ov, 0), vtOperator, "builtin_options_type")] = byte(schema.BuiltinOptionsConv2DOptions)
		}, "builtin options are Conv2DOptions; want FullyConnectedOptions"},
		{"tensor buffer index 2^31", fc, func(w fbw) {
			tv := w.ref(t, w.subgraph0(t), vtSubGraph, "tensors")
			w.put32(w.field(t, w.at(tv, 1), vtTensor, "buffer"), 0x80000000)
		}, "buffer 2147483648; the model has 3"},
		{"buffer data length huge", fc, func(w fbw) {
			bv := w.ref(t, w.root(), vtModel, "buffers")
			w.put32(w.ref(t, w.at(bv, 1), vtBuffer, "data"), 0xfffffff0)
		}, "buffer 1: data vector length 4294967280 exceeds the buffer"},
		{"quantization scale length huge", int8Model, func(w fbw) {
			tv := w.ref(t, w.subgraph0(t), vtSubGraph, "tensors")
			q := w.ref(t, w.at(tv, 0), vtTensor, "quantization")
			w.put32(w.ref(t, q, vtQuantizationParameters, "scale"), 4000)
		}, `subgraph 0 "main" tensor 0 "serving_default_dense_input:0": quantization.scale vector length 4000 exceeds the buffer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.name, "2^31") {
			}
			data := tt.model()
			tt.patch(fbw(data))
			m, err := Load(data)
			if err == nil {
				// Options are decoded when the kernels are prepared.
				_, err = NewInterpreter(m, nil)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v; want an error containing %q", err, tt.want)
			}
			checkLoadErr(t, tt.name, err)
			t.Log(err)
		})
	}
}

// TestVerifyLimits checks the bounds on work: a vector of a million and one
// references to one table, and nesting deeper than the limit.
func TestVerifyLimits(t *testing.T) {
	b := flatbuffers.NewBuilder(5 << 20)
	schema.BufferStart(b)
	buf := schema.BufferEnd(b)
	n := verifyMaxObjects + 1
	schema.ModelStartBuffersVector(b, n)
	for i := 0; i < n; i++ {
		b.PrependUOffsetT(buf)
	}
	bufs := b.EndVector(n)
	schema.ModelStart(b)
	schema.ModelAddVersion(b, 3)
	schema.ModelAddBuffers(b, bufs)
	b.FinishWithFileIdentifier(schema.ModelEnd(b), []byte("TFL3"))
	_, err := Load(b.FinishedBytes())
	if want := "more than 1000000 tables and strings"; err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrMalformed) {
		t.Errorf("Load(%d buffers) = %v; want ErrMalformed containing %q", n, err, want)
	}

	// The schema is not recursive, so depth is bounded by it; check the
	// guard directly.
	data := buildFCModel(t, fcModel{})
	v := &verifier{buf: data, n: int64(len(data)), objects: verifyMaxObjects, depth: verifyMaxDepth}
	if err := v.table(verifyRoot, int64(fbw(data).root())); err == nil || !strings.Contains(err.Error(), "nested more than 64 deep") {
		t.Errorf("verify at depth %d = %v; want a nesting error", verifyMaxDepth, err)
	}
}

// TestVerifySpecsMatchAccessors checks the generated layouts against the
// accessors flatc generated in package schema: every field an accessor
// reads has a spec at the same vtable slot with the same kind and size.
func TestVerifySpecsMatchAccessors(t *testing.T) {
	files, err := filepath.Glob("internal/schema/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema sources (%v)", err)
	}
	method := regexp.MustCompile(`(?s)\nfunc \(rcv \*(\w+)\) (\w+)\([^)]*\) [^{]*\{\n\to := flatbuffers\.UOffsetT\(rcv\._tab\.Offset\((\d+)\)\)\n(.*?)\n}\n`)
	scalarGet := regexp.MustCompile(`rcv\._tab\.Get(\w+)\(o \+ rcv\._tab\.Pos\)`)
	vecGet := regexp.MustCompile(`rcv\._tab\.Get(\w+)\(a \+ flatbuffers\.UOffsetT\(j\*(\d+)\)\)`)
	sizes := map[string]uint8{"Bool": 1, "Byte": 1, "Int8": 1, "Uint8": 1, "Int16": 2, "Uint16": 2, "Int32": 4, "Uint32": 4, "Float32": 4, "Int64": 8, "Uint64": 8, "Float64": 8}
	tableIDs := map[string]vTableID{}
	for i := range vTables {
		tableIDs[vTables[i].name] = vTableID(i)
	}
	type key struct {
		table string
		slot  uint16
	}
	seen := map[key]bool{}
	checked := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range method.FindAllStringSubmatch(string(src), -1) {
			tbl, name, body := m[1], m[2], m[4]
			if strings.HasPrefix(name, "Mutate") || strings.Contains(body, "rcv._tab.VectorLen(o)") || strings.HasSuffix(name, "Bytes") {
				continue
			}
			slot64, _ := strconv.ParseUint(m[3], 10, 16)
			slot := uint16(slot64)
			id, ok := tableIDs[tbl]
			if !ok {
				t.Errorf("accessor %s.%s: table %s has no spec", tbl, name, tbl)
				continue
			}
			var kind vKind
			var size uint8
			switch {
			case strings.Contains(body, "rcv._tab.Union("):
				kind, size = vUnion, 4
			case strings.Contains(body, "rcv._tab.Vector(o)") && strings.Contains(body, "Indirect(x)"):
				kind, size = vVecTable, 4
			case strings.Contains(body, "rcv._tab.Vector(o)") && strings.Contains(body, "ByteVector(a + "):
				kind, size = vVecString, 4
			case strings.Contains(body, "rcv._tab.Vector(o)"):
				g := vecGet.FindStringSubmatch(body)
				if g == nil {
					t.Errorf("accessor %s.%s: unrecognised vector body", tbl, name)
					continue
				}
				kind, size = vVecScalar, sizes[g[1]]
			case strings.Contains(body, "rcv._tab.Indirect(o + rcv._tab.Pos)"):
				kind, size = vTable, 4
			case strings.Contains(body, "rcv._tab.ByteVector(o + rcv._tab.Pos)"):
				kind, size = vString, 4
			default:
				g := scalarGet.FindStringSubmatch(body)
				if g == nil {
					t.Errorf("accessor %s.%s: unrecognised body", tbl, name)
					continue
				}
				kind, size = vScalar, sizes[g[1]]
			}
			var spec *vField
			for i := range vTables[id].fields {
				if vTables[id].fields[i].slot == slot {
					spec = &vTables[id].fields[i]
				}
			}
			if spec == nil {
				t.Errorf("accessor %s.%s reads slot %d; no spec covers it", tbl, name, slot)
				continue
			}
			if spec.kind != kind || spec.size != size {
				t.Errorf("accessor %s.%s (slot %d) reads kind %d size %d; spec %s has kind %d size %d", tbl, name, slot, kind, size, spec.name, spec.kind, spec.size)
			}
			seen[key{tbl, slot}] = true
			checked++
		}
	}
	for i := range vTables {
		for _, f := range vTables[i].fields {
			if !seen[key{vTables[i].name, f.slot}] {
				t.Errorf("spec %s.%s (slot %d) has no accessor", vTables[i].name, f.name, f.slot)
			}
		}
	}
	t.Logf("%d accessors match their specs", checked)
	if checked == 0 {
		t.Error("no accessor matched; the pattern is stale")
	}
}

// fcModel describes the tiny FULLY_CONNECTED model buildFCModel writes:
// x float32[1,2] · w[3,2]ᵀ + b[3] -> y float32[1,3].
type fcModel struct {
	keepNumDims bool
	xShape      []int32 // default [1, 2]
	wShape      []int32 // default [3, 2]; weights are 1, 2, 3...
}

func buildFCModel(t testing.TB, p fcModel) []byte {
	t.Helper()
	if p.xShape == nil {
		p.xShape = []int32{1, 2}
	}
	if p.wShape == nil {
		p.wShape = []int32{3, 2}
	}
	units := int(p.wShape[0])
	wVals := make([]float32, units*int(p.wShape[1]))
	for i := range wVals {
		wVals[i] = float32(i + 1)
	}
	bVals := []float32{0.5, -0.5, 1}
	for len(bVals) < units {
		bVals = append(bVals, 0)
	}
	b := flatbuffers.NewBuilder(1024)
	f32 := func(vs ...float32) flatbuffers.UOffsetT {
		raw := make([]byte, 4*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		b.StartVector(1, len(raw), 16)
		for i := len(raw) - 1; i >= 0; i-- {
			b.PrependByte(raw[i])
		}
		return b.EndVector(len(raw))
	}
	ints := func(vs ...int32) flatbuffers.UOffsetT {
		b.StartVector(4, len(vs), 4)
		for i := len(vs) - 1; i >= 0; i-- {
			b.PrependInt32(vs[i])
		}
		return b.EndVector(len(vs))
	}
	offsets := func(start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT, offs ...flatbuffers.UOffsetT) flatbuffers.UOffsetT {
		start(b, len(offs))
		for i := len(offs) - 1; i >= 0; i-- {
			b.PrependUOffsetT(offs[i])
		}
		return b.EndVector(len(offs))
	}

	// Buffers: 0 empty (the sentinel), 1 weights, 2 bias.
	wData, bData := f32(wVals...), f32(bVals[:units]...)
	var bufs []flatbuffers.UOffsetT
	for _, d := range []flatbuffers.UOffsetT{0, wData, bData} {
		schema.BufferStart(b)
		if d != 0 {
			schema.BufferAddData(b, d)
		}
		bufs = append(bufs, schema.BufferEnd(b))
	}

	type tdef struct {
		name  string
		shape []int32
		buf   uint32
	}
	var tensors []flatbuffers.UOffsetT
	for _, td := range []tdef{{"x", p.xShape, 0}, {"w", p.wShape, 1}, {"b", []int32{int32(units)}, 2}, {"y", []int32{1, int32(units)}, 0}} {
		name := b.CreateString(td.name)
		shape := ints(td.shape...)
		schema.TensorStart(b)
		schema.TensorAddShape(b, shape)
		schema.TensorAddType(b, schema.TensorTypeFLOAT32)
		schema.TensorAddBuffer(b, td.buf)
		schema.TensorAddName(b, name)
		tensors = append(tensors, schema.TensorEnd(b))
	}

	schema.FullyConnectedOptionsStart(b)
	schema.FullyConnectedOptionsAddFusedActivationFunction(b, schema.ActivationFunctionTypeNONE)
	schema.FullyConnectedOptionsAddKeepNumDims(b, p.keepNumDims)
	opts := schema.FullyConnectedOptionsEnd(b)
	in, out := ints(0, 1, 2), ints(3)
	schema.OperatorStart(b)
	schema.OperatorAddOpcodeIndex(b, 0)
	schema.OperatorAddInputs(b, in)
	schema.OperatorAddOutputs(b, out)
	schema.OperatorAddBuiltinOptionsType(b, schema.BuiltinOptionsFullyConnectedOptions)
	schema.OperatorAddBuiltinOptions(b, opts)
	op := schema.OperatorEnd(b)

	tv := offsets(schema.SubGraphStartTensorsVector, tensors...)
	sin, sout := ints(0), ints(3)
	ov := offsets(schema.SubGraphStartOperatorsVector, op)
	sgName := b.CreateString("main")
	schema.SubGraphStart(b)
	schema.SubGraphAddTensors(b, tv)
	schema.SubGraphAddInputs(b, sin)
	schema.SubGraphAddOutputs(b, sout)
	schema.SubGraphAddOperators(b, ov)
	schema.SubGraphAddName(b, sgName)
	sg := schema.SubGraphEnd(b)

	schema.OperatorCodeStart(b)
	schema.OperatorCodeAddDeprecatedBuiltinCode(b, int8(schema.BuiltinOperatorFULLY_CONNECTED))
	schema.OperatorCodeAddBuiltinCode(b, schema.BuiltinOperatorFULLY_CONNECTED)
	schema.OperatorCodeAddVersion(b, 1)
	oc := schema.OperatorCodeEnd(b)

	ocv := offsets(schema.ModelStartOperatorCodesVector, oc)
	sgv := offsets(schema.ModelStartSubgraphsVector, sg)
	bv := offsets(schema.ModelStartBuffersVector, bufs...)
	desc := b.CreateString("fc test model")
	schema.ModelStart(b)
	schema.ModelAddVersion(b, 3)
	schema.ModelAddOperatorCodes(b, ocv)
	schema.ModelAddSubgraphs(b, sgv)
	schema.ModelAddDescription(b, desc)
	schema.ModelAddBuffers(b, bv)
	b.FinishWithFileIdentifier(schema.ModelEnd(b), []byte("TFL3"))
	return append([]byte(nil), b.FinishedBytes()...)
}

// TestBuildFCModel checks the test model itself against hand arithmetic:
// y = [1*1+2*2+0.5, 3*1+4*2-0.5, 5*1+6*2+1] = [5.5, 10.5, 18] for x = [1, 2].
func TestBuildFCModel(t *testing.T) {
	m, err := Load(buildFCModel(t, fcModel{}))
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(it.Input(0).Float32s(), []float32{1, 2})
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	want := []float32{5.5, 10.5, 18}
	for i, got := range it.Output(0).Float32s() {
		if got != want[i] {
			t.Errorf("FC output[%d] = %g; want %g", i, got, want[i])
		}
	}
}

// TestVerifyMisalignedInt64Vector loads a model whose zero-point vector
// (int64 elements) starts 4 bytes off an 8-byte boundary, as Ultralytics'
// int8 exports are written: FlatBuffers aligns only the length prefix, the
// official runtime loads such files, and the zero point must read as
// written.
func TestVerifyMisalignedInt64Vector(t *testing.T) {
	w := fbw(readModel(t, "hello_world_int8.tflite"))
	tv := w.ref(t, w.subgraph0(t), vtSubGraph, "tensors")
	q := w.ref(t, w.at(tv, 0), vtTensor, "quantization")
	p := w.field(t, q, vtQuantizationParameters, "zero_point")
	old := p + w.u32(p)
	if w.u32(old) != 1 {
		t.Fatalf("tensor 0 has %d zero points; want 1", w.u32(old))
	}
	var zp int32 = -37 // in int8's range, unlike the file's own zero point
	for len(w)%8 != 0 {
		w = append(w, 0)
	}
	vec := len(w) // 8-aligned, so its element at vec+4 is not
	w = binary.LittleEndian.AppendUint32(w, 1)
	w = binary.LittleEndian.AppendUint64(w, uint64(int64(zp)))
	w.put32(p, uint32(vec-p))
	m, err := Load(w)
	if err != nil {
		t.Fatalf("Load = %v; want the model to load", err)
	}
	sg := m.Subgraphs[0]
	got := sg.Tensors[0].Quant
	if got == nil || len(got.ZeroPoint) != 1 || got.ZeroPoint[0] != zp {
		t.Fatalf("tensor 0 quantization = %+v; want zero point %d", got, zp)
	}
}
