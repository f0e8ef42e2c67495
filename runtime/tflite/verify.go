package tflite

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// The verifier checks a TFLite flatbuffer the way FlatBuffers' C++
// Verifier does, so that the generated accessors of package schema (which
// trust the buffer and panic on bad offsets) can never read out of bounds.
// It interprets the table layouts that scripts/genverify generates from
// spec/schema.fbs (verify_gen.go), so every table reachable from Model is
// covered, including every builtin options table of both option unions.
//
// Checked: the root offset and file identifier; for every table, its
// alignment, vtable offset, size and alignment, object size, and each
// field of its type: scalars inside the object and aligned, offsets
// non-zero and forward into the buffer, strings with their length and NUL
// terminator in bounds, vectors with length*element size in bounds and
// aligned elements, sub-tables and union members recursively. Depth and
// the number of objects are bounded so hostile files cannot cost much time
// or memory. Offsets only point forward, so cycles cannot occur.

// Verifier limits. Real models nest at most ~6 tables deep and hold well
// under a million objects (tables and strings); the C++ verifier uses the
// same defaults (64, 1,000,000).
const (
	verifyMaxDepth   = 64
	verifyMaxObjects = 1_000_000
)

// vKind says how a field is stored.
type vKind uint8

const (
	vScalar    vKind = iota // inline scalar of size bytes
	vString                 // offset to a string
	vTable                  // offset to a table of type ref
	vUnion                  // offset to a table chosen by the preceding _type field
	vVecScalar              // offset to a vector of size-byte scalars
	vVecString              // offset to a vector of offsets to strings
	vVecTable               // offset to a vector of offsets to tables of type ref
)

type (
	vTableID int16
	vUnionID int16
)

// vField is one non-deprecated field of a table.
type vField struct {
	name     string
	label    string // for vVecTable: how one element is named in errors
	slot     uint16 // byte offset of the field's entry in the vtable
	kind     vKind
	size     uint8 // scalar or vector element size; 4 for offsets
	ref      int16 // vTableID (vTable, vVecTable) or vUnionID (vUnion)
	required bool
}

type vTableSpec struct {
	name     string
	nameSlot uint16 // slot of a "name" string field (for errors), or 0
	fields   []vField
}

type vUnionSpec struct {
	name    string
	members []vTableID // by type value; -1 for NONE and holes
}

// verify checks the flatbuffer structure of a model before any accessor
// reads it. Errors say where the problem is; Decode wraps them in
// ErrMalformed.
func verify(data []byte) error {
	if len(data) < 8 {
		return fmt.Errorf("%d bytes is too short for a flatbuffer", len(data))
	}
	if len(data) > MaxModelSize {
		return fmt.Errorf("%d bytes is larger than the 2 GiB a flatbuffer can address", len(data))
	}
	if string(data[4:8]) != verifyFileIdentifier {
		return fmt.Errorf("file identifier %q; want %q (not a TFLite model)", data[4:8], verifyFileIdentifier)
	}
	v := &verifier{buf: data, n: int64(len(data)), objects: verifyMaxObjects}
	root, err := v.offset(0)
	if err != nil {
		return fmt.Errorf("root offset: %w", err)
	}
	return v.table(verifyRoot, root)
}

// verifier holds the state of one verification. path describes where it is,
// for error messages only; it is rendered when an error occurs.
type verifier struct {
	buf     []byte
	n       int64
	depth   int
	objects int // remaining budget
	path    []vPathElem
}

type vPathElem struct {
	field string // field name, or a vector element's label
	index int    // element index, or -1 for a field
	table int64  // for elements: position of the element's table, or -1
	spec  int16  // for elements: vTableID of the element, or -1
	union string // for union fields: the member type
}

// errorf returns an error prefixed with the current path, e.g.
// `subgraph 0 tensor 12 "conv1/weights": quantization.scale vector length ...`.
func (v *verifier) errorf(format string, args ...any) error {
	var b strings.Builder
	prevField := false
	for i, e := range v.path {
		if e.index >= 0 {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s %d", e.field, e.index)
			if e.spec >= 0 && e.table >= 0 {
				if name, ok := v.peekName(e.table, vTables[e.spec].nameSlot); ok {
					fmt.Fprintf(&b, " %q", name)
				}
			}
			prevField = false
			continue
		}
		switch {
		case prevField:
			b.WriteByte('.')
		case i > 0:
			b.WriteString(": ")
		}
		b.WriteString(e.field)
		if e.union != "" {
			fmt.Fprintf(&b, "(%s)", e.union)
		}
		prevField = true
	}
	msg := fmt.Sprintf(format, args...)
	switch {
	case b.Len() == 0:
		return fmt.Errorf("%s", msg)
	case !prevField:
		b.WriteString(":")
	}
	return fmt.Errorf("%s %s", b.String(), msg)
}

