// Package flexbuf reads FlexBuffers, the schemaless encoding TFLite uses for
// the options of custom operators (TFLite_Detection_PostProcess...).
//
// Every read is bounds-checked: nothing in the input can make this package
// panic, loop forever or allocate in proportion to a length it claims. Bad
// input yields an error wrapping ErrMalformed.
//
// Scalar accessors convert between the numeric types as the C++ reader
// (flexbuffers.h) does (an int read as a float, a bool as an int...), but
// they do not parse strings or return the size of vectors: asking a string
// for a number is an error here.
package flexbuf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrMalformed is returned (wrapped) for input that is not a well-formed
// FlexBuffer, or a value read as a type it cannot be converted to.
var ErrMalformed = errors.New("malformed flexbuffer")

// Type is a FlexBuffers value type, numbered as in the specification.
type Type uint8

// Value types.
const (
	Null          Type = 0
	Int           Type = 1
	Uint          Type = 2
	Float         Type = 3
	Key           Type = 4
	String        Type = 5
	IndirectInt   Type = 6
	IndirectUint  Type = 7
	IndirectFloat Type = 8
	Map           Type = 9
	Vector        Type = 10
	VectorInt     Type = 11
	VectorUint    Type = 12
	VectorFloat   Type = 13
	VectorKey     Type = 14
	VectorString  Type = 15 // deprecated by the format; still readable
	VectorInt2    Type = 16
	VectorUint2   Type = 17
	VectorFloat2  Type = 18
	VectorInt3    Type = 19
	VectorUint3   Type = 20
	VectorFloat3  Type = 21
	VectorInt4    Type = 22
	VectorUint4   Type = 23
	VectorFloat4  Type = 24
	Blob          Type = 25
	Bool          Type = 26
	VectorBool    Type = 36
)

var typeNames = map[Type]string{
	Null: "null", Int: "int", Uint: "uint", Float: "float", Key: "key", String: "string",
	IndirectInt: "indirect_int", IndirectUint: "indirect_uint", IndirectFloat: "indirect_float",
	Map: "map", Vector: "vector", VectorInt: "vector_int", VectorUint: "vector_uint",
	VectorFloat: "vector_float", VectorKey: "vector_key", VectorString: "vector_string",
	VectorInt2: "vector_int2", VectorUint2: "vector_uint2", VectorFloat2: "vector_float2",
	VectorInt3: "vector_int3", VectorUint3: "vector_uint3", VectorFloat3: "vector_float3",
	VectorInt4: "vector_int4", VectorUint4: "vector_uint4", VectorFloat4: "vector_float4",
	Blob: "blob", Bool: "bool", VectorBool: "vector_bool",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", int(t))
}

// inline reports whether a value of type t is stored in its parent's slot
// rather than behind an offset.
func (t Type) inline() bool { return t <= Float || t == Bool }

// IsVector reports whether t is one of the vector types (not Map).
func (t Type) IsVector() bool {
	return t == Vector || t == VectorBool || (t >= VectorInt && t <= VectorFloat4)
}

func malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Ref is one value inside a buffer: its slot (where the parent stores it),
// the width of that slot, the width of the data it points to, and its type.
type Ref struct {
	buf         []byte
	off         int // position of the slot
	parentWidth int // width of the slot, in bytes
	byteWidth   int // width of the pointed-to data (offset types)
	typ         Type
}

// Root returns the root value of a FlexBuffer. The buffer ends with the
// root's slot, its packed type and the slot's width.
func Root(buf []byte) (Ref, error) {
	if len(buf) < 3 {
		return Ref{}, malformedf("%d bytes; a flexbuffer has at least 3", len(buf))
	}
	w := int(buf[len(buf)-1])
	if !validWidth(w) {
		return Ref{}, malformedf("root width %d; want 1, 2, 4 or 8", w)
	}
	packed := buf[len(buf)-2]
	off := len(buf) - 2 - w
	if off < 0 {
		return Ref{}, malformedf("root slot of %d bytes does not fit in %d bytes", w, len(buf))
	}
	return newRef(buf, off, w, packed), nil
}

func validWidth(w int) bool { return w == 1 || w == 2 || w == 4 || w == 8 }

