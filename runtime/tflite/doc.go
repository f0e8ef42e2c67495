// Package tflite loads TensorFlow Lite flatbuffers and runs them with
// edged's pure-Go kernels (package kernels): no cgo, no TFLite library.
//
// # Load
//
// Load (or LoadFile) checks the whole file before anything else reads it:
// the flatbuffer structure (every offset, vtable, vector length and string
// against the buffer), then the schema's invariants (tensor, buffer,
// opcode and subgraph indices in range, constant buffers the size their
// shape and type need, quantization parameters consistent with the shape),
// then that every operator and version is one this runtime implements.
// A malformed file gives an error wrapping ErrMalformed that says where;
// an unknown operator gives ErrUnsupportedOp naming it (an Edge TPU graph
// says it needs an Edge TPU). Known quirks of real files are tolerated:
// rank-1 per-channel bias tensors with quantized_dimension 3
// (person_detect.tflite) and outputs without a shape whose kernel sets
// it (TFLite_Detection_PostProcess). A Model is immutable and shared.
//
// # Prepare
//
// NewInterpreter prepares subgraph 0: operators are visited in order and
// each kernel constructor checks its operands, sets its output shapes and
// precomputes what Invoke needs (per-channel fixed-point multipliers,
// activation clamps, scratch buffers). Then one arena is planned from the
// tensors' lifetimes (first producer to last consumer; graph inputs and
// outputs live throughout), greedily by size like TFLite's arena planner,
// so tensors that are never alive together share memory. ResizeInput
// changes an input's variable dimensions (the batch) and prepares again.
//
// # Invoke
//
// Invoke runs the kernels in order on the arena. It allocates nothing.
// An Interpreter is for one goroutine at a time; any number of
// interpreters may share a Model.
//
// # State
//
// Variable tensors (an LSTM's hidden and cell state, an SVDF's
// activation history) live outside the arena and keep their values from
// one Invoke to the next, as in TFLite. They start at zero (the zero
// point for int8), and go back to it on ResetVariables, on every Prepare
// (so on ResizeInput) and in every new Interpreter; Stateful reports
// whether a model has any. A variable with constant data in the file is
// refused, as TFLite refuses it. Interpreters sharing a Model share no
// state.
//
// # Operators
//
// SupportedOps lists the builtin operators and custom codes the runtime
// implements (docs/OPS.md has them with their types, generated from the
// registry). Model.Problems lists every operator a model needs that an
// interpreter could not prepare, not only the first. RegisterCustom adds a
// custom operator (one the converter wrote as CUSTOM with a custom code,
// e.g. Coral's PosenetDecoderOp) without changing the runtime: its
// CustomKernel prepares each such operator of a model and returns the
// function Invoke runs.
//
// # Arithmetic
//
// Two arithmetics for quantized kernels, chosen per interpreter
// (Options.Arithmetic). The default, LiteRT, reproduces what the official
// runtime (LiteRT/TFLite with its XNNPACK delegate) computes on the CPU:
// XNNPACK's arithmetic for the operators and parameter combinations its
// delegate takes (fp32 requantization with a float32 scale and rounding
// half to even for CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV,
// FULLY_CONNECTED and MUL; its fixed-point scheme for ADD and SUB; float32
// sums for MEAN and SUM; 11-bit weights for RESIZE_BILINEAR; float32-built
// lookup tables for LOGISTIC and TANH), and the arithmetic of TFLite's
// builtin (optimized) kernels for the rest. Quantized outputs are bit-exact
// with the oracle on testdata/golden and on the differential tests.
//
// Reference follows TFLite's reference kernels: 32-bit fixed-point
// multipliers (QuantizeMultiplier) and MultiplyByQuantizedMultiplier's
// double rounding, gemmlowp's fixed-point exp/logistic/tanh, so int8
// results are bit-exact with TFLite Micro (testdata/golden_ref_tflm).
//
// Kernels receive the mode at prepare time and choose their epilogue from
// it. Float kernels accumulate in float32 in the reference kernels' order
// in both modes (XNNPACK's float kernels sum in other orders: floats agree
// within 1e-4 absolute + 1e-4 relative, not bit for bit).
//
// Hybrid operators (FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D with
// float activations and int8 weights) quantize their input on the fly:
// in reference arithmetic as TFLite's builtin hybrid kernels do
// (bit-exact with TFLite's C library), in LiteRT arithmetic with
// XNNPACK's dynamic quantization for FULLY_CONNECTED and CONV_2D, as the
// official runtime does (bit-exact with the oracle). The stateful
// operators (UNIDIRECTIONAL_SEQUENCE_LSTM, SVDF; RNN and
// UNIDIRECTIONAL_SEQUENCE_RNN are float only) follow TFLite Micro in
// reference arithmetic and TFLite's builtin kernels in LiteRT arithmetic.
package tflite
