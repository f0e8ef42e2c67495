package flexbuf

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Encode writes v as a FlexBuffer, choosing the narrowest widths as the C++
// builder does. It exists to build test models (custom operator options);
// the runtime only reads. Supported values:
//
//	nil                       null
//	bool                      bool
//	int, int8..int64          int
//	uint, uint8..uint64       uint
//	float32, float64          float (32-bit when exact)
//	string                    string
//	[]byte                    blob
//	[]int64                   typed int vector
//	[]float32                 typed float vector
//	[]any                     untyped vector
//	map[string]any            map (keys sorted)
func Encode(v any) ([]byte, error) {
	var e encoder
	val, err := e.value(v, 0)
	if err != nil {
		return nil, err
	}
	// The root slot: the narrowest width that holds the value (or the
	// offset to it).
	for _, w := range []int{1, 2, 4, 8} {
		pos := alignUp(len(e.buf), w)
		if !val.fits(pos, w) {
			continue
		}
		e.pad(pos)
		e.slot(val, w)
		e.buf = append(e.buf, val.packed(w), byte(w))
		return e.buf, nil
	}
	return nil, fmt.Errorf("encoding custom options: root does not fit in 8 bytes")
}

type encoder struct{ buf []byte }

// encVal is a value ready to be stored in a slot: an inline scalar or an
// offset to data already written.
type encVal struct {
	typ   Type
	bits  uint64 // inline: the value's bits (floats: float64 bits)
	width int    // inline: narrowest width; offset types: width of the data
	pos   int    // offset types: position of the data
}

func (v encVal) inline() bool { return v.typ.inline() }

// fits reports whether v can be stored in a slot of width w at pos.
func (v encVal) fits(pos, w int) bool {
	if v.inline() {
		return v.width <= w
	}
	return widthU(uint64(pos-v.pos)) <= w
}

// packed is the type byte: the type and, for inline values, the slot width
// (the data width for offset types).
func (v encVal) packed(slotWidth int) byte {
	w := v.width
	if v.inline() {
		w = slotWidth
	}
	return byte(v.typ)<<2 | widthCode(w)
}

func widthCode(w int) byte {
	switch w {
	case 1:
		return 0
	case 2:
		return 1
	case 4:
		return 2
	}
	return 3
}

func widthU(u uint64) int {
	switch {
	case u <= math.MaxUint8:
		return 1
	case u <= math.MaxUint16:
		return 2
	case u <= math.MaxUint32:
		return 4
	}
	return 8
}

func widthI(i int64) int {
	switch {
	case i >= math.MinInt8 && i <= math.MaxInt8:
		return 1
	case i >= math.MinInt16 && i <= math.MaxInt16:
		return 2
	case i >= math.MinInt32 && i <= math.MaxInt32:
		return 4
	}
	return 8
}

func alignUp(n, w int) int { return (n + w - 1) &^ (w - 1) }

func (e *encoder) pad(pos int) {
	for len(e.buf) < pos {
		e.buf = append(e.buf, 0)
	}
}

func (e *encoder) putUint(u uint64, w int) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], u)
	e.buf = append(e.buf, b[:w]...)
}

// slot writes v into a slot of width w at the end of the buffer.
func (e *encoder) slot(v encVal, w int) {
	switch {
	case !v.inline():
		e.putUint(uint64(len(e.buf)-v.pos), w)
	case v.typ == Float && w == 4:
		e.putUint(uint64(math.Float32bits(float32(math.Float64frombits(v.bits)))), w)
	default:
		e.putUint(v.bits, w)
	}
}

const maxDepth = 64

