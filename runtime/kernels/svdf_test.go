package kernels

import (
	"math"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// TFLite Micro's SVDF test vectors (tensorflow/lite/micro/kernels/svdf_test.cc
// @ 90b983c2, the 2x2x10 set): 2 batches, 2 inputs, 4 units of rank 2,
// memory 10, zero bias and initial state, 10 steps.
var (
	svdfInput2x2x10 = []float32{
		0.12609188, -0.46347019, 0.35867718, 0.36897406,
		0.14278367, -1.64410412, -0.57290924, 0.12729003,
		0.49837467, 0.19278903, 0.17660543, 0.52949083,
		-0.11186574, 0.13164264, -0.72674477, -0.5683046,
		-0.68892461, 0.37783599, -0.63690937, 0.44483393,
		-0.81299269, -0.86831826, -0.95760226, 1.82078898,
		-1.45006323, -0.82251364, -1.65087092, -1.89238167,
		0.03966608, -0.24936394, 2.06740379, -1.51439476,
		0.11771342, -0.23761693, 0.31088525, -1.55601168,
		-0.89477462, 1.67204106, -0.6230064, 0.29819036,
	}
	svdfFeature2x2x10 = []float32{
		-0.31930989, 0.0079667, 0.39296314, 0.37613347, 0.12416199, 0.15785322,
		0.27901134, 0.3905206, 0.21931258, -0.36137494, -0.10640851, 0.31053296,
		-0.36118156, -0.0976817, -0.36916667, 0.22197971,
	}
	svdfTime2x2x10 = []float32{
		-0.31930989, 0.37613347, 0.27901134, -0.36137494, -0.36118156, 0.22197971, 0.27557442, -0.06634006, 0.0079667, 0.12416199,
		0.3905206, -0.10640851, -0.0976817, 0.15294972, 0.39635518, -0.02702999, 0.39296314, 0.15785322, 0.21931258, 0.31053296,
		-0.36916667, 0.38031587, -0.21580373, 0.27072677, 0.23622236, 0.34936687, 0.18174365, 0.35907319, -0.17493086, 0.324846,
		-0.10781813, 0.27201805, 0.14324132, -0.23681851, -0.27115166, -0.01580888, -0.14943552, 0.15465137, 0.09784451, -0.0337657,
		-0.14884081, 0.19931212, -0.36002168, 0.34663299, -0.11405486, 0.12672701, 0.39463779, -0.07886535, -0.06384811, 0.08249187,
		-0.26816407, -0.19905911, 0.29211238, 0.31264046, -0.28664589, 0.05698794, 0.11613581, 0.14078894, 0.02187902, -0.21781836,
		-0.15567942, 0.08693647, -0.38256618, 0.36580828, -0.22922277, -0.0226903, 0.12878349, -0.28122205, -0.10850525, -0.11955214,
		0.27179423, -0.04710215, 0.31069002, 0.22672787, 0.09580326, 0.08682203, 0.1258215, 0.1851041, 0.29228821, 0.12366763,
	}
	svdfGolden2x2x10 = []float32{
		-0.044205, -0.013757, 0.050369, -0.018447, 0.073010, 0.025142, -0.021154, 0.013551,
		-0.209613, -0.062421, 0.150209, -0.108334, 0.028256, -0.006950, -0.030885, 0.009603,
		-0.076800, -0.037075, -0.087198, -0.155183, 0.091069, 0.098446, -0.016083, 0.106475,
		-0.082123, -0.162238, -0.084434, -0.141074, -0.029340, -0.090685, 0.053302, -0.030604,
		-0.201440, 0.088424, 0.139877, 0.012416, -0.113212, 0.103893, -0.100842, 0.122780,
		-0.166632, -0.116705, 0.175298, -0.047163, 0.313077, -0.166485, -0.285860, 0.129069,
		-0.625911, 0.046134, 0.138081, -0.129581, -0.521455, -0.061579, 0.230289, 0.114963,
		-0.216693, -0.161643, -0.179177, -0.052599, -0.213239, 0.029502, 0.260858, 0.275045,
		-0.213689, -0.323608, -0.285635, -0.317687, -0.324092, -0.317972, -0.208450, -0.462504,
		-0.255126, -0.218576, -0.041528, 0.179421, -0.440583, 0.072127, -0.284136, 0.241570,
	}
)

const (
	svdfBatch, svdfIn, svdfUnits, svdfRank, svdfMemory = 2, 2, 4, 2, 10
	svdfFilters                                        = svdfUnits * svdfRank
)

func TestSVDFFloatVectors(t *testing.T) {
	for _, arith := range []Arithmetic{Reference, LiteRT} {
		t.Run(arith.String(), func(t *testing.T) {
			x := convT("x", tensor.Float32, []int{svdfBatch, svdfIn}, nil, make([]float32, svdfBatch*svdfIn))
			wf := constT("wf", tensor.Float32, []int{svdfFilters, svdfIn}, nil, svdfFeature2x2x10)
			wt := constT("wt", tensor.Float32, []int{svdfFilters, svdfMemory}, nil, svdfTime2x2x10)
			b := constT("b", tensor.Float32, []int{svdfUnits}, nil, make([]float32, svdfUnits))
			st := convT("st", tensor.Float32, []int{svdfBatch, svdfMemory * svdfFilters}, nil, make([]float32, svdfBatch*svdfMemory*svdfFilters))
			y := convT("y", tensor.Float32, []int{svdfBatch, svdfUnits}, nil, nil)
			k, err := SVDF(&Config{Arithmetic: arith}, SVDFParams{Rank: svdfRank}, x, wf, wt, b, st, y)
			if err != nil {
				t.Fatal(err)
			}
			n := svdfBatch * svdfIn
			for step := 0; step < 10; step++ {
				copy(x.Float32s(), svdfInput2x2x10[step*n:(step+1)*n])
				if err := k.Eval(); err != nil {
					t.Fatal(err)
				}
				checkNear(t, "output", f64s(y.Float32s()), svdfGolden2x2x10[step*svdfBatch*svdfUnits:(step+1)*svdfBatch*svdfUnits], 1e-5)
			}
			if a := testing.AllocsPerRun(5, func() { _ = k.Eval() }); a != 0 {
				t.Errorf("Eval allocates %v times", a)
			}
		})
	}
}

// TestSVDFIntVectors is svdf_test.cc's SvdfQuantized2x2Input2x4Output
// (RELU, which the integer kernels do not apply): the same data quantized
// with input scale 2.5/127, feature weights 1/127, time weights 1/max(T),
// state 1.49/max(T), output 1/127, compared with the quantized golden
// output within one unit.
func TestSVDFIntVectors(t *testing.T) {
	for _, arith := range []Arithmetic{Reference, LiteRT} {
		for _, stType := range []tensor.DType{tensor.Int16, tensor.Int8} {
			t.Run(arith.String()+"/"+stType.String(), func(t *testing.T) {
				tMax := float32(math.MaxInt16)
				if stType == tensor.Int8 {
					tMax = math.MaxInt8
				}
				inS, wfS, wtS, stS, outS := float32(2.5/127), float32(1.0/127), 1/tMax, 1.49/tMax, float32(1.0/127)
				x := convT("x", tensor.Int8, []int{svdfBatch, svdfIn}, convQ(inS, 0), make([]int8, svdfBatch*svdfIn))
				wf := constT("wf", tensor.Int8, []int{svdfFilters, svdfIn}, convQ(wfS, 0), quantizeTo[int8](svdfFeature2x2x10, wfS, 0, -128, 127))
				var wt, st *tensor.Tensor
				if stType == tensor.Int16 {
					wt = constT("wt", tensor.Int16, []int{svdfFilters, svdfMemory}, convQ(wtS, 0), quantizeTo[int16](svdfTime2x2x10, wtS, 0, -32768, 32767))
					st = convT("st", tensor.Int16, []int{svdfBatch, svdfMemory * svdfFilters}, convQ(stS, 0), make([]int16, svdfBatch*svdfMemory*svdfFilters))
				} else {
					wt = constT("wt", tensor.Int8, []int{svdfFilters, svdfMemory}, convQ(wtS, 0), quantizeTo[int8](svdfTime2x2x10, wtS, 0, -128, 127))
					st = convT("st", tensor.Int8, []int{svdfBatch, svdfMemory * svdfFilters}, convQ(stS, 0), make([]int8, svdfBatch*svdfMemory*svdfFilters))
				}
				b := constT("b", tensor.Int32, []int{svdfUnits}, convQ(stS*wtS, 0), make([]int32, svdfUnits))
				y := convT("y", tensor.Int8, []int{svdfBatch, svdfUnits}, convQ(outS, 0), nil)
				k, err := SVDF(&Config{Arithmetic: arith}, SVDFParams{Rank: svdfRank, Activation: ActRelu}, x, wf, wt, b, st, y)
				if err != nil {
					t.Fatal(err)
				}
				n, m := svdfBatch*svdfIn, svdfBatch*svdfUnits
				xq := quantizeTo[int8](svdfInput2x2x10, inS, 0, -128, 127)
				want := quantizeTo[int8](svdfGolden2x2x10, outS, 0, -128, 127)
				for step := 0; step < 10; step++ {
					copy(x.Int8s(), xq[step*n:(step+1)*n])
					if err := k.Eval(); err != nil {
						t.Fatal(err)
					}
					for i, v := range y.Int8s() {
						if w := want[step*m+i]; math.Abs(float64(v)-float64(w)) > 1 {
							t.Errorf("step %d output %d = %d; want %d ±1", step, i, v, w)
						}
					}
				}
			})
		}
	}
}
