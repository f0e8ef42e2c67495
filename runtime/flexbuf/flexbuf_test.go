package flexbuf

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// The encodings below are worked out by hand from the FlexBuffers spec: a
// buffer ends with the root slot, the root's packed type (type<<2 | width
// code) and the slot width; offsets count backwards from their slot.

func TestScalars(t *testing.T) {
	tests := []struct {
		name    string
		buf     []byte
		typ     Type
		wantI   int64
		wantF   float64
		wantB   bool
		wantErr bool
	}{
		{name: "int8", buf: []byte{0x07, pk(Int, 0), 1}, typ: Int, wantI: 7, wantF: 7, wantB: true},
		{name: "negative int8", buf: []byte{0xfe, pk(Int, 0), 1}, typ: Int, wantI: -2, wantF: -2, wantB: true},
		{name: "int16", buf: []byte{0x2c, 0x01, pk(Int, 1), 2}, typ: Int, wantI: 300, wantF: 300, wantB: true},
		{name: "int32 negative", buf: []byte{0x00, 0x00, 0xff, 0xff, pk(Int, 2), 4}, typ: Int, wantI: -65536, wantF: -65536, wantB: true},
		{name: "int64", buf: []byte{0, 0, 0, 0, 1, 0, 0, 0, pk(Int, 3), 8}, typ: Int, wantI: 1 << 32, wantF: 1 << 32, wantB: true},
		{name: "uint8 200", buf: []byte{0xc8, pk(Uint, 0), 1}, typ: Uint, wantI: 200, wantF: 200, wantB: true},
		{name: "float32 1.5", buf: []byte{0x00, 0x00, 0xc0, 0x3f, pk(Float, 2), 4}, typ: Float, wantI: 1, wantF: 1.5, wantB: true},
		{name: "float64 0.1", buf: []byte{0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f, pk(Float, 3), 8}, typ: Float, wantI: 0, wantF: 0.1, wantB: true},
		{name: "float32 -2.75 truncates", buf: []byte{0x00, 0x00, 0x30, 0xc0, pk(Float, 2), 4}, typ: Float, wantI: -2, wantF: -2.75, wantB: true},
		{name: "bool true", buf: []byte{0x01, pk(Bool, 0), 1}, typ: Bool, wantI: 1, wantF: 1, wantB: true},
		{name: "bool false", buf: []byte{0x00, pk(Bool, 0), 1}, typ: Bool, wantI: 0, wantF: 0, wantB: false},
		{name: "null", buf: []byte{0x00, pk(Null, 0), 1}, typ: Null},
		// Value 5 at 0; the root slot (at 1) holds offset 1 back to it.
		{name: "indirect int", buf: []byte{0x05, 0x01, pk(IndirectInt, 0), 1}, typ: IndirectInt, wantI: 5, wantF: 5, wantB: true},
		// float32 0.5 at 0..3; slot at 4 holds offset 4.
		{name: "indirect float", buf: []byte{0x00, 0x00, 0x00, 0x3f, 0x04, pk(IndirectFloat, 2), 1}, typ: IndirectFloat, wantI: 0, wantF: 0.5, wantB: true},
		{name: "float of width 1", buf: []byte{0x01, pk(Float, 0), 1}, typ: Float, wantErr: true},
		{name: "string as int", buf: []byte{0x02, 'h', 'i', 0x00, 0x03, pk(String, 0), 1}, typ: String, wantErr: true},
		{name: "indirect int offset before buffer", buf: []byte{0x05, 0x09, pk(IndirectInt, 0), 1}, typ: IndirectInt, wantErr: true},
		{name: "indirect int64 past end", buf: []byte{0x05, 0x01, pk(IndirectInt, 3), 1}, typ: IndirectInt, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Root(tc.buf)
			if err != nil {
				t.Fatalf("Root: %v", err)
			}
			if r.Type() != tc.typ {
				t.Errorf("Type() = %s; want %s", r.Type(), tc.typ)
			}
			i, errI := r.Int()
			f, errF := r.Float()
			b, errB := r.Bool()
			if tc.wantErr {
				if errI == nil || errF == nil || errB == nil {
					t.Fatalf("Int/Float/Bool errors = %v, %v, %v; want all errors", errI, errF, errB)
				}
				if !errors.Is(errI, ErrMalformed) {
					t.Errorf("Int error %v does not wrap ErrMalformed", errI)
				}
				return
			}
			if errI != nil || errF != nil || errB != nil {
				t.Fatalf("Int/Float/Bool errors = %v, %v, %v", errI, errF, errB)
			}
			if i != tc.wantI {
				t.Errorf("Int() = %d; want %d", i, tc.wantI)
			}
			if f != tc.wantF {
				t.Errorf("Float() = %g; want %g", f, tc.wantF)
			}
			if b != tc.wantB {
				t.Errorf("Bool() = %v; want %v", b, tc.wantB)
			}
		})
	}
}

