package tflite

// Generators for TestDifferential: comparisons, LOGICAL_AND/OR/NOT,
// SELECT and SELECT_V2, every type TFLite's kernels take.

import (
	"math/rand/v2"

	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

func init() {
	ordering := []tensor.DType{tensor.Float32, tensor.Int32, tensor.Int64, tensor.Int8, tensor.UInt8, tensor.Int16}
	equality := []tensor.DType{tensor.Float32, tensor.Int32, tensor.Int64, tensor.Int8, tensor.UInt8, tensor.Int16, tensor.Bool}
	for _, op := range []schema.BuiltinOperator{schema.BuiltinOperatorEQUAL, schema.BuiltinOperatorNOT_EQUAL} {
		for _, dt := range equality {
			addCompareGen(op, dt)
		}
	}
	for _, op := range []schema.BuiltinOperator{schema.BuiltinOperatorLESS, schema.BuiltinOperatorLESS_EQUAL,
		schema.BuiltinOperatorGREATER, schema.BuiltinOperatorGREATER_EQUAL} {
		for _, dt := range ordering {
			addCompareGen(op, dt)
		}
	}
	addDiffGen("LOGICAL_AND/bool", genLogical(schema.BuiltinOperatorLOGICAL_AND))
	addDiffGen("LOGICAL_OR/bool", genLogical(schema.BuiltinOperatorLOGICAL_OR))
	addDiffGen("LOGICAL_NOT/bool", genLogical(schema.BuiltinOperatorLOGICAL_NOT))
	for _, dt := range moverTypes {
		addMoverGen("SELECT/"+dt.String(), genSelect(true, dt))
		addMoverGen("SELECT_V2/"+dt.String(), genSelect(false, dt))
	}
	newOps = append(newOps, "EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL",
		"LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT", "SELECT", "SELECT_V2")
}

// addCompareGen registers a comparison's generator; the quantized ones
// (scaled in fixed point) keep the default number of cases.
func addCompareGen(op schema.BuiltinOperator, dt tensor.DType) {
	name := op.String() + "/" + dt.String()
	if dt == tensor.Int8 || dt == tensor.UInt8 {
		addDiffGen(name, genCompare(op, dt))
		return
	}
	addMoverGen(name, genCompare(op, dt))
}

// genCompare: int8/uint8 (and int16 for EQUAL/NOT_EQUAL) are quantized
// with scales below 1, sharing the first operand's parameters half of the
// time; the second operand often repeats the first's values, so that ties
// occur.
func genCompare(op schema.BuiltinOperator, dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		aShape, bShape, outShape := diffBroadcastShapes(r)
		for len(aShape) > 4 || len(bShape) > 4 {
			aShape, bShape, outShape = diffBroadcastShapes(r)
		}
		eq := op == schema.BuiltinOperatorEQUAL || op == schema.BuiltinOperatorNOT_EQUAL
		var aQ, bQ *tensor.Quant
		if dt == tensor.Int8 || dt == tensor.UInt8 || dt == tensor.Int16 && eq {
			aQ = diffQuant(r, dt, 0.001, 0.5)
			bQ = aQ
			if r.IntN(2) == 0 {
				bQ = diffQuant(r, dt, 0.001, 0.5)
			}
		}
		na, nb := tensor.NumElements(aShape), tensor.NumElements(bShape)
		aData, bData := diffTensorBytes(r, dt, na), diffTensorBytes(r, dt, nb)
		if r.IntN(2) == 0 {
			es := max(dt.Size(), 1)
			for i := 0; i < nb; i++ {
				if r.IntN(2) == 0 {
					j := r.IntN(na)
					copy(bData[i*es:(i+1)*es], aData[j*es:(j+1)*es])
				}
			}
		}
		version := 1
		switch {
		case dt == tensor.Int8:
			version = 2
		case dt == tensor.Int16 && op == schema.BuiltinOperatorEQUAL:
			version = 5
		case dt == tensor.Int16 && (op == schema.BuiltinOperatorNOT_EQUAL):
			version = 4
		case dt == tensor.Int16 && (op == schema.BuiltinOperatorLESS || op == schema.BuiltinOperatorGREATER_EQUAL):
			version = 3
		}
		b := tflitetest.NewBuilder()
		x := b.Tensor("a", dt, aShape, aQ, nil)
		y := b.Tensor("b", dt, bShape, bQ, nil)
		out := b.Tensor("out", tensor.Bool, outShape, nil, nil)
		b.Op(op, version, []int{x, y}, []int{out}, nil)
		m, err := shapeGenFinish(b, []int{x, y}, []int{out})
		return m, [][]byte{aData, bData}, err
	}
}

func genLogical(op schema.BuiltinOperator) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		aShape, bShape, outShape := diffBroadcastShapes(r)
		b := tflitetest.NewBuilder()
		x := b.Tensor("a", tensor.Bool, aShape, nil, nil)
		data := [][]byte{diffTensorBytes(r, tensor.Bool, tensor.NumElements(aShape))}
		ins := []int{x}
		if op == schema.BuiltinOperatorLOGICAL_NOT {
			outShape = aShape
		} else {
			ins = append(ins, b.Tensor("b", tensor.Bool, bShape, nil, nil))
			data = append(data, diffTensorBytes(r, tensor.Bool, tensor.NumElements(bShape)))
		}
		out := b.Tensor("out", tensor.Bool, outShape, nil, nil)
		b.Op(op, 1, ins, []int{out}, nil)
		m, err := shapeGenFinish(b, ins, []int{out})
		return m, data, err
	}
}

// genSelect: SELECT with a condition of the inputs' shape, a scalar or a
// vector over the first dimension; SELECT_V2 with three shapes that
// broadcast together.
func genSelect(v1 bool, dt tensor.DType) diffGen {
	return func(r *rand.Rand) ([]byte, [][]byte, error) {
		var cShape, xShape, yShape, outShape []int
		if v1 {
			xShape = diffShape(r, diffInt(r, 1, 4), 1, 5)
			yShape, outShape = xShape, xShape
			switch r.IntN(3) {
			case 0:
				cShape = xShape
			case 1:
				cShape = []int{}
			default:
				cShape = []int{xShape[0]}
			}
		} else {
			var s []int
			xShape, yShape, s = diffBroadcastShapes(r)
			cShape = append([]int(nil), s[diffInt(r, 0, len(s)-1):]...)
			for i := range cShape {
				if r.IntN(3) == 0 {
					cShape[i] = 1
				}
			}
			outShape = s
		}
		q := moverQuant(r, dt)
		b := tflitetest.NewBuilder()
		c := b.Tensor("cond", tensor.Bool, cShape, nil, nil)
		x := b.Tensor("x", dt, xShape, q, nil)
		y := b.Tensor("y", dt, yShape, q, nil)
		out := b.Tensor("out", dt, outShape, q, nil)
		op := schema.BuiltinOperatorSELECT_V2
		if v1 {
			op = schema.BuiltinOperatorSELECT
		}
		b.Op(op, 1, []int{c, x, y}, []int{out}, nil)
		m, err := shapeGenFinish(b, []int{c, x, y}, []int{out})
		return m, [][]byte{diffTensorBytes(r, tensor.Bool, tensor.NumElements(cShape)),
			diffTensorBytes(r, dt, tensor.NumElements(xShape)), diffTensorBytes(r, dt, tensor.NumElements(yShape))}, err
	}
}