func (v *verifier) u16(pos int64) uint16 { return binary.LittleEndian.Uint16(v.buf[pos:]) }
func (v *verifier) u32(pos int64) uint32 { return binary.LittleEndian.Uint32(v.buf[pos:]) }

// offset reads the uoffset at pos (which must be in bounds and aligned)
// and returns its target, checking it like FlatBuffers' VerifyOffset:
// non-zero, below 2^31 and inside the buffer.
func (v *verifier) offset(pos int64) (int64, error) {
	if pos%4 != 0 || pos+4 > v.n {
		return 0, v.errorf("offset at %d is misaligned or past the end (%d bytes)", pos, v.n)
	}
	o := int64(v.u32(pos))
	switch {
	case o == 0:
		return 0, v.errorf("offset at %d is 0 (points to itself)", pos)
	case o >= 1<<31:
		return 0, v.errorf("offset at %d is %d, beyond 2^31", pos, o)
	case pos+o >= v.n:
		return 0, v.errorf("offset at %d points to %d, past the end of the buffer (%d bytes)", pos, pos+o, v.n)
	}
	return pos + o, nil
}

// vector checks the vector at pos and returns its length and the position
// of its first element.
func (v *verifier) vector(pos int64, elemSize int64) (n, data int64, err error) {
	if pos%4 != 0 {
		return 0, 0, v.errorf("vector at %d is not aligned to 4", pos)
	}
	if pos+4 > v.n {
		return 0, 0, v.errorf("vector length at %d is past the end of the buffer (%d bytes)", pos, v.n)
	}
	n = int64(v.u32(pos))
	data = pos + 4
	if n*elemSize > v.n-data {
		return 0, 0, v.errorf("vector length %d exceeds the buffer (offset %d, %d bytes)", n, pos, v.n)
	}
	// Elements wider than the 4-byte length prefix need not be aligned to
	// their size: FlatBuffers' own verifier checks only the prefix, real
	// exporters (Ultralytics' int8 YOLO files) write such int64 vectors, and
	// the accessors read elements byte by byte.
	return n, data, nil
}

func (v *verifier) string(pos int64) error {
	if err := v.spend(); err != nil {
		return err
	}
	n, data, err := v.vector(pos, 1)
	if err != nil {
		return err
	}
	if data+n >= v.n {
		return v.errorf("string of length %d at %d has no NUL terminator inside the buffer (%d bytes)", n, pos, v.n)
	}
	if v.buf[data+n] != 0 {
		return v.errorf("string of length %d at %d is not NUL-terminated", n, pos)
	}
	return nil
}

func (v *verifier) spend() error {
	v.objects--
	if v.objects < 0 {
		return v.errorf("more than %d tables and strings", verifyMaxObjects)
	}
	return nil
}

// tableLayout checks a table's own structure and returns its vtable
// position, vtable size and object size.
func (v *verifier) tableLayout(pos int64) (vt, vsize, tsize int64, err error) {
	if pos%4 != 0 || pos+4 > v.n {
		return 0, 0, 0, v.errorf("table at %d is misaligned or past the end of the buffer (%d bytes)", pos, v.n)
	}
	vt = pos - int64(int32(v.u32(pos)))
	if vt < 0 || vt+4 > v.n {
		return 0, 0, 0, v.errorf("table at %d has its vtable at %d, outside the buffer (%d bytes)", pos, vt, v.n)
	}
	if vt%2 != 0 {
		return 0, 0, 0, v.errorf("table at %d has a misaligned vtable at %d", pos, vt)
	}
	vsize, tsize = int64(v.u16(vt)), int64(v.u16(vt+2))
	if vsize < 4 || vsize%2 != 0 || vt+vsize > v.n {
		return 0, 0, 0, v.errorf("table at %d: vtable at %d has bad size %d", pos, vt, vsize)
	}
	if tsize < 4 || pos+tsize > v.n {
		return 0, 0, 0, v.errorf("table at %d: object size %d exceeds the buffer (%d bytes)", pos, tsize, v.n)
	}
	return vt, vsize, tsize, nil
}