func TestRootErrors(t *testing.T) {
	tests := []struct {
		name string
		buf  []byte
	}{
		{"empty", nil},
		{"two bytes", []byte{0x04, 0x01}},
		{"width 3", []byte{0x00, 0x00, 0x00, 0x04, 0x03}},
		{"width 0", []byte{0x00, 0x04, 0x00}},
		{"slot wider than buffer", []byte{0x00, 0x04, 0x08}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Root(tc.buf); !errors.Is(err, ErrMalformed) {
				t.Errorf("Root(% x) error = %v; want ErrMalformed", tc.buf, err)
			}
		})
	}
}

func TestStringsAndBlobs(t *testing.T) {
	tests := []struct {
		name    string
		buf     []byte
		blob    bool
		want    string
		wantErr bool
	}{
		// Size 2 at 0, "hi\0" at 1..3; the slot at 4 holds offset 3.
		{name: "string", buf: []byte{0x02, 'h', 'i', 0x00, 0x03, pk(String, 0), 1}, want: "hi"},
		// 16-bit size prefix: the string data is 2-aligned.
		{name: "string width 2", buf: []byte{0x03, 0x00, 'a', 'b', 'c', 0x00, 0x04, pk(String, 1), 1}, want: "abc"},
		{name: "blob", buf: []byte{0x03, 0x01, 0x00, 0xff, 0x03, pk(Blob, 0), 1}, blob: true, want: "\x01\x00\xff"},
		{name: "key", buf: []byte{'k', 'e', 'y', 0x00, 0x04, pk(Key, 0), 1}, want: "key"},
		{name: "key without NUL", buf: []byte{'k', 'e', 'y', 0x03, pk(Key, 0), 1}, wantErr: true},
		{name: "string longer than buffer", buf: []byte{0x7f, 'h', 'i', 0x00, 0x03, pk(String, 0), 1}, wantErr: true},
		{name: "string size prefix before buffer", buf: []byte{'h', 'i', 0x00, 0x03, pk(String, 0), 1}, wantErr: true},
		{name: "int as string", buf: []byte{0x07, pk(Int, 0), 1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Root(tc.buf)
			if err != nil {
				t.Fatalf("Root: %v", err)
			}
			var got string
			if tc.blob {
				var b []byte
				b, err = r.Blob()
				got = string(b)
			} else {
				got, err = r.Str()
			}
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("got %q, error %v; want ErrMalformed", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q; want %q", got, tc.want)
			}
		})
	}
}

// pk is a packed type byte: the type and a width code (0: 8 bits ... 3: 64).
func pk(t Type, code byte) byte { return byte(t)<<2 | code }

// elem describes an expected vector element.
type elem struct {
	typ Type
	i   int64
	f   float64
	s   string
}