func newRef(buf []byte, off, parentWidth int, packed byte) Ref {
	return Ref{buf: buf, off: off, parentWidth: parentWidth, byteWidth: 1 << (packed & 3), typ: Type(packed >> 2)}
}

// Type is the value's type.
func (r Ref) Type() Type { return r.typ }

// IsNull reports whether the value is null (also the value of a missing
// map key).
func (r Ref) IsNull() bool { return r.typ == Null }

// readUint reads an unsigned little-endian integer of width w at off.
func readUint(buf []byte, off, w int) (uint64, error) {
	if off < 0 || off > len(buf) || w > len(buf)-off {
		return 0, malformedf("read of %d bytes at %d outside the %d-byte buffer", w, off, len(buf))
	}
	b := buf[off:]
	switch w {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b)), nil
	case 8:
		return binary.LittleEndian.Uint64(b), nil
	}
	return 0, malformedf("width %d; want 1, 2, 4 or 8", w)
}

// readInt reads a signed little-endian integer of width w at off.
func readInt(buf []byte, off, w int) (int64, error) {
	u, err := readUint(buf, off, w)
	if err != nil {
		return 0, err
	}
	switch w {
	case 1:
		return int64(int8(u)), nil
	case 2:
		return int64(int16(u)), nil
	case 4:
		return int64(int32(u)), nil
	}
	return int64(u), nil
}

// readFloat reads an IEEE float of width 4 or 8 at off. The format never
// writes narrower floats.
func readFloat(buf []byte, off, w int) (float64, error) {
	if w != 4 && w != 8 {
		return 0, malformedf("float of width %d; want 4 or 8", w)
	}
	u, err := readUint(buf, off, w)
	if err != nil {
		return 0, err
	}
	if w == 4 {
		return float64(math.Float32frombits(uint32(u))), nil
	}
	return math.Float64frombits(u), nil
}

// indirect follows the offset stored in a slot of width w at off: offsets
// count backwards from the slot.
func indirect(buf []byte, off, w int) (int, error) {
	u, err := readUint(buf, off, w)
	if err != nil {
		return 0, err
	}
	if u > uint64(off) {
		return 0, malformedf("offset %d at %d points before the buffer", u, off)
	}
	return off - int(u), nil
}

// target is the position of the data an offset-type value points to.
func (r Ref) target() (int, error) { return indirect(r.buf, r.off, r.parentWidth) }

// Int returns the value as a signed integer. Ints, uints, floats
// (truncated toward zero), bools and their indirect forms convert; null
// reads as 0.
func (r Ref) Int() (int64, error) {
	switch r.typ {
	case Null:
		return 0, nil
	case Int, Bool:
		return readInt(r.buf, r.off, r.parentWidth)
	case Uint:
		u, err := readUint(r.buf, r.off, r.parentWidth)
		return int64(u), err
	case Float:
		f, err := readFloat(r.buf, r.off, r.parentWidth)
		return floatToInt(f), err
	case IndirectInt:
		t, err := r.target()
		if err != nil {
			return 0, err
		}
		return readInt(r.buf, t, r.byteWidth)
	case IndirectUint:
		t, err := r.target()
		if err != nil {
			return 0, err
		}
		u, err := readUint(r.buf, t, r.byteWidth)
		return int64(u), err
	case IndirectFloat:
		t, err := r.target()
		if err != nil {
			return 0, err
		}
		f, err := readFloat(r.buf, t, r.byteWidth)
		return floatToInt(f), err
	}
	return 0, malformedf("%s value read as an int", r.typ)
}