func (e *encoder) value(v any, depth int) (encVal, error) {
	if depth > maxDepth {
		return encVal{}, fmt.Errorf("encoding custom options: nesting deeper than %d", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		return encVal{typ: Null, width: 1}, nil
	case bool:
		var b uint64
		if x {
			b = 1
		}
		return encVal{typ: Bool, bits: b, width: 1}, nil
	case int:
		return intVal(int64(x)), nil
	case int8:
		return intVal(int64(x)), nil
	case int16:
		return intVal(int64(x)), nil
	case int32:
		return intVal(int64(x)), nil
	case int64:
		return intVal(x), nil
	case uint:
		return uintVal(uint64(x)), nil
	case uint8:
		return uintVal(uint64(x)), nil
	case uint16:
		return uintVal(uint64(x)), nil
	case uint32:
		return uintVal(uint64(x)), nil
	case uint64:
		return uintVal(x), nil
	case float32:
		return encVal{typ: Float, bits: math.Float64bits(float64(x)), width: 4}, nil
	case float64:
		w := 8
		if float64(float32(x)) == x || x != x {
			w = 4
		}
		return encVal{typ: Float, bits: math.Float64bits(x), width: w}, nil
	case string:
		return e.blob(String, []byte(x)), nil
	case []byte:
		return e.blob(Blob, x), nil
	case []int64:
		elems := make([]encVal, len(x))
		for i, n := range x {
			elems[i] = intVal(n)
		}
		return e.vector(VectorInt, elems, nil)
	case []float32:
		elems := make([]encVal, len(x))
		for i, f := range x {
			elems[i] = encVal{typ: Float, bits: math.Float64bits(float64(f)), width: 4}
		}
		return e.vector(VectorFloat, elems, nil)
	case []any:
		elems := make([]encVal, len(x))
		for i, el := range x {
			var err error
			if elems[i], err = e.value(el, depth+1); err != nil {
				return encVal{}, err
			}
		}
		return e.vector(Vector, elems, nil)
	case map[string]any:
		names := make([]string, 0, len(x))
		for k := range x {
			if strings.IndexByte(k, 0) >= 0 {
				return encVal{}, fmt.Errorf("encoding custom options: map key %q contains NUL", k)
			}
			names = append(names, k)
		}
		slices.Sort(names)
		keys := make([]encVal, len(names))
		for i, k := range names {
			keys[i] = encVal{typ: Key, pos: len(e.buf), width: 1}
			e.buf = append(e.buf, k...)
			e.buf = append(e.buf, 0)
		}
		keyVec, err := e.vector(VectorKey, keys, nil)
		if err != nil {
			return encVal{}, err
		}
		vals := make([]encVal, len(names))
		for i, k := range names {
			if vals[i], err = e.value(x[k], depth+1); err != nil {
				return encVal{}, err
			}
		}
		return e.vector(Map, vals, &keyVec)
	}
	return encVal{}, fmt.Errorf("encoding custom options: unsupported value of type %T", v)
}

func intVal(i int64) encVal { return encVal{typ: Int, bits: uint64(i), width: widthI(i)} }

func uintVal(u uint64) encVal { return encVal{typ: Uint, bits: u, width: widthU(u)} }

// blob writes a size-prefixed byte string (NUL-terminated for strings).
func (e *encoder) blob(t Type, b []byte) encVal {
	w := widthU(uint64(len(b)))
	e.pad(alignUp(len(e.buf), w))
	e.putUint(uint64(len(b)), w)
	pos := len(e.buf)
	e.buf = append(e.buf, b...)
	if t == String {
		e.buf = append(e.buf, 0)
	}
	return encVal{typ: t, pos: pos, width: w}
}

// vector writes elems (and, for a map, the reference to its keys vector)
// with the narrowest common width; untyped vectors and maps are followed
// by one type byte per element.
func (e *encoder) vector(t Type, elems []encVal, keys *encVal) (encVal, error) {
	prefix := 1
	if keys != nil {
		prefix = 3
	}
	for _, w := range []int{1, 2, 4, 8} {
		if widthU(uint64(len(elems))) > w {
			continue
		}
		start := alignUp(len(e.buf), w)
		data := start + prefix*w
		ok := true
		if keys != nil && (!keys.fits(start, w) || widthU(uint64(keys.width)) > w) {
			ok = false
		}
		for i, el := range elems {
			if !ok {
				break
			}
			ok = el.fits(data+i*w, w)
		}
		if !ok {
			continue
		}
		e.pad(start)
		if keys != nil {
			e.slot(*keys, w)
			e.putUint(uint64(keys.width), w)
		}
		e.putUint(uint64(len(elems)), w)
		for _, el := range elems {
			e.slot(el, w)
		}
		if t == Vector || t == Map {
			for _, el := range elems {
				e.buf = append(e.buf, el.packed(w))
			}
		}
		return encVal{typ: t, pos: data, width: w}, nil
	}
	return encVal{}, fmt.Errorf("encoding custom options: %s of %d elements does not fit", t, len(elems))
}