func TestVectors(t *testing.T) {
	tests := []struct {
		name    string
		buf     []byte
		typ     Type
		want    []elem
		wantErr bool
	}{
		// Size 2 at 0, elements 1 and true at 1..2, their types at 3..4;
		// the slot at 5 holds offset 4.
		{name: "untyped", buf: []byte{0x02, 0x01, 0x01, pk(Int, 0), pk(Bool, 0), 0x04, pk(Vector, 0), 1},
			typ: Vector, want: []elem{{typ: Int, i: 1}, {typ: Bool, i: 1}}},
		// "x\0" at 0..1 (key), then a 1-wide vector: size 2 at 2, element 0
		// at 3 is a key offset 3, element 1 at 4 the float... floats need
		// width 4, so this vector is 4-wide: see "untyped mixed" below.
		{name: "untyped mixed", buf: []byte{
			0x01, 'x', 0x00, 0x00, // string "x" (size at 0, data at 1)
			0x02, 0x00, 0x00, 0x00, // size 2 at 4
			0x07, 0x00, 0x00, 0x00, // element 0 at 8: offset 8-1 = 7 to the string
			0x00, 0x00, 0x20, 0x40, // element 1 at 12: float32 2.5
			pk(String, 0), pk(Float, 2), // types at 16..17
			0x0a, pk(Vector, 2), 1, // slot at 18: offset 18-8 = 10
		}, typ: Vector, want: []elem{{typ: String, s: "x"}, {typ: Float, f: 2.5}}},
		// Typed ints of width 2: size at 0..1, elements at 2..5; the slot
		// at 6 holds offset 4.
		{name: "typed int16", buf: []byte{0x02, 0x00, 0x01, 0x00, 0x00, 0x01, 0x04, pk(VectorInt, 1), 1},
			typ: VectorInt, want: []elem{{typ: Int, i: 1}, {typ: Int, i: 256}}},
		{name: "typed uint8", buf: []byte{0x03, 0xff, 0x00, 0x07, 0x03, pk(VectorUint, 0), 1},
			typ: VectorUint, want: []elem{{typ: Uint, i: 255}, {typ: Uint, i: 0}, {typ: Uint, i: 7}}},
		{name: "typed bool", buf: []byte{0x02, 0x01, 0x00, 0x02, pk(VectorBool, 0), 1},
			typ: VectorBool, want: []elem{{typ: Bool, i: 1}, {typ: Bool, i: 0}}},
		// Fixed-length float2, no size prefix: data at 0..7, slot at 8.
		{name: "fixed float2", buf: []byte{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x08, pk(VectorFloat2, 2), 1},
			typ: VectorFloat2, want: []elem{{typ: Float, f: 1}, {typ: Float, f: 2}}},
		{name: "fixed int3", buf: []byte{0xff, 0x02, 0x03, 0x03, pk(VectorInt3, 0), 1},
			typ: VectorInt3, want: []elem{{typ: Int, i: -1}, {typ: Int, i: 2}, {typ: Int, i: 3}}},
		// Keys "a" and "b" at 0 and 2; size 2 at 4; offsets 5 and 4.
		{name: "typed keys", buf: []byte{'a', 0x00, 'b', 0x00, 0x02, 0x05, 0x04, 0x02, pk(VectorKey, 0), 1},
			typ: VectorKey, want: []elem{{typ: Key, s: "a"}, {typ: Key, s: "b"}}},
		{name: "size larger than buffer", buf: []byte{0x7f, 0x01, 0x01, 0x02, pk(VectorInt, 0), 1}, typ: VectorInt, wantErr: true},
		{name: "types past end", buf: []byte{0x04, 0x01, 0x01, 0x01, 0x01, 0x04, pk(Vector, 0), 1}, typ: Vector, wantErr: true},
		{name: "huge 64-bit size", buf: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, pk(Vector, 3), 1}, typ: Vector, wantErr: true},
		{name: "fixed past end", buf: []byte{0x01, 0x02, 0x02, pk(VectorFloat4, 2), 1}, typ: VectorFloat4, wantErr: true},
		{name: "int as vector", buf: []byte{0x07, pk(Int, 0), 1}, typ: Int, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Root(tc.buf)
			if err != nil {
				t.Fatalf("Root: %v", err)
			}
			if r.Type() != tc.typ {
				t.Errorf("Type() = %s; want %s", r.Type(), tc.typ)
			}
			v, err := r.Vector()
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Vector() error = %v; want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Vector(): %v", err)
			}
			if v.Len() != len(tc.want) {
				t.Fatalf("Len() = %d; want %d", v.Len(), len(tc.want))
			}
			for i, w := range tc.want {
				e, err := v.At(i)
				if err != nil {
					t.Fatalf("At(%d): %v", i, err)
				}
				checkElem(t, i, e, w)
			}
			if _, err := v.At(len(tc.want)); err == nil {
				t.Errorf("At(%d) past the end: no error", len(tc.want))
			}
		})
	}
}

