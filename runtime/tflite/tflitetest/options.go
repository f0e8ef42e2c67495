package tflitetest

import (
	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edged-dev/edged/runtime/flexbuf"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// RawOptions is the escape hatch for options tables without a helper:
// build calls the schema's XOptionsStart/Add.../End functions and returns
// the table's offset.
//
//	tflitetest.RawOptions(schema.BuiltinOptionsCastOptions, func(fb *flatbuffers.Builder) flatbuffers.UOffsetT {
//		schema.CastOptionsStart(fb)
//		schema.CastOptionsAddInDataType(fb, schema.TensorTypeINT8)
//		return schema.CastOptionsEnd(fb)
//	})
func RawOptions(typ schema.BuiltinOptions, build func(fb *flatbuffers.Builder) flatbuffers.UOffsetT) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		return typ, build(fb)
	}
}

// Conv2DOptions is CONV_2D's options (dilation factors of 0 are written
// as 1).
func Conv2DOptions(pad schema.Padding, strideW, strideH int, act schema.ActivationFunctionType, dilationW, dilationH int) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.Conv2DOptionsStart(fb)
		schema.Conv2DOptionsAddPadding(fb, pad)
		schema.Conv2DOptionsAddStrideW(fb, int32(strideW))
		schema.Conv2DOptionsAddStrideH(fb, int32(strideH))
		schema.Conv2DOptionsAddFusedActivationFunction(fb, act)
		schema.Conv2DOptionsAddDilationWFactor(fb, int32(max(dilationW, 1)))
		schema.Conv2DOptionsAddDilationHFactor(fb, int32(max(dilationH, 1)))
		return schema.BuiltinOptionsConv2DOptions, schema.Conv2DOptionsEnd(fb)
	}
}

// DepthwiseConv2DOptions is DEPTHWISE_CONV_2D's options.
func DepthwiseConv2DOptions(pad schema.Padding, strideW, strideH, depthMultiplier int, act schema.ActivationFunctionType, dilationW, dilationH int) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.DepthwiseConv2DOptionsStart(fb)
		schema.DepthwiseConv2DOptionsAddPadding(fb, pad)
		schema.DepthwiseConv2DOptionsAddStrideW(fb, int32(strideW))
		schema.DepthwiseConv2DOptionsAddStrideH(fb, int32(strideH))
		schema.DepthwiseConv2DOptionsAddDepthMultiplier(fb, int32(depthMultiplier))
		schema.DepthwiseConv2DOptionsAddFusedActivationFunction(fb, act)
		schema.DepthwiseConv2DOptionsAddDilationWFactor(fb, int32(max(dilationW, 1)))
		schema.DepthwiseConv2DOptionsAddDilationHFactor(fb, int32(max(dilationH, 1)))
		return schema.BuiltinOptionsDepthwiseConv2DOptions, schema.DepthwiseConv2DOptionsEnd(fb)
	}
}

// TransposeConvOptions is TRANSPOSE_CONV's options.
func TransposeConvOptions(pad schema.Padding, strideW, strideH int, act schema.ActivationFunctionType) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.TransposeConvOptionsStart(fb)
		schema.TransposeConvOptionsAddPadding(fb, pad)
		schema.TransposeConvOptionsAddStrideW(fb, int32(strideW))
		schema.TransposeConvOptionsAddStrideH(fb, int32(strideH))
		schema.TransposeConvOptionsAddFusedActivationFunction(fb, act)
		return schema.BuiltinOptionsTransposeConvOptions, schema.TransposeConvOptionsEnd(fb)
	}
}

// FullyConnectedOptions is FULLY_CONNECTED's options (default weights
// format).
func FullyConnectedOptions(act schema.ActivationFunctionType, keepNumDims bool) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.FullyConnectedOptionsStart(fb)
		schema.FullyConnectedOptionsAddFusedActivationFunction(fb, act)
		schema.FullyConnectedOptionsAddKeepNumDims(fb, keepNumDims)
		return schema.BuiltinOptionsFullyConnectedOptions, schema.FullyConnectedOptionsEnd(fb)
	}
}

// Pool2DOptions is the options of AVERAGE_POOL_2D, MAX_POOL_2D and
// L2_POOL_2D.
func Pool2DOptions(pad schema.Padding, strideW, strideH, filterW, filterH int, act schema.ActivationFunctionType) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.Pool2DOptionsStart(fb)
		schema.Pool2DOptionsAddPadding(fb, pad)
		schema.Pool2DOptionsAddStrideW(fb, int32(strideW))
		schema.Pool2DOptionsAddStrideH(fb, int32(strideH))
		schema.Pool2DOptionsAddFilterWidth(fb, int32(filterW))
		schema.Pool2DOptionsAddFilterHeight(fb, int32(filterH))
		schema.Pool2DOptionsAddFusedActivationFunction(fb, act)
		return schema.BuiltinOptionsPool2DOptions, schema.Pool2DOptionsEnd(fb)
	}
}