// floatToInt truncates like a C++ cast, but defines out-of-range values
// (saturate) and NaN (0), which C++ leaves undefined.
func floatToInt(f float64) int64 {
	switch {
	case f != f:
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// Uint returns the value as an unsigned integer; see Int for conversions.
func (r Ref) Uint() (uint64, error) {
	switch r.typ {
	case Uint, Bool:
		return readUint(r.buf, r.off, r.parentWidth)
	case IndirectUint:
		t, err := r.target()
		if err != nil {
			return 0, err
		}
		return readUint(r.buf, t, r.byteWidth)
	}
	i, err := r.Int()
	return uint64(i), err
}

// Float returns the value as a float64. Floats, ints, uints, bools and
// their indirect forms convert; null reads as 0.
func (r Ref) Float() (float64, error) {
	switch r.typ {
	case Float:
		return readFloat(r.buf, r.off, r.parentWidth)
	case IndirectFloat:
		t, err := r.target()
		if err != nil {
			return 0, err
		}
		return readFloat(r.buf, t, r.byteWidth)
	case Uint, IndirectUint:
		u, err := r.Uint()
		return float64(u), err
	}
	i, err := r.Int()
	return float64(i), err
}

// Bool returns the value as a bool: numbers are true when non-zero, null
// is false.
func (r Ref) Bool() (bool, error) {
	switch r.typ {
	case Float, IndirectFloat:
		f, err := r.Float()
		return f != 0, err
	}
	u, err := r.Uint()
	return u != 0, err
}

// cString returns the NUL-terminated bytes at off.
func cString(buf []byte, off int) (string, error) {
	if off < 0 || off >= len(buf) {
		return "", malformedf("string at %d outside the %d-byte buffer", off, len(buf))
	}
	for i := off; i < len(buf); i++ {
		if buf[i] == 0 {
			return string(buf[off:i]), nil
		}
	}
	return "", malformedf("string at %d has no terminating NUL", off)
}

// Key returns the text of a Key value.
func (r Ref) Key() (string, error) {
	if r.typ != Key {
		return "", malformedf("%s value read as a key", r.typ)
	}
	t, err := r.target()
	if err != nil {
		return "", err
	}
	return cString(r.buf, t)
}

// sized returns the data position and the length stored before it (in a
// prefix of width w), checking that n elements of elemWidth fit.
func sized(buf []byte, data, w, elemWidth, trailer int) (int, error) {
	n, err := readUint(buf, data-w, w)
	if err != nil {
		return 0, fmt.Errorf("size prefix: %w", err)
	}
	room := uint64(len(buf) - data)
	if elemWidth > 0 && n > room/uint64(elemWidth) {
		return 0, malformedf("%d elements of %d bytes at %d do not fit in the %d-byte buffer", n, elemWidth, data, len(buf))
	}
	if trailer > 0 && n*uint64(elemWidth)+n*uint64(trailer) > room {
		return 0, malformedf("%d elements with their types at %d do not fit in the %d-byte buffer", n, data, len(buf))
	}
	return int(n), nil
}

// Str returns the text of a String value (or of a Key).
func (r Ref) Str() (string, error) {
	if r.typ == Key {
		return r.Key()
	}
	b, err := r.bytes(String)
	return string(b), err
}

// Blob returns the bytes of a Blob value. They alias the buffer.
func (r Ref) Blob() ([]byte, error) { return r.bytes(Blob) }

func (r Ref) bytes(want Type) ([]byte, error) {
	if r.typ != want {
		return nil, malformedf("%s value read as a %s", r.typ, want)
	}
	t, err := r.target()
	if err != nil {
		return nil, err
	}
	if !validWidth(r.byteWidth) {
		return nil, malformedf("%s of width %d", r.typ, r.byteWidth)
	}
	n, err := sized(r.buf, t, r.byteWidth, 1, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.typ, err)
	}
	return r.buf[t : t+n : t+n], nil
}

// Vec is a vector of values: untyped (each element has its own type),
// typed (one element type) or fixed-length typed.
type Vec struct {
	buf   []byte
	data  int
	width int
	n     int
	elem  Type // Null for untyped vectors
	types int  // position of the per-element types (untyped only)
}

// Vector returns the value as a vector. Maps read as the vector of their
// values.
func (r Ref) Vector() (Vec, error) {
	if !r.typ.IsVector() && r.typ != Map {
		return Vec{}, malformedf("%s value read as a vector", r.typ)
	}
	data, err := r.target()
	if err != nil {
		return Vec{}, err
	}
	v := Vec{buf: r.buf, data: data, width: r.byteWidth}
	switch {
	case r.typ == Vector || r.typ == Map:
		v.n, err = sized(r.buf, data, v.width, v.width, 1)
		v.types = data + v.n*v.width
	case r.typ >= VectorInt && r.typ <= VectorString:
		v.elem = Int + (r.typ - VectorInt)
		if r.typ == VectorString {
			v.elem = String
		}
		v.n, err = sized(r.buf, data, v.width, v.width, 0)
	case r.typ == VectorBool:
		v.elem = Bool
		v.n, err = sized(r.buf, data, v.width, v.width, 0)
	default: // fixed-length typed vectors: no size prefix
		k := r.typ - VectorInt2
		v.elem = Int + k%3
		v.n = int(k/3) + 2
		if data+v.n*v.width > len(r.buf) {
			err = malformedf("%s at %d does not fit in the %d-byte buffer", r.typ, data, len(r.buf))
		}
	}
	if err != nil {
		return Vec{}, fmt.Errorf("%s: %w", r.typ, err)
	}
	return v, nil
}

// Len is the number of elements.
func (v Vec) Len() int { return v.n }

// At returns element i.
func (v Vec) At(i int) (Ref, error) {
	if i < 0 || i >= v.n {
		return Ref{}, malformedf("element %d of a %d-element vector", i, v.n)
	}
	off := v.data + i*v.width
	if v.elem != Null {
		// Typed vectors: as in flexbuffers.h, offset-type elements (keys,
		// strings) point to data of width 1.
		return Ref{buf: v.buf, off: off, parentWidth: v.width, byteWidth: 1, typ: v.elem}, nil
	}
	// sized checked that the type bytes are inside the buffer.
	return newRef(v.buf, off, v.width, v.buf[v.types+i]), nil
}

// MapRef is a map: a vector of values plus a typed vector of sorted keys.
type MapRef struct {
	values Vec
	keys   Vec
}

// Map returns the value as a map.
func (r Ref) Map() (MapRef, error) {
	if r.typ != Map {
		return MapRef{}, malformedf("%s value read as a map", r.typ)
	}
	values, err := r.Vector()
	if err != nil {
		return MapRef{}, err
	}
	// Before a map's size prefix: the offset to its keys vector, then that
	// vector's width.
	w := values.width
	keysSlot := values.data - 3*w
	keysAt, err := indirect(r.buf, keysSlot, w)
	if err != nil {
		return MapRef{}, fmt.Errorf("map keys: %w", err)
	}
	kw, err := readUint(r.buf, values.data-2*w, w)
	if err != nil {
		return MapRef{}, fmt.Errorf("map keys width: %w", err)
	}
	if !validWidth(int(kw)) {
		return MapRef{}, malformedf("map keys width %d; want 1, 2, 4 or 8", kw)
	}
	keys := Vec{buf: r.buf, data: keysAt, width: int(kw), elem: Key}
	if keys.n, err = sized(r.buf, keysAt, keys.width, keys.width, 0); err != nil {
		return MapRef{}, fmt.Errorf("map keys: %w", err)
	}
	if keys.n != values.n {
		return MapRef{}, malformedf("map has %d keys and %d values", keys.n, values.n)
	}
	return MapRef{values: values, keys: keys}, nil
}

// Len is the number of entries.
func (m MapRef) Len() int { return m.values.n }

// Key returns the key of entry i.
func (m MapRef) Key(i int) (string, error) {
	k, err := m.keys.At(i)
	if err != nil {
		return "", err
	}
	return k.Key()
}

// Value returns the value of entry i.
func (m MapRef) Value(i int) (Ref, error) { return m.values.At(i) }

// Keys returns the vector of keys.
func (m MapRef) Keys() Vec { return m.keys }

// Values returns the vector of values.
func (m MapRef) Values() Vec { return m.values }

// Get returns the value of key, or a null Ref when the map has no such key
// (as flexbuffers.h does). Keys are compared byte for byte; the scan is
// linear, so unsorted keys in a malformed buffer are still found.
func (m MapRef) Get(key string) (Ref, error) {
	r, _, err := m.Lookup(key)
	return r, err
}

// Lookup is Get that also reports whether the key is present.
func (m MapRef) Lookup(key string) (Ref, bool, error) {
	for i := 0; i < m.keys.n; i++ {
		k, err := m.Key(i)
		if err != nil {
			return Ref{}, false, err
		}
		if k == key {
			v, err := m.values.At(i)
			return v, err == nil, err
		}
	}
	return Ref{typ: Null}, false, nil
}