func checkElem(t *testing.T, i int, e Ref, w elem) {
	t.Helper()
	if e.Type() != w.typ {
		t.Fatalf("element %d type = %s; want %s", i, e.Type(), w.typ)
	}
	switch w.typ {
	case String, Key:
		s, err := e.Str()
		if err != nil || s != w.s {
			t.Errorf("element %d = %q, %v; want %q", i, s, err, w.s)
		}
	case Float:
		f, err := e.Float()
		if err != nil || f != w.f {
			t.Errorf("element %d = %g, %v; want %g", i, f, err, w.f)
		}
	default:
		n, err := e.Int()
		if err != nil || n != w.i {
			t.Errorf("element %d = %d, %v; want %d", i, n, err, w.i)
		}
	}
}

// mapA1 is {"a": 1}: key "a\0" at 0, keys vector (size 1 at 2, offset 3
// at 3), then the map: keys offset 4-3=1 at 4, keys width 1 at 5, size 1
// at 6, value 1 at 7, its type at 8; the root slot at 9 holds 9-7=2.
var mapA1 = []byte{'a', 0x00, 0x01, 0x03, 0x01, 0x01, 0x01, 0x01, pk(Int, 0), 0x02, pk(Map, 0), 1}

// mapAB is {"a": -1, "b": 1000}: 1000 needs 16-bit values, so the map is
// 2-aligned (one pad byte at 7).
var mapAB = []byte{
	'a', 0x00, 'b', 0x00, // keys at 0 and 2
	0x02, 0x05, 0x04, // keys vector: size 2 at 4, offsets 5-0 and 6-2
	0x00,       // pad
	0x03, 0x00, // at 8: offset 8-5 = 3 to the keys vector
	0x01, 0x00, // keys width 1
	0x02, 0x00, // size 2
	0xff, 0xff, 0xe8, 0x03, // values -1, 1000 at 14
	pk(Int, 1), pk(Int, 1), // types
	0x06, pk(Map, 1), 1, // slot at 20: offset 20-14 = 6
}

// ssdOptions are the custom options of TFLite_Detection_PostProcess in
// testdata/models/ssd_mobilenet_v1_coco_quant_detect.tflite (written by
// TFLite's converter): a 4-wide map of 10 entries.
var ssdOptions = []byte("" +
	"\x79\x5f\x73\x63\x61\x6c\x65\x00\x5f\x6f\x75\x74\x70\x75\x74\x5f\x71\x75\x61\x6e\x74\x69\x7a\x65\x64\x00\x6d\x61\x78\x5f\x64\x65" +
	"\x74\x65\x63\x74\x69\x6f\x6e\x73\x00\x6e\x6d\x73\x5f\x73\x63\x6f\x72\x65\x5f\x74\x68\x72\x65\x73\x68\x6f\x6c\x64\x00\x77\x5f\x73" +
	"\x63\x61\x6c\x65\x00\x78\x5f\x73\x63\x61\x6c\x65\x00\x6e\x6d\x73\x5f\x69\x6f\x75\x5f\x74\x68\x72\x65\x73\x68\x6f\x6c\x64\x00\x68" +
	"\x5f\x73\x63\x61\x6c\x65\x00\x6d\x61\x78\x5f\x63\x6c\x61\x73\x73\x65\x73\x5f\x70\x65\x72\x5f\x64\x65\x74\x65\x63\x74\x69\x6f\x6e" +
	"\x00\x6e\x75\x6d\x5f\x63\x6c\x61\x73\x73\x65\x73\x00\x0a\x86\x30\x29\x77\x45\x6a\x13\x58\x51\x97\x0a\x00\x00\x00\x01\x00\x00\x00" +
	"\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x00\xa0\x40\x01\x00\x00\x00\x0a\x00\x00\x00\x9a\x99\x19\x3f\x77\xcc\x2b\x32\x5a\x00\x00\x00" +
	"\x00\x00\xa0\x40\x00\x00\x20\x41\x00\x00\x20\x41\x6a\x0e\x06\x06\x0e\x0e\x06\x0e\x0e\x0e\x32\x26\x01")

