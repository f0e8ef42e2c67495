package tflite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// Bounds that keep every execution well under the fuzzer's hang timeout
// (a slow input is reported as a hung worker): models whose declared
// activations exceed fuzzMaxDeclared are only loaded, and models larger
// than fuzzMaxInvokeFile (big weights, long invocations) or whose planned
// arena exceeds fuzzMaxArena, or that need more than fuzzMaxMACs
// multiply-accumulates, are prepared but not invoked. Kernels may
// compute outputs larger than the file declares, so the arena is checked
// after planning too.
const (
	fuzzMaxDeclared   = 1 << 20
	fuzzMaxArena      = 8 << 20
	fuzzMaxInvokeFile = 1 << 20
	fuzzMaxMACs       = 50e6
)

// FuzzLoad feeds arbitrary bytes to Load and, when they load, prepares and
// runs the model on zeroed inputs. Nothing may panic, and no error may come
// from a recover backstop ("internal error").
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(modelsDir, "*.tflite"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(buildFCModel(f, fcModel{}))
	f.Add(buildFCModel(f, fcModel{keepNumDims: true}))
	f.Add(buildFCModel(f, fcModel{xShape: []int32{2, 1, 2}}))
	f.Add(buildFCModel(f, fcModel{keepNumDims: true, xShape: []int32{1, 1}, wShape: []int32{3, 1}}))
	f.Add([]byte("\x08\x00\x00\x00TFL3\x04\x00\x04\x00\x04\x00\x00\x00"))
	addNewOpSeeds(f)
	// Sparse constants, hybrid kernels, composites (several subgraphs) and
	// stateful operators.
	for _, g := range []string{"DENSIFY/float32", "DENSIFY/int8", "FULLY_CONNECTED/sparse_weights_float32",
		"FULLY_CONNECTED/hybrid_int8", "CONV_2D/hybrid_int8_per_channel", "DEPTHWISE_CONV_2D/hybrid_int8_per_channel",
		"STABLEHLO_COMPOSITE/float32"} {
		model, _, err := diffGens[g](diffRand(g, 0))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(model)
	}
	for _, float := range []bool{false, true} {
		r := diffRand("lstm", 0)
		model, _ := buildLSTM(f, r, randLSTMCase(r, float), float, 1)
		f.Add(model)
		model, _ = buildSVDF(f, r, svdfCase{batch: 2, nIn: 3, nUnit: 2, rank: 2, nMemory: 3, bias: true, act: schema.ActivationFunctionTypeRELU}, float, 1)
		f.Add(model)
	}
	// TRANSPOSE_CONV sized at run time: the zero output_shape the fuzzer
	// invokes with is refused at Invoke.
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Int16} {
		c, err := genTConvRunTime(diffRand("tconv_runtime", 0), dt, 1, false)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.model)
	}
	for _, g := range []string{"ADD/int16_pot", "SUB/int16_pot"} {
		model, _, err := diffGens[g](diffRand(g, 0))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(model)
	}
	hyb, _ := buildSVDF(f, diffRand("svdf", 0), svdfCase{batch: 2, nIn: 3, nUnit: 2, rank: 2, nMemory: 3, bias: true, hybrid: true, asym: true}, true, 1)
	f.Add(hyb)
	f.Fuzz(func(t *testing.T, data []byte) {
		exerciseModel(t, data)
	})
}

func exerciseModel(t *testing.T, data []byte) {
	t.Helper()
	internal := func(stage string, err error) {
		t.Helper()
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%s: %v", stage, err)
		}
	}
	m, err := Load(data)
	internal("Load", err)
	if err != nil || declaredActivationBytes(m) > fuzzMaxDeclared {
		return
	}
	it, err := NewInterpreter(m, nil)
	internal("NewInterpreter", err)
	if err != nil || it.ArenaBytes() > fuzzMaxArena || len(data) > fuzzMaxInvokeFile || it.MACs() > fuzzMaxMACs {
		return
	}
	// The planner zeroes the arena, so the inputs are zero.
	internal("Invoke", it.Invoke())
}

// declaredActivationBytes sums the sizes the file declares for the
// non-constant tensors of subgraph 0.
func declaredActivationBytes(m *Model) int64 {
	var n int64
	for _, ti := range m.Subgraphs[0].Tensors {
		if ti.Data == nil {
			n += int64(tensor.NumElements(ti.Shape)) * int64(max(ti.Type.Size(), 1))
		}
	}
	return n
}