// AddOptions is ADD's options (pot_scale_int16 left at its default, true).
func AddOptions(act schema.ActivationFunctionType) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.AddOptionsStart(fb)
		schema.AddOptionsAddFusedActivationFunction(fb, act)
		return schema.BuiltinOptionsAddOptions, schema.AddOptionsEnd(fb)
	}
}

// SubOptions is SUB's options (pot_scale_int16 left at its default).
func SubOptions(act schema.ActivationFunctionType) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.SubOptionsStart(fb)
		schema.SubOptionsAddFusedActivationFunction(fb, act)
		return schema.BuiltinOptionsSubOptions, schema.SubOptionsEnd(fb)
	}
}

// MulOptions is MUL's options.
func MulOptions(act schema.ActivationFunctionType) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.MulOptionsStart(fb)
		schema.MulOptionsAddFusedActivationFunction(fb, act)
		return schema.BuiltinOptionsMulOptions, schema.MulOptionsEnd(fb)
	}
}

// DivOptions is DIV's options.
func DivOptions(act schema.ActivationFunctionType) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.DivOptionsStart(fb)
		schema.DivOptionsAddFusedActivationFunction(fb, act)
		return schema.BuiltinOptionsDivOptions, schema.DivOptionsEnd(fb)
	}
}

// ConcatenationOptions is CONCATENATION's options.
func ConcatenationOptions(axis int, act schema.ActivationFunctionType) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.ConcatenationOptionsStart(fb)
		schema.ConcatenationOptionsAddAxis(fb, int32(axis))
		schema.ConcatenationOptionsAddFusedActivationFunction(fb, act)
		return schema.BuiltinOptionsConcatenationOptions, schema.ConcatenationOptionsEnd(fb)
	}
}

// ReshapeOptions is RESHAPE's options; a nil newShape writes the table
// without the new_shape field (the shape then comes from input 1).
func ReshapeOptions(newShape []int) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		var v flatbuffers.UOffsetT
		if newShape != nil {
			v = int32Vector(fb, newShape)
		}
		schema.ReshapeOptionsStart(fb)
		if newShape != nil {
			schema.ReshapeOptionsAddNewShape(fb, v)
		}
		return schema.BuiltinOptionsReshapeOptions, schema.ReshapeOptionsEnd(fb)
	}
}

// SoftmaxOptions is SOFTMAX's options.
func SoftmaxOptions(beta float32) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.SoftmaxOptionsStart(fb)
		schema.SoftmaxOptionsAddBeta(fb, beta)
		return schema.BuiltinOptionsSoftmaxOptions, schema.SoftmaxOptionsEnd(fb)
	}
}

// StridedSliceMasks holds STRIDED_SLICE's bit masks and offset flag.
type StridedSliceMasks struct {
	Begin, End, Ellipsis, NewAxis, ShrinkAxis int
	Offset                                    bool
}

// StridedSliceOptions is STRIDED_SLICE's options.
func StridedSliceOptions(m StridedSliceMasks) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.StridedSliceOptionsStart(fb)
		schema.StridedSliceOptionsAddBeginMask(fb, int32(m.Begin))
		schema.StridedSliceOptionsAddEndMask(fb, int32(m.End))
		schema.StridedSliceOptionsAddEllipsisMask(fb, int32(m.Ellipsis))
		schema.StridedSliceOptionsAddNewAxisMask(fb, int32(m.NewAxis))
		schema.StridedSliceOptionsAddShrinkAxisMask(fb, int32(m.ShrinkAxis))
		schema.StridedSliceOptionsAddOffset(fb, m.Offset)
		return schema.BuiltinOptionsStridedSliceOptions, schema.StridedSliceOptionsEnd(fb)
	}
}

// PadOptions is PAD's (empty) options table.
func PadOptions() Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.PadOptionsStart(fb)
		return schema.BuiltinOptionsPadOptions, schema.PadOptionsEnd(fb)
	}
}

// PadV2Options is PADV2's (empty) options table.
func PadV2Options() Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.PadV2OptionsStart(fb)
		return schema.BuiltinOptionsPadV2Options, schema.PadV2OptionsEnd(fb)
	}
}