func TestMaps(t *testing.T) {
	tests := []struct {
		name string
		buf  []byte
		keys []string
		want []elem
	}{
		{name: "a=1", buf: mapA1, keys: []string{"a"}, want: []elem{{typ: Int, i: 1}}},
		{name: "a=-1 b=1000", buf: mapAB, keys: []string{"a", "b"}, want: []elem{{typ: Int, i: -1}, {typ: Int, i: 1000}}},
		{name: "ssd options", buf: ssdOptions,
			keys: []string{"_output_quantized", "h_scale", "max_classes_per_detection", "max_detections", "nms_iou_threshold",
				"nms_score_threshold", "num_classes", "w_scale", "x_scale", "y_scale"},
			want: []elem{{typ: Bool, i: 1}, {typ: Float, f: 5}, {typ: Int, i: 1}, {typ: Int, i: 10},
				{typ: Float, f: float64(float32(0.6))}, {typ: Float, f: float64(float32(1e-8))}, {typ: Int, i: 90},
				{typ: Float, f: 5}, {typ: Float, f: 10}, {typ: Float, f: 10}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Root(tc.buf)
			if err != nil {
				t.Fatal(err)
			}
			m, err := r.Map()
			if err != nil {
				t.Fatalf("Map(): %v", err)
			}
			if m.Len() != len(tc.keys) {
				t.Fatalf("Len() = %d; want %d", m.Len(), len(tc.keys))
			}
			for i, k := range tc.keys {
				got, err := m.Key(i)
				if err != nil || got != k {
					t.Errorf("Key(%d) = %q, %v; want %q", i, got, err, k)
				}
				v, ok, err := m.Lookup(k)
				if err != nil || !ok {
					t.Fatalf("Lookup(%q) = %v, %v", k, ok, err)
				}
				checkElem(t, i, v, tc.want[i])
			}
			v, ok, err := m.Lookup("missing")
			if err != nil || ok || !v.IsNull() {
				t.Errorf("Lookup(missing) = %s, %v, %v; want null, false, nil", v.Type(), ok, err)
			}
			if n, err := v.Int(); err != nil || n != 0 {
				t.Errorf("missing key Int() = %d, %v; want 0", n, err)
			}
		})
	}
}