// table verifies the table of type id at pos and everything it refers to.
func (v *verifier) table(id vTableID, pos int64) error {
	if v.depth >= verifyMaxDepth {
		return v.errorf("tables nested more than %d deep", verifyMaxDepth)
	}
	if err := v.spend(); err != nil {
		return err
	}
	v.depth++
	defer func() { v.depth-- }()
	spec := &vTables[id]
	vt, vsize, tsize, err := v.tableLayout(pos)
	if err != nil {
		return err
	}
	for i := range spec.fields {
		f := &spec.fields[i]
		var fo int64
		if int64(f.slot)+2 <= vsize {
			fo = int64(v.u16(vt + int64(f.slot)))
		}
		if fo == 0 && !f.required {
			continue
		}
		v.path = append(v.path, vPathElem{field: f.name, index: -1, table: -1, spec: -1})
		err := v.field(f, pos, vt, vsize, tsize, fo)
		v.path = v.path[:len(v.path)-1]
		if err != nil {
			return err
		}
	}
	return nil
}

// field verifies field f, stored at +fo in the table at pos (fo = 0:
// absent), and what it refers to.
func (v *verifier) field(f *vField, pos, vt, vsize, tsize, fo int64) error {
	if fo == 0 {
		return v.errorf("is missing; it is required")
	}
	size := int64(f.size) // the inline size: the scalar, or a 4-byte offset
	if f.kind != vScalar {
		size = 4
	}
	if fo < 4 || fo+size > tsize {
		return v.errorf("field at +%d (%d bytes) is outside the %d-byte object at %d", fo, size, tsize, pos)
	}
	fp := pos + fo
	if fp%size != 0 {
		return v.errorf("field at %d is not aligned to %d", fp, size)
	}
	switch f.kind {
	case vScalar:
		return nil
	case vUnion:
		return v.union(f, pos, vt, vsize, fp)
	}
	target, err := v.offset(fp)
	if err != nil {
		return err
	}
	switch f.kind {
	case vString:
		return v.string(target)
	case vTable:
		return v.table(vTableID(f.ref), target)
	case vVecScalar:
		_, _, err := v.vector(target, int64(f.size))
		return err
	case vVecString:
		n, data, err := v.vector(target, 4)
		if err != nil {
			return err
		}
		for i := int64(0); i < n; i++ {
			s, err := v.offset(data + 4*i)
			if err == nil {
				err = v.string(s)
			}
			if err != nil {
				return fmt.Errorf("%w (element %d)", err, i)
			}
		}
		return nil
	case vVecTable:
		n, data, err := v.vector(target, 4)
		if err != nil {
			return err
		}
		// The vector-of-tables field is named by its elements' label.
		top := len(v.path) - 1
		v.path[top] = vPathElem{field: f.label, index: -1, table: -1, spec: f.ref}
		for i := int64(0); i < n; i++ {
			v.path[top].index, v.path[top].table = int(i), -1
			t, err := v.offset(data + 4*i)
			if err != nil {
				return err
			}
			v.path[top].table = t
			if err := v.table(vTableID(f.ref), t); err != nil {
				return err
			}
		}
		return nil
	}
	return v.errorf("field kind %d (verifier bug)", f.kind)
}

// union verifies a union value by the type in the _type field that
// precedes it (one slot earlier).
func (v *verifier) union(f *vField, pos, vt, vsize, fp int64) error {
	u := &vUnions[f.ref]
	typ := 0
	if ts := int64(f.slot) - 2; ts+2 <= vsize {
		// The _type field precedes this one in the spec, so it was
		// already checked to lie inside the object.
		if to := int64(v.u16(vt + ts)); to != 0 && pos+to < v.n {
			typ = int(v.buf[pos+to])
		}
	}
	if typ == 0 {
		// NONE: no accessor reads the value.
		return nil
	}
	target, err := v.offset(fp)
	if err != nil {
		return err
	}
	if typ >= len(u.members) || u.members[typ] < 0 {
		// A type newer than the schema: accepted like FlatBuffers does; it
		// can never match the type an operator asks for, so its table is
		// never read.
		return nil
	}
	m := u.members[typ]
	v.path[len(v.path)-1].union = vTables[m].name
	return v.table(m, target)
}

// peekName reads the string field at slot of the table at pos for an
// error message, checking everything (the table may be the broken one).
func (v *verifier) peekName(pos int64, slot uint16) (string, bool) {
	if slot == 0 {
		return "", false
	}
	// Use a fresh verifier: no path, no budget effects.
	w := &verifier{buf: v.buf, n: v.n, objects: 1}
	vt, vsize, tsize, err := w.tableLayout(pos)
	if err != nil || int64(slot)+2 > vsize {
		return "", false
	}
	fo := int64(w.u16(vt + int64(slot)))
	if fo < 4 || fo+4 > tsize || (pos+fo)%4 != 0 {
		return "", false
	}
	s, err := w.offset(pos + fo)
	if err != nil || w.string(s) != nil {
		return "", false
	}
	n := int64(w.u32(s))
	const maxName = 64
	name := string(w.buf[s+4 : s+4+min(n, maxName)])
	if n > maxName {
		name += "..."
	}
	return name, true
}
