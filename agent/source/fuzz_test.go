package source

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// fuzzSpecs are the inputs an MQTT payload is decoded for: float, plain
// and quantized integers, a scalar.
var fuzzSpecs = []infer.TensorSpec{
	{Name: "f", DType: tensor.Float32, Shape: []int{2, 3}},
	{Name: "u", DType: tensor.UInt8, Shape: []int{4}},
	{Name: "q", DType: tensor.Int8, Shape: []int{1, 2, 2}, Quantized: true, Scale: 0.5, ZeroPoint: -3},
	{Name: "i", DType: tensor.Int32, Shape: []int{2}},
	{Name: "s", DType: tensor.Float32, Shape: []int{}},
}

// FuzzDecodePayload feeds an MQTT source message to the JSON and raw
// decoders for each input spec. An accepted payload gives exactly the
// bytes the input needs; raw is passed through; a float input holds the
// payload's numbers, finite.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{
		`[[1,2,3],[4,5,6]]`, `[1,2,3,4]`, `[[[0,1],[2,3]]]`, `[1e9,-1e9]`, `7`, `[7]`,
		`[[1,2,3],[4,5]]`, `[1,[2,[3,[4]]]]`, `[1e308,1,1,1,1,1]`, `[-0,0.5,1e-45,3.4e38,1,1]`,
		`[255,256,-1,0]`, `["a"]`, `{"a":1}`, `null`, `[true]`, "\x00\x01\x02\x03", "[" + string(bytes.Repeat([]byte("["), 100)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		for _, spec := range fuzzSpecs {
			n := tensor.NumElements(spec.Shape)
			raw, err := decodePayload(p, "raw", spec)
			if err == nil && !bytes.Equal(raw.Data, p) {
				t.Fatalf("decodePayload(%q, raw, %s) = %x; want the payload", p, spec.Name, raw.Data)
			}
			if err == nil && len(p) != n*spec.DType.Size() {
				t.Fatalf("decodePayload(%q, raw, %s) accepted %d bytes; want %d", p, spec.Name, len(p), n*spec.DType.Size())
			}
			got, err := decodePayload(p, "json", spec)
			if err != nil {
				continue
			}
			if len(got.Data) != n*spec.DType.Size() {
				t.Fatalf("decodePayload(%q, json, %s) = %d bytes; want %d", p, spec.Name, len(got.Data), n*spec.DType.Size())
			}
			if spec.DType != tensor.Float32 {
				continue
			}
			want := numbers(t, p)
			for k := range n {
				v := math.Float32frombits(binary.LittleEndian.Uint32(got.Data[4*k:]))
				if math.IsInf(float64(v), 0) || math.IsNaN(float64(v)) {
					t.Fatalf("decodePayload(%q, json, %s)[%d] = %v; want a finite number or an error", p, spec.Name, k, v)
				}
				if v != float32(want[k]) {
					t.Fatalf("decodePayload(%q, json, %s)[%d] = %v; want %v", p, spec.Name, k, v, float32(want[k]))
				}
			}
		}
	})
}

// numbers reads the numbers of nested JSON arrays in document order,
// independently of flatten.
func numbers(t *testing.T, p []byte) []float64 {
	var v any
	if err := json.Unmarshal(p, &v); err != nil {
		t.Fatalf("decodePayload accepted JSON that encoding/json refuses: %v", err)
	}
	var out []float64
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case float64:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// FuzzDecodeBMPSize checks what DecodeBMP returns: the pixels of the
// width and height in the header, one or three bytes each.
func FuzzDecodeBMPSize(f *testing.F) {
	for _, s := range [][]byte{bmp(2, 2, 24), bmp(3, -1, 8), bmp(1, 1, 24)[:55], bmp(5, 3, 8)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		px, err := DecodeBMP(b)
		if err != nil {
			return
		}
		w := int(int32(binary.LittleEndian.Uint32(b[18:])))
		h := int(int32(binary.LittleEndian.Uint32(b[22:])))
		ch := int(binary.LittleEndian.Uint16(b[28:])) / 8
		if h < 0 {
			h = -h
		}
		if len(px) != w*h*ch {
			t.Fatalf("DecodeBMP(%dx%d, %d bytes a pixel) = %d bytes; want %d", w, h, ch, len(px), w*h*ch)
		}
	})
}

// bmp builds an uncompressed BMP of w by h (negative: top-down) pixels of
// bpp bits, pixel bytes counting up.
func bmp(w, h, bpp int) []byte {
	ah := max(h, -h)
	stride := (w*bpp/8 + 3) &^ 3
	b := make([]byte, 54+stride*ah)
	copy(b, "BM")
	binary.LittleEndian.PutUint32(b[2:], uint32(len(b)))
	binary.LittleEndian.PutUint32(b[10:], 54)
	binary.LittleEndian.PutUint32(b[14:], 40)
	binary.LittleEndian.PutUint32(b[18:], uint32(int32(w)))
	binary.LittleEndian.PutUint32(b[22:], uint32(int32(h)))
	binary.LittleEndian.PutUint16(b[26:], 1)
	binary.LittleEndian.PutUint16(b[28:], uint16(bpp))
	for i := 54; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}