func TestMapErrors(t *testing.T) {
	mutate := func(b []byte, at int, v byte) []byte {
		c := bytes.Clone(b)
		c[at] = v
		return c
	}
	tests := []struct {
		name string
		buf  []byte
	}{
		{"keys offset before buffer", mutate(mapA1, 4, 0x09)},
		{"keys width 3", mutate(mapA1, 5, 0x03)},
		{"keys and values differ in number", mutate(mapA1, 2, 0x02)},
		{"vector read as map", []byte{0x02, 0x01, 0x01, pk(Int, 0), pk(Bool, 0), 0x04, pk(Vector, 0), 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Root(tc.buf)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Map(); !errors.Is(err, ErrMalformed) {
				t.Errorf("Map() error = %v; want ErrMalformed", err)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want []byte
	}{
		{"int", 7, []byte{0x07, pk(Int, 0), 1}},
		{"int16", 300, []byte{0x2c, 0x01, pk(Int, 1), 2}},
		{"float32", float32(1.5), []byte{0x00, 0x00, 0xc0, 0x3f, pk(Float, 2), 4}},
		{"string", "hi", []byte{0x02, 'h', 'i', 0x00, 0x03, pk(String, 0), 1}},
		{"vector", []any{1, true}, []byte{0x02, 0x01, 0x01, pk(Int, 0), pk(Bool, 0), 0x04, pk(Vector, 0), 1}},
		{"typed ints", []int64{1, 256}, []byte{0x02, 0x00, 0x01, 0x00, 0x00, 0x01, 0x04, pk(VectorInt, 1), 1}},
		{"map a=1", map[string]any{"a": 1}, mapA1},
		{"map a=-1 b=1000", map[string]any{"b": 1000, "a": -1}, mapAB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Encode(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("Encode(%v) = % x; want % x", tc.v, got, tc.want)
			}
		})
	}
}

// TestEncodeRoundTrip reads back what Encode writes, over widths 1 to 8.
func TestEncodeRoundTrip(t *testing.T) {
	long := string(bytes.Repeat([]byte{'s'}, 300))
	in := map[string]any{
		"i8": -5, "i16": -30000, "i32": 1 << 20, "i64": int64(-1) << 40,
		"u": uint64(math.MaxUint64), "f32": float32(0.25), "f64": 0.1,
		"t": true, "f": false, "null": nil, "long": long,
		"vec":  []any{1, "two", 3.5, []any{int64(1) << 33}},
		"ints": []int64{-1, 70000}, "floats": []float32{1, -2},
		"nested": map[string]any{"x": 1},
	}
	buf, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Root(buf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Map()
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != len(in) {
		t.Fatalf("Len() = %d; want %d", m.Len(), len(in))
	}
	getI := func(k string) int64 {
		v, _ := m.Get(k)
		n, err := v.Int()
		if err != nil {
			t.Errorf("%s: %v", k, err)
		}
		return n
	}
	getF := func(k string) float64 {
		v, _ := m.Get(k)
		f, err := v.Float()
		if err != nil {
			t.Errorf("%s: %v", k, err)
		}
		return f
	}
	for _, c := range []struct {
		k    string
		want int64
	}{{"i8", -5}, {"i16", -30000}, {"i32", 1 << 20}, {"i64", int64(-1) << 40}, {"t", 1}, {"f", 0}, {"null", 0}} {
		if got := getI(c.k); got != c.want {
			t.Errorf("%s = %d; want %d", c.k, got, c.want)
		}
	}
	if v, _ := m.Get("u"); true {
		if u, err := v.Uint(); err != nil || u != math.MaxUint64 {
			t.Errorf("u = %d, %v; want MaxUint64", u, err)
		}
	}
	if got := getF("f32"); got != 0.25 {
		t.Errorf("f32 = %g; want 0.25", got)
	}
	if got := getF("f64"); got != 0.1 {
		t.Errorf("f64 = %g; want 0.1", got)
	}
	if v, _ := m.Get("long"); true {
		if s, err := v.Str(); err != nil || s != long {
			t.Errorf("long = %d bytes, %v; want 300", len(s), err)
		}
	}
	v, _ := m.Get("vec")
	vec, err := v.Vector()
	if err != nil || vec.Len() != 4 {
		t.Fatalf("vec: %v, len %d", err, vec.Len())
	}
	e3, _ := vec.At(3)
	inner, err := e3.Vector()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := inner.At(0)
	if n, err := e.Int(); err != nil || n != 1<<33 {
		t.Errorf("vec[3][0] = %d, %v; want 2^33", n, err)
	}
	e1, _ := vec.At(1)
	if s, err := e1.Str(); err != nil || s != "two" {
		t.Errorf("vec[1] = %q, %v", s, err)
	}
	v, _ = m.Get("ints")
	ints, err := v.Vector()
	if err != nil || ints.Len() != 2 {
		t.Fatalf("ints: %v", err)
	}
	e, _ = ints.At(1)
	if n, _ := e.Int(); n != 70000 {
		t.Errorf("ints[1] = %d; want 70000", n)
	}
	v, _ = m.Get("nested")
	nested, err := v.Map()
	if err != nil {
		t.Fatal(err)
	}
	if x, _ := nested.Get("x"); true {
		if n, _ := x.Int(); n != 1 {
			t.Errorf("nested.x = %d; want 1", n)
		}
	}
}

// walk visits every value reachable from r, calling every accessor; it
// bounds depth and work because offsets may form cycles.
func walk(r Ref, depth int, budget *int) {
	*budget--
	if depth > 16 || *budget < 0 {
		return
	}
	r.Int()
	r.Uint()
	r.Float()
	r.Bool()
	r.Str()
	r.Blob()
	r.Key()
	if m, err := r.Map(); err == nil {
		for i := 0; i < m.Len() && *budget > 0; i++ {
			m.Key(i)
			if v, err := m.Value(i); err == nil {
				walk(v, depth+1, budget)
			}
		}
		m.Get("max_detections")
	}
	if v, err := r.Vector(); err == nil {
		for i := 0; i < v.Len() && *budget > 0; i++ {
			if e, err := v.At(i); err == nil {
				walk(e, depth+1, budget)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range [][]byte{mapA1, mapAB, ssdOptions, {0x07, 0x04, 0x01}, {0x02, 0x01, 0x01, 0x04, 0x68, 0x04, 0x28, 0x01}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Root(data)
		if err != nil {
			return
		}
		budget := 10000
		walk(r, 0, &budget)
	})
}