// ReducerOptions is the options of MEAN, SUM, REDUCE_MAX, REDUCE_MIN,
// REDUCE_PROD and the other reductions.
func ReducerOptions(keepDims bool) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.ReducerOptionsStart(fb)
		schema.ReducerOptionsAddKeepDims(fb, keepDims)
		return schema.BuiltinOptionsReducerOptions, schema.ReducerOptionsEnd(fb)
	}
}

// ResizeBilinearOptions is RESIZE_BILINEAR's options.
func ResizeBilinearOptions(alignCorners, halfPixelCenters bool) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.ResizeBilinearOptionsStart(fb)
		schema.ResizeBilinearOptionsAddAlignCorners(fb, alignCorners)
		schema.ResizeBilinearOptionsAddHalfPixelCenters(fb, halfPixelCenters)
		return schema.BuiltinOptionsResizeBilinearOptions, schema.ResizeBilinearOptionsEnd(fb)
	}
}

// ResizeNearestNeighborOptions is RESIZE_NEAREST_NEIGHBOR's options.
func ResizeNearestNeighborOptions(alignCorners, halfPixelCenters bool) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.ResizeNearestNeighborOptionsStart(fb)
		schema.ResizeNearestNeighborOptionsAddAlignCorners(fb, alignCorners)
		schema.ResizeNearestNeighborOptionsAddHalfPixelCenters(fb, halfPixelCenters)
		return schema.BuiltinOptionsResizeNearestNeighborOptions, schema.ResizeNearestNeighborOptionsEnd(fb)
	}
}

// GatherOptions is GATHER's options.
func GatherOptions(axis, batchDims int) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.GatherOptionsStart(fb)
		schema.GatherOptionsAddAxis(fb, int32(axis))
		schema.GatherOptionsAddBatchDims(fb, int32(batchDims))
		return schema.BuiltinOptionsGatherOptions, schema.GatherOptionsEnd(fb)
	}
}

// SplitOptions is SPLIT's options.
func SplitOptions(numSplits int) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.SplitOptionsStart(fb)
		schema.SplitOptionsAddNumSplits(fb, int32(numSplits))
		return schema.BuiltinOptionsSplitOptions, schema.SplitOptionsEnd(fb)
	}
}

// SplitVOptions is SPLIT_V's options.
func SplitVOptions(numSplits int) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.SplitVOptionsStart(fb)
		schema.SplitVOptionsAddNumSplits(fb, int32(numSplits))
		return schema.BuiltinOptionsSplitVOptions, schema.SplitVOptionsEnd(fb)
	}
}

// PackOptions is PACK's options.
func PackOptions(valuesCount, axis int) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.PackOptionsStart(fb)
		schema.PackOptionsAddValuesCount(fb, int32(valuesCount))
		schema.PackOptionsAddAxis(fb, int32(axis))
		return schema.BuiltinOptionsPackOptions, schema.PackOptionsEnd(fb)
	}
}

// UnpackOptions is UNPACK's options.
func UnpackOptions(num, axis int) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.UnpackOptionsStart(fb)
		schema.UnpackOptionsAddNum(fb, int32(num))
		schema.UnpackOptionsAddAxis(fb, int32(axis))
		return schema.BuiltinOptionsUnpackOptions, schema.UnpackOptionsEnd(fb)
	}
}

// SqueezeOptions is SQUEEZE's options; nil or empty dims squeezes every
// dimension of size 1.
func SqueezeOptions(dims []int) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		var v flatbuffers.UOffsetT
		if len(dims) > 0 {
			v = int32Vector(fb, dims)
		}
		schema.SqueezeOptionsStart(fb)
		if len(dims) > 0 {
			schema.SqueezeOptionsAddSqueezeDims(fb, v)
		}
		return schema.BuiltinOptionsSqueezeOptions, schema.SqueezeOptionsEnd(fb)
	}
}

// TransposeOptions is TRANSPOSE's (empty) options table.
func TransposeOptions() Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.TransposeOptionsStart(fb)
		return schema.BuiltinOptionsTransposeOptions, schema.TransposeOptionsEnd(fb)
	}
}

// LeakyReluOptions is LEAKY_RELU's options.
func LeakyReluOptions(alpha float32) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.LeakyReluOptionsStart(fb)
		schema.LeakyReluOptionsAddAlpha(fb, alpha)
		return schema.BuiltinOptionsLeakyReluOptions, schema.LeakyReluOptionsEnd(fb)
	}
}

