package compress

import (
	"encoding/binary"
	"fmt"
	"math"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/internal/schema"
)

// fileIdentifier is the TFLite flatbuffer file identifier ("TFL3").
const fileIdentifier = "TFL3"

// Read verifies data as a TFLite model and returns its object form. The
// verification is runtime/tflite's: the object API trusts the buffer.
func Read(data []byte) (*schema.ModelT, error) {
	if _, err := tflite.Load(data); err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	return schema.GetRootAsModel(data, 0).UnPack(), nil
}

// Write serializes m with the TFLite file identifier and checks that the
// result loads in runtime/tflite.
func Write(m *schema.ModelT) ([]byte, error) {
	b := flatbuffers.NewBuilder(1 << 20)
	b.FinishWithFileIdentifier(m.Pack(b), []byte(fileIdentifier))
	out := b.FinishedBytes()
	if _, err := tflite.Load(out); err != nil {
		return nil, fmt.Errorf("write model: the result does not load: %w", err)
	}
	return out, nil
}

// bufferData returns the bytes of tensor t's buffer in m (nil for a tensor
// without constant data).
func bufferData(m *schema.ModelT, t *schema.TensorT) []byte {
	if t == nil || int(t.Buffer) <= 0 || int(t.Buffer) >= len(m.Buffers) || m.Buffers[t.Buffer] == nil {
		return nil
	}
	return m.Buffers[t.Buffer].Data
}

// Float32Data decodes tensor t's constant data as little-endian float32.
func Float32Data(m *schema.ModelT, t *schema.TensorT) ([]float32, error) {
	if t.Type != schema.TensorTypeFLOAT32 {
		return nil, fmt.Errorf("tensor %q: type %s, want FLOAT32", t.Name, t.Type)
	}
	raw := bufferData(m, t)
	if raw == nil {
		return nil, fmt.Errorf("tensor %q: no constant data", t.Name)
	}
	if len(raw)%4 != 0 {
		return nil, fmt.Errorf("tensor %q: %d bytes is not a whole number of float32", t.Name, len(raw))
	}
	v := make([]float32, len(raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v, nil
}

// SetData gives tensor t a new buffer holding raw, appended to m.Buffers,
// so that other tensors sharing t's old buffer keep theirs.
func SetData(m *schema.ModelT, t *schema.TensorT, raw []byte) {
	m.Buffers = append(m.Buffers, &schema.BufferT{Data: raw})
	t.Buffer = uint32(len(m.Buffers) - 1)
}

// Float32Bytes encodes v as little-endian float32.
func Float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// BuiltinCode returns the builtin operator of op, reading the deprecated
// int8 code when the int32 one is absent (files before schema v3a).
func BuiltinCode(m *schema.ModelT, op *schema.OperatorT) (schema.BuiltinOperator, error) {
	if int(op.OpcodeIndex) >= len(m.OperatorCodes) {
		return 0, fmt.Errorf("operator code index %d out of range (%d codes)", op.OpcodeIndex, len(m.OperatorCodes))
	}
	c := m.OperatorCodes[op.OpcodeIndex]
	code := c.BuiltinCode
	if d := schema.BuiltinOperator(c.DeprecatedBuiltinCode); d > code {
		code = d
	}
	return code, nil
}
