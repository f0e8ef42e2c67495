package tflite

import (
	"cmp"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// docs/OPS.md is generated from the registry and the differential
// generators:
//
//	make ops        (go test ./runtime/tflite -run TestOpsTable -update-ops)
//
// TestOpsTable fails when the file and the registry disagree (an operator
// or a type added without regenerating it).
var updateOps = flag.Bool("update-ops", false, "rewrite docs/OPS.md from the operator registry")

// tfliteCPUOps are the builtin operators of TFLite's BuiltinOpResolver, the
// CPU kernels of the official runtime (LiteRT tflite/core/kernels/register.cc,
// AddBuiltin, at the commit of @litertjs/core 2.5.3, the oracle's runtime).
var tfliteCPUOps = strings.Fields(`ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE ATAN2 AVERAGE_POOL_2D
BATCH_MATMUL BATCH_TO_SPACE_ND BIDIRECTIONAL_SEQUENCE_LSTM BIDIRECTIONAL_SEQUENCE_RNN BITCAST
BITWISE_XOR BROADCAST_ARGS BROADCAST_TO BUCKETIZE CALL_ONCE CAST CEIL COMPLEX_ABS CONCATENATION
CONV_2D CONV_3D CONV_3D_TRANSPOSE COS CUMSUM DENSIFY DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE
DILATE DIV DYNAMIC_UPDATE_SLICE ELU EMBEDDING_LOOKUP EMBEDDING_LOOKUP_SPARSE EQUAL EXP EXPAND_DIMS
FAKE_QUANT FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GELU GREATER
GREATER_EQUAL HARD_SWISH HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_LOOKUP HASHTABLE_SIZE
IF IMAG L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOCAL_RESPONSE_NORMALIZATION LOG
LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX LSH_PROJECTION LSTM MATRIX_DIAG
MATRIX_SET_DIAG MAXIMUM MAX_POOL_2D MEAN MINIMUM MIRROR_PAD MUL MULTINOMIAL NEG
NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 NOT_EQUAL ONE_HOT PACK PAD PADV2 POW PRELU QUANTIZE
RANDOM_STANDARD_NORMAL RANDOM_UNIFORM RANGE RANK READ_VARIABLE REAL REDUCE_ALL REDUCE_ANY
REDUCE_MAX REDUCE_MIN REDUCE_PROD REDUCE_WINDOW RELU RELU6 RELU_0_TO_1 RELU_N1_TO_1 RESHAPE
RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR REVERSE_SEQUENCE REVERSE_V2 RFFT2D RIGHT_SHIFT RNN ROUND
RSQRT SCATTER_ND SEGMENT_SUM SELECT SELECT_V2 SHAPE SIGN SIN SKIP_GRAM SLICE SOFTMAX
SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPARSE_TO_DENSE SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE
SQUEEZE STABLEHLO_ADD STABLEHLO_AND STABLEHLO_CASE STABLEHLO_COMPOSITE STABLEHLO_GATHER
STABLEHLO_MAXIMUM STABLEHLO_MINIMUM STABLEHLO_MULTIPLY STABLEHLO_PAD STABLEHLO_REDUCE_WINDOW
STABLEHLO_RNG_BIT_GENERATOR STABLEHLO_SCATTER STABLEHLO_SHIFT_LEFT STRIDED_SLICE SUB SUM SVDF
TANH TILE TOPK_V2 TRANSPOSE TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNIDIRECTIONAL_SEQUENCE_RNN
UNIQUE UNPACK UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_MIN UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_SUM
VAR_HANDLE WHERE WHILE ZEROS_LIKE`)

// opsTableCases is how many cases of each generator are prepared to find
// the types and arithmetics an operator takes.
const opsTableCases = 4

// kindInfo is what the generators found about one operand kind of an
// operator: in which arithmetics an interpreter prepares it (litert,
// reference), in which the runtime refuses it as unsupported, and
// whether the oracle checks it (or only TFLite's C library (variable tensors, which the
// oracle cannot run).
type kindInfo struct {
	runs, lacks [2]bool
	oracle      bool
}

// opTypes collects, per operator name, the operand kinds of the
// generated models.
type opTypes map[string]map[string]kindInfo

// kindInput is the input that carries the data of the operators whose
// first input is an axis, a shape, indices or a condition.
var kindInput = map[schema.BuiltinOperator]int{
	schema.BuiltinOperatorSPLIT:            1,
	schema.BuiltinOperatorTRANSPOSE_CONV:   2,
	schema.BuiltinOperatorEMBEDDING_LOOKUP: 1,
	schema.BuiltinOperatorFILL:             1,
	schema.BuiltinOperatorONE_HOT:          2,
	schema.BuiltinOperatorSCATTER_ND:       1,
	schema.BuiltinOperatorSELECT:           1,
	schema.BuiltinOperatorSELECT_V2:        1,
}

// opKind names the operand types of an operator: the type of its data
// input, "in→out" when the output's differs, "hybrid w" for float
// activations with constant w weights.
func opKind(sg *Subgraph, op *Operator, code schema.BuiltinOperator) (string, bool) {
	d := kindInput[code]
	if len(op.Inputs) <= d || op.Inputs[d] < 0 {
		return "", false
	}
	in := sg.Tensors[op.Inputs[d]].Type
	if d == 0 && len(op.Inputs) > 1 && op.Inputs[1] >= 0 {
		if w := &sg.Tensors[op.Inputs[1]]; in == tensor.Float32 && w.Data != nil && (w.Type == tensor.Int8 || w.Type == tensor.UInt8) {
			return "hybrid " + w.Type.String(), true
		}
	}
	if len(op.Outputs) > 0 && op.Outputs[0] >= 0 {
		if out := sg.Tensors[op.Outputs[0]].Type; out != in {
			return in.String() + "→" + out.String(), true
		}
	}
	return in.String(), true
}

// nameForTable is an operator's name in the table: the builtin's, or the
// custom code.
func (c opcode) nameForTable() string {
	if c.builtin == schema.BuiltinOperatorCUSTOM {
		return c.custom
	}
	return c.builtin.String()
}

// add records every operator of model's subgraph 0 (the generator's
// operator and the ones around it, all compared with the official
// runtime through the outputs) in both arithmetics.
func (types opTypes) add(t *testing.T, gen string, model []byte, capi bool) {
	m, err := Decode(model)
	if err != nil {
		t.Fatalf("generator %s: %v", gen, err)
	}
	var problems [2]map[int]Problem
	for j, a := range []Arithmetic{LiteRT, Reference} {
		problems[j] = map[int]Problem{}
		for _, p := range m.Problems(&Options{Arithmetic: a}) {
			if p.Subgraph != 0 || p.Operator < 0 {
				continue
			}
			if !p.Unsupported {
				t.Fatalf("generator %s, %s arithmetic: %v", gen, a, p.Err)
			}
			problems[j][p.Operator] = p
		}
	}
	sg := m.Subgraphs[0]
	for i := range sg.Operators {
		op := &sg.Operators[i]
		c := m.opcodes[op.Opcode]
		kind, ok := opKind(sg, op, c.builtin)
		if !ok {
			continue
		}
		name := c.nameForTable()
		if types[name] == nil {
			types[name] = map[string]kindInfo{}
		}
		k := types[name][kind]
		for j := range 2 {
			p, failed := problems[j][i]
			k.runs[j] = k.runs[j] || !failed
			k.lacks[j] = k.lacks[j] || failed && !p.Downstream
		}
		k.oracle = k.oracle || !capi
		types[name][kind] = k
	}
}

// capiTableGens build the models of the tests against TensorFlow Lite's
// C library (ops_lstm_test.go, ops_svdf_test.go) for the operators the
// oracle cannot run.
var capiTableGens = map[string]func(t *testing.T, r *rand.Rand) []byte{
	"UNIDIRECTIONAL_SEQUENCE_LSTM/int8": func(t *testing.T, r *rand.Rand) []byte {
		m, _ := buildLSTM(t, r, randLSTMCase(r, false), false, 1)
		return m
	},
	"UNIDIRECTIONAL_SEQUENCE_LSTM/float32": func(t *testing.T, r *rand.Rand) []byte {
		m, _ := buildLSTM(t, r, randLSTMCase(r, true), true, 1)
		return m
	},
	"UNIDIRECTIONAL_SEQUENCE_LSTM/hybrid": func(t *testing.T, r *rand.Rand) []byte {
		c := randLSTMCase(r, true)
		c.hybrid = true
		m, _ := buildLSTM(t, r, c, true, 1)
		return m
	},
	"SVDF/int8": func(t *testing.T, r *rand.Rand) []byte {
		c := svdfCase{batch: 1, nIn: 3, nUnit: 2, rank: 1, nMemory: 2, act: schema.ActivationFunctionTypeRELU}
		m, _ := buildSVDF(t, r, c, false, 1)
		return m
	},
	"SVDF/float32": func(t *testing.T, r *rand.Rand) []byte {
		c := svdfCase{batch: 1, nIn: 3, nUnit: 2, rank: 1, nMemory: 2}
		m, _ := buildSVDF(t, r, c, true, 1)
		return m
	},
	"RNN/float32": func(t *testing.T, r *rand.Rand) []byte {
		_, m, _ := buildRNN(t, r, false)
		return m
	},
	"UNIDIRECTIONAL_SEQUENCE_RNN/float32": func(t *testing.T, r *rand.Rand) []byte {
		_, m, _ := buildRNN(t, r, true)
		return m
	},
}

// collectOpTypes builds the first cases of every differential generator
// (no oracle needed) and of capiTableGens, and prepares them in both
// arithmetics.
func collectOpTypes(t *testing.T) opTypes {
	types := opTypes{}
	for _, name := range slices.Sorted(maps.Keys(diffGens)) {
		for i := range opsTableCases {
			model, _, err := runDiffGen(diffGens[name], diffRand(name, i))
			if err != nil {
				t.Fatalf("generator %s case %d: %v", name, i, err)
			}
			types.add(t, name, model, false)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(capiTableGens)) {
		types.add(t, name, capiTableGens[name](t, diffRand(name, 0)), true)
	}
	return types
}

// typesCell renders the kinds of an operator the runtime prepares,
// marking those one arithmetic refuses and those only TFLite's C library
// checks (†), and lacksCell those it refuses in both.
func typesCell(kinds map[string]kindInfo) string {
	var ks []string
	for k, i := range kinds {
		if !i.oracle {
			k += "†"
		}
		switch {
		case i.runs[0] && i.runs[1]:
			ks = append(ks, k)
		case i.runs[0]:
			ks = append(ks, k+" (litert only)")
		case i.runs[1]:
			ks = append(ks, k+" (reference only)")
		}
	}
	return sortKinds(ks)
}

func lacksCell(kinds map[string]kindInfo) string {
	var ks []string
	for k, i := range kinds {
		if !i.runs[0] && !i.runs[1] && i.lacks[0] && i.lacks[1] {
			ks = append(ks, k)
		}
	}
	return sortKinds(ks)
}

func sortKinds(ks []string) string {
	slices.SortFunc(ks, func(a, b string) int {
		return cmp.Or(cmp.Compare(kindRank(a), kindRank(b)), cmp.Compare(a, b))
	})
	return strings.Join(ks, ", ")
}

// kindRank orders kinds: float, 8-bit, 16-bit, wider integers, the rest.
func kindRank(k string) int {
	for i, p := range []string{"float32", "float16", "int8", "uint8", "int16", "int32", "int64", "bool", "complex64", "hybrid"} {
		if strings.HasPrefix(k, p) {
			return i
		}
	}
	return 99
}

// opsTable renders docs/OPS.md.
func opsTable(t *testing.T) string {
	types := collectOpTypes(t)
	cpu := map[string]bool{}
	for _, n := range tfliteCPUOps {
		cpu[n] = true
	}
	codes := make([]schema.BuiltinOperator, 0, len(schema.EnumNamesBuiltinOperator))
	for c := range schema.EnumNamesBuiltinOperator {
		if c != schema.BuiltinOperatorCUSTOM && c != schema.BuiltinOperatorDELEGATE && c != schema.BuiltinOperatorPLACEHOLDER_FOR_GREATER_OP_CODES {
			codes = append(codes, c)
		}
	}
	slices.Sort(codes)

	var rows strings.Builder
	var have, haveCPU, nCPU int
	var st kindStats
	var missingCPU []string
	for _, c := range codes {
		name := c.String()
		e, ok := builtinOps[c]
		if cpu[name] {
			nCPU++
		}
		version, cell, lacks := "—", "", ""
		if ok {
			have++
			if cpu[name] {
				haveCPU++
			}
			version = fmt.Sprint(e.maxVersion)
			cell, lacks = "(no generator)", lacksCell(types[name])
			if c := typesCell(types[name]); c != "" {
				cell = c
			}
			st.add(types[name])
		} else if cpu[name] {
			missingCPU = append(missingCPU, name)
		}
		mark := ""
		if cpu[name] {
			mark = "yes"
		}
		fmt.Fprintf(&rows, "| %d | %s | %s | %s | %s | %s |\n", int(c), name, mark, version, cell, lacks)
	}

	var custom strings.Builder
	var customNames []string
	customMu.RLock()
	for n, e := range customOps {
		if !e.user { // not those tests and examples register
			customNames = append(customNames, n)
		}
	}
	customMu.RUnlock()
	slices.Sort(customNames)
	for _, n := range customNames {
		cell := "(no generator)"
		if c := typesCell(types[n]); c != "" {
			cell = c
		}
		st.add(types[n])
		fmt.Fprintf(&custom, "| %s | %s | %s |\n", n, cell, lacksCell(types[n]))
	}

	var b strings.Builder
	b.WriteString(`# Operators

Generated by ` + "`make ops`" + ` from the operator registry of ` + "`runtime/tflite`" + ` and the models
of its differential generators; ` + "`go test ./runtime/tflite -run TestOpsTable`" + ` fails when
this table and the registry disagree. Do not edit the generated part by hand.

Columns: the schema's code and name; whether TFLite's builtin CPU resolver (the
official runtime's kernels) has the operator; the highest version edged
implements (— : not implemented); the operand types edged runs, as the
generated models exercise them against the official runtime (the oracle,
TFLite in WebAssembly; † : against TensorFlow Lite's C library, for
operators with state, which the oracle cannot run) — an input type, ` + "`in→out`" + `
where the output's differs, ` + "`hybrid int8`" + ` for float activations with int8
weights; last, the types TFLite's kernels take that edged refuses ("unsupported").
Every type runs in both arithmetics (` + "`litert`" + `, the default, the official
runtime's answers; ` + "`reference`" + `, TFLite's reference kernels) unless marked.

`)
	fmt.Fprintf(&b, "Coverage: %d of the %d operators of TFLite's builtin CPU resolver (%d of the %d builtin operators of the schema), "+
		"and %d operator/type combinations, %d of them in both arithmetics; %d more combinations of implemented operators that TFLite's kernels take are not implemented.\n\n",
		haveCPU, nCPU, have, len(codes), st.runs, st.both, st.lacks)
	if len(missingCPU) > 0 {
		fmt.Fprintf(&b, "Not implemented (in TFLite's CPU resolver): %s.\n\n", strings.Join(missingCPU, ", "))
	}
	b.WriteString("| code | operator | TFLite CPU | edged version | types | unsupported types |\n|---:|---|---|---:|---|---|\n")
	b.WriteString(rows.String())
	b.WriteString("\n## Custom operators\n\nCustom codes the runtime implements (more can be added with `tflite.RegisterCustom`).\n\n" +
		"| custom code | types | unsupported types |\n|---|---|---|\n")
	b.WriteString(custom.String())
	b.WriteString("\n" + opsTableEnd + "\n")
	return b.String()
}

// kindStats counts operator/type combinations.
type kindStats struct{ runs, both, lacks int }

func (s *kindStats) add(kinds map[string]kindInfo) {
	for _, i := range kinds {
		switch {
		case i.runs[0] && i.runs[1]:
			s.runs++
			s.both++
		case i.runs[0] || i.runs[1]:
			s.runs++
		case i.lacks[0] && i.lacks[1]:
			s.lacks++
		}
	}
}

// opsTableEnd ends the generated part of docs/OPS.md; what follows it is
// written by hand and kept by make ops.
const opsTableEnd = "<!-- End of the generated part: what follows is written by hand. -->"

func TestOpsTable(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "docs", "OPS.md")
	want := opsTable(t)
	file, err := os.ReadFile(path)
	if err != nil && !(*updateOps && os.IsNotExist(err)) {
		t.Fatalf("%v: generate it with `make ops`", err)
	}
	got, tail, _ := strings.Cut(string(file), opsTableEnd+"\n")
	got += opsTableEnd + "\n"
	if *updateOps {
		if err := os.WriteFile(path, []byte(want+tail), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("docs/OPS.md disagrees with the operator registry (run `make ops`); line %d:\n  file:     %s\n  registry: %s", i+1, g, w)
			}
		}
	}
}
