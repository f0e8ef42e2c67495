// Package infer holds the types an inference request and its answer are
// made of, shared by the agent and its front ends (local HTTP API, MQTT
// and sensor sources), and the errors that tell a front end how a request
// failed.
package infer

import (
	"errors"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Errors an Infer call may wrap; front ends map them to status codes.
var (
	// ErrModelNotFound: no model (or version) of that name is served.
	ErrModelNotFound = errors.New("model not found")
	// ErrBadInput: the inputs do not fit the model (count, type, shape, size).
	ErrBadInput = errors.New("bad input")
	// ErrOverloaded: the model's queue is full; retry later.
	ErrOverloaded = errors.New("overloaded")
	// ErrNotReady: the model is loading or has failed.
	ErrNotReady = errors.New("not ready")
)

// Tensor is a named tensor in raw little-endian bytes.
type Tensor struct {
	Name  string
	DType tensor.DType
	Shape []int
	Data  []byte
}

// TensorSpec describes a model input or output.
type TensorSpec struct {
	Name  string
	DType tensor.DType
	Shape []int
	// Scale and ZeroPoint are set for quantized tensors (per-tensor).
	Scale     float32
	ZeroPoint int32
	Quantized bool
}

// ModelInfo describes a served model.
type ModelInfo struct {
	Name     string
	Version  string
	SHA256   string
	Path     string
	Inputs   []TensorSpec
	Outputs  []TensorSpec
	Labels   []string
	Ready    bool
	MaxBatch int
	// Cached is set when a result cache answers repeated inputs.
	Cached bool
}