// BatchMatMulOptions is BATCH_MATMUL's options.
func BatchMatMulOptions(adjX, adjY bool) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.BatchMatMulOptionsStart(fb)
		schema.BatchMatMulOptionsAddAdjX(fb, adjX)
		schema.BatchMatMulOptionsAddAdjY(fb, adjY)
		return schema.BuiltinOptionsBatchMatMulOptions, schema.BatchMatMulOptionsEnd(fb)
	}
}

// ArgMaxOptions is ARG_MAX's options; outputType is TensorTypeINT32 or
// TensorTypeINT64.
func ArgMaxOptions(outputType schema.TensorType) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.ArgMaxOptionsStart(fb)
		schema.ArgMaxOptionsAddOutputType(fb, outputType)
		return schema.BuiltinOptionsArgMaxOptions, schema.ArgMaxOptionsEnd(fb)
	}
}

// ArgMinOptions is ARG_MIN's options.
func ArgMinOptions(outputType schema.TensorType) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.ArgMinOptionsStart(fb)
		schema.ArgMinOptionsAddOutputType(fb, outputType)
		return schema.BuiltinOptionsArgMinOptions, schema.ArgMinOptionsEnd(fb)
	}
}

// RawOptionsFor writes an empty options table of the given type, for
// operators whose options table has no fields (SliceOptions, ...) or
// whose fields are all left at their defaults.
func RawOptionsFor(typ schema.BuiltinOptions) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		fb.StartObject(0)
		return typ, fb.EndObject()
	}
}

// UnidirectionalSequenceLSTMOptions builds UnidirectionalSequenceLSTMOptions.
func UnidirectionalSequenceLSTMOptions(act schema.ActivationFunctionType, cellClip, projClip float32, timeMajor, asymmetricQuantizeInputs bool) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.UnidirectionalSequenceLSTMOptionsStart(fb)
		schema.UnidirectionalSequenceLSTMOptionsAddFusedActivationFunction(fb, act)
		schema.UnidirectionalSequenceLSTMOptionsAddCellClip(fb, cellClip)
		schema.UnidirectionalSequenceLSTMOptionsAddProjClip(fb, projClip)
		schema.UnidirectionalSequenceLSTMOptionsAddTimeMajor(fb, timeMajor)
		schema.UnidirectionalSequenceLSTMOptionsAddAsymmetricQuantizeInputs(fb, asymmetricQuantizeInputs)
		return schema.BuiltinOptionsUnidirectionalSequenceLSTMOptions, schema.UnidirectionalSequenceLSTMOptionsEnd(fb)
	}
}

// SVDFOptions builds SVDFOptions.
func SVDFOptions(rank int, act schema.ActivationFunctionType, asymmetricQuantizeInputs bool) Options {
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions, flatbuffers.UOffsetT) {
		schema.SVDFOptionsStart(fb)
		schema.SVDFOptionsAddRank(fb, int32(rank))
		schema.SVDFOptionsAddFusedActivationFunction(fb, act)
		schema.SVDFOptionsAddAsymmetricQuantizeInputs(fb, asymmetricQuantizeInputs)
		return schema.BuiltinOptionsSVDFOptions, schema.SVDFOptionsEnd(fb)
	}
}

// CompositeOptions builds a STABLEHLO_COMPOSITE's options: the composite's
// name (e.g. "odml.rms_norm"), the index of its decomposition subgraph, its
// version and its attributes (a FlexBuffer map, as the converter writes
// them; nil for an empty map, which TFLite requires at least).
func CompositeOptions(name string, decomposition, version int, attributes []byte) Options2 {
	if attributes == nil {
		attributes = emptyFlexMap
	}
	return func(fb *flatbuffers.Builder) (schema.BuiltinOptions2, flatbuffers.UOffsetT) {
		n := fb.CreateString(name)
		a := fb.CreateByteVector(attributes)
		schema.StableHLOCompositeOptionsStart(fb)
		schema.StableHLOCompositeOptionsAddName(fb, n)
		schema.StableHLOCompositeOptionsAddDecompositionSubgraphIndex(fb, int32(decomposition))
		schema.StableHLOCompositeOptionsAddCompositeAttributes(fb, a)
		schema.StableHLOCompositeOptionsAddCompositeAttributesFormat(fb, schema.CustomOptionsFormatFLEXBUFFERS)
		schema.StableHLOCompositeOptionsAddVersion(fb, int32(version))
		return schema.BuiltinOptions2StableHLOCompositeOptions, schema.StableHLOCompositeOptionsEnd(fb)
	}
}

// emptyFlexMap is the FlexBuffer of an empty map.
var emptyFlexMap = func() []byte {
	b, err := flexbuf.Encode(map[string]any{})
	if err != nil {
		panic(err)
	}
	return b
}()
