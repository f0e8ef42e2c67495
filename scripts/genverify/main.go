// Command genverify generates runtime/tflite/verify_gen.go, the per-table
// field layouts that the flatbuffer verifier of runtime/tflite interprets,
// from the FlatBuffers schema spec/schema.fbs.
//
// It understands the subset of the schema language the TFLite schema uses:
// namespace, file_identifier, file_extension, root_type, attribute, enums,
// unions and tables whose fields are scalars, enums, strings, tables,
// unions and vectors of scalars, enums, strings and tables. Anything else
// (structs, explicit field ids, vectors of unions...) is an error, so that a
// schema update that needs more cannot silently produce a weaker verifier.
//
// Usage (from the module root): go run ./scripts/genverify [-in spec/schema.fbs] [-out runtime/tflite/verify_gen.go]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
	"strconv"
	"strings"
	"unicode"
)

func main() {
	in := flag.String("in", "spec/schema.fbs", "schema to read")
	out := flag.String("out", "runtime/tflite/verify_gen.go", "Go file to write")
	flag.Parse()
	src, err := os.ReadFile(*in)
	if err != nil {
		fatal(err)
	}
	s, err := parse(string(src))
	if err != nil {
		fatal(fmt.Errorf("%s: %w", *in, err))
	}
	code, err := s.generate(*in)
	if err != nil {
		fatal(fmt.Errorf("%s: %w", *in, err))
	}
	if err := os.WriteFile(*out, code, 0o644); err != nil {
		fatal(err)
	}
	fmt.Printf("genverify: %d tables, %d unions -> %s\n", len(s.tables), len(s.unions), *out)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "genverify:", err)
	os.Exit(1)
}

type field struct {
	name       string
	typ        string // element type for vectors
	vector     bool
	deprecated bool
	required   bool
	line       int
}

type table struct {
	name   string
	fields []field
}

type union struct {
	name    string
	members map[int]string // type value -> table name
	max     int
}

type schema struct {
	fileIdent string
	rootType  string
	enums     map[string]string // enum -> underlying scalar type
	unions    []*union
	unionIdx  map[string]int
	tables    []*table
	tableIdx  map[string]int
}

// --- lexer ---

type token struct {
	text string
	line int
	str  bool // a quoted string literal (text without quotes)
}

func lex(src string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated comment", line)
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
		case c == '"':
			end := strings.IndexByte(src[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated string", line)
			}
			toks = append(toks, token{text: src[i+1 : i+1+end], line: line, str: true})
			i += end + 2
		case strings.ContainsRune("{}()[]:;,=", rune(c)):
			toks = append(toks, token{text: string(c), line: line})
			i++
		case c == '_' || c == '-' || c == '+' || c == '.' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)):
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '-' || src[j] == '+' || src[j] == '.' || unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			toks = append(toks, token{text: src[i:j], line: line})
			i = j
		default:
			return nil, fmt.Errorf("line %d: unexpected character %q", line, c)
		}
	}
	return toks, nil
}

// --- parser ---

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{text: "<eof>"}
}

func (p *parser) next() token {
	t := p.peek()
	p.pos++
	return t
}

func (p *parser) expect(text string) error {
	if t := p.next(); t.text != text || t.str {
		return fmt.Errorf("line %d: got %q; want %q", t.line, t.text, text)
	}
	return nil
}

func (p *parser) ident() (token, error) {
	t := p.next()
	if t.str || t.text == "<eof>" || strings.ContainsAny(t.text[:1], "{}()[]:;,=") {
		return t, fmt.Errorf("line %d: got %q; want a name", t.line, t.text)
	}
	return t, nil
}

// attrs parses an optional "(name[: value], ...)" list.
func (p *parser) attrs() (map[string]string, error) {
	a := map[string]string{}
	if p.peek().text != "(" {
		return a, nil
	}
	p.next()
	for {
		t, err := p.ident()
		if err != nil {
			return nil, err
		}
		val := ""
		if p.peek().text == ":" {
			p.next()
			val = p.next().text
		}
		a[t.text] = val
		switch n := p.next(); n.text {
		case ",":
		case ")":
			return a, nil
		default:
			return nil, fmt.Errorf("line %d: got %q in attribute list", n.line, n.text)
		}
	}
}

var scalarSize = map[string]int{
	"bool": 1, "byte": 1, "ubyte": 1, "int8": 1, "uint8": 1,
	"short": 2, "ushort": 2, "int16": 2, "uint16": 2,
	"int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4,
	"long": 8, "ulong": 8, "int64": 8, "uint64": 8, "double": 8, "float64": 8,
}

func parse(src string) (*schema, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	s := &schema{enums: map[string]string{}, unionIdx: map[string]int{}, tableIdx: map[string]int{}}
	for p.pos < len(p.toks) {
		kw := p.next()
		switch kw.text {
		case "namespace", "root_type", "file_identifier", "file_extension", "attribute", "include":
			v := p.next()
			switch kw.text {
			case "root_type":
				s.rootType = v.text
			case "file_identifier":
				s.fileIdent = v.text
			}
			if err := p.expect(";"); err != nil {
				return nil, err
			}
		case "enum":
			if err := s.parseEnum(p); err != nil {
				return nil, err
			}
		case "union":
			if err := s.parseUnion(p); err != nil {
				return nil, err
			}
		case "table":
			if err := s.parseTable(p); err != nil {
				return nil, err
			}
		default:
			// structs are not used by the TFLite schema; supporting them
			// would need inline layouts.
			return nil, fmt.Errorf("line %d: unsupported declaration %q", kw.line, kw.text)
		}
	}
	if s.rootType == "" {
		return nil, fmt.Errorf("no root_type")
	}
	return s, s.check()
}

func (s *schema) parseEnum(p *parser) error {
	name, err := p.ident()
	if err != nil {
		return err
	}
	if err := p.expect(":"); err != nil {
		return err
	}
	under, err := p.ident()
	if err != nil {
		return err
	}
	if _, ok := scalarSize[under.text]; !ok || under.text == "float" || under.text == "double" {
		return fmt.Errorf("line %d: enum %s has underlying type %q", under.line, name.text, under.text)
	}
	if _, err := p.attrs(); err != nil {
		return err
	}
	if err := p.expect("{"); err != nil {
		return err
	}
	// Enum values do not matter to the verifier (like FlatBuffers' own, it
	// does not check that a value is declared): skip to the closing brace.
	for t := p.next(); t.text != "}"; t = p.next() {
		if t.text == "<eof>" {
			return fmt.Errorf("line %d: enum %s not closed", name.line, name.text)
		}
	}
	s.enums[name.text] = under.text
	return nil
}

func (s *schema) parseUnion(p *parser) error {
	name, err := p.ident()
	if err != nil {
		return err
	}
	if _, err := p.attrs(); err != nil {
		return err
	}
	if err := p.expect("{"); err != nil {
		return err
	}
	u := &union{name: name.text, members: map[int]string{}}
	next := 1 // 0 is NONE
	for p.peek().text != "}" {
		m, err := p.ident()
		if err != nil {
			return err
		}
		if p.peek().text == ":" {
			return fmt.Errorf("line %d: union %s: aliased members are not supported", m.line, name.text)
		}
		// "(deprecated)" on a member keeps its value: it still numbers the
		// members after it, and files may carry it.
		if _, err := p.attrs(); err != nil {
			return err
		}
		if p.peek().text == "=" {
			p.next()
			v, err := strconv.Atoi(p.next().text)
			if err != nil {
				return fmt.Errorf("line %d: union %s: %w", m.line, name.text, err)
			}
			next = v
		}
		if _, dup := u.members[next]; dup || next < 1 || next > 255 {
			return fmt.Errorf("line %d: union %s: bad value %d for %s", m.line, name.text, next, m.text)
		}
		u.members[next] = m.text
		u.max = max(u.max, next)
		next++
		if p.peek().text == "," {
			p.next()
		}
	}
	p.next()
	s.unionIdx[u.name] = len(s.unions)
	s.unions = append(s.unions, u)
	return nil
}

func (s *schema) parseTable(p *parser) error {
	name, err := p.ident()
	if err != nil {
		return err
	}
	// "(deprecated)" on a table only affects code generation for it; files
	// may still hold it (through a union), so it is verified like any other.
	if _, err := p.attrs(); err != nil {
		return err
	}
	if err := p.expect("{"); err != nil {
		return err
	}
	t := &table{name: name.text}
	for p.peek().text != "}" {
		fn, err := p.ident()
		if err != nil {
			return err
		}
		if err := p.expect(":"); err != nil {
			return err
		}
		f := field{name: fn.text, line: fn.line}
		if p.peek().text == "[" {
			p.next()
			f.vector = true
		}
		ft, err := p.ident()
		if err != nil {
			return err
		}
		f.typ = ft.text
		if f.vector {
			if err := p.expect("]"); err != nil {
				return err
			}
		}
		if p.peek().text == "=" {
			p.next()
			p.next() // default value: irrelevant to the layout
		}
		a, err := p.attrs()
		if err != nil {
			return err
		}
		for k := range a {
			switch k {
			case "deprecated":
				f.deprecated = true
			case "required":
				f.required = true
			case "force_align", "key":
				// force_align: flatc's C++ verifier does not check it
				// either; the loader copies misaligned buffers.
			default:
				// id, nested_flatbuffer, flexbuffer...: would change
				// the layout or what must be verified.
				return fmt.Errorf("line %d: field %s.%s: unsupported attribute %q", fn.line, t.name, f.name, k)
			}
		}
		if err := p.expect(";"); err != nil {
			return err
		}
		t.fields = append(t.fields, f)
	}
	p.next()
	if _, dup := s.tableIdx[t.name]; dup {
		return fmt.Errorf("line %d: table %s declared twice", name.line, t.name)
	}
	s.tableIdx[t.name] = len(s.tables)
	s.tables = append(s.tables, t)
	return nil
}

// check resolves every type name.
func (s *schema) check() error {
	if _, ok := s.tableIdx[s.rootType]; !ok {
		return fmt.Errorf("root_type %s is not a table", s.rootType)
	}
	for _, u := range s.unions {
		for _, m := range u.members {
			if _, ok := s.tableIdx[m]; !ok {
				return fmt.Errorf("union %s: member %s is not a table", u.name, m)
			}
		}
	}
	for _, t := range s.tables {
		for _, f := range t.fields {
			if _, err := s.kind(f); err != nil {
				return fmt.Errorf("line %d: %s.%s: %w", f.line, t.name, f.name, err)
			}
		}
	}
	return nil
}

// kind returns the Go expression of the field's vKind constant.
func (s *schema) kind(f field) (string, error) {
	if f.typ == "string" {
		if f.vector {
			return "vVecString", nil
		}
		return "vString", nil
	}
	if _, ok := s.scalar(f.typ); ok {
		if f.vector {
			return "vVecScalar", nil
		}
		return "vScalar", nil
	}
	if _, ok := s.tableIdx[f.typ]; ok {
		if f.vector {
			return "vVecTable", nil
		}
		return "vTable", nil
	}
	if _, ok := s.unionIdx[f.typ]; ok {
		if f.vector {
			return "", fmt.Errorf("vectors of unions are not supported")
		}
		return "vUnion", nil
	}
	return "", fmt.Errorf("unknown type %q", f.typ)
}

func (s *schema) scalar(typ string) (int, bool) {
	if u, ok := s.enums[typ]; ok {
		typ = u
	}
	n, ok := scalarSize[typ]
	return n, ok
}

// elemLabel names one element of a vector of tables in error messages:
// "subgraphs" -> "subgraph", "operator_codes" -> "operator code".
func elemLabel(name string) string {
	if strings.HasSuffix(name, "s") && !strings.HasSuffix(name, "ss") {
		name = name[:len(name)-1]
	}
	return strings.ReplaceAll(name, "_", " ")
}

func goName(prefix, name string) string { return prefix + name }

func (s *schema) generate(in string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by scripts/genverify from %s. DO NOT EDIT.\n\n", in)
	b.WriteString("package tflite\n\n")
	fmt.Fprintf(&b, "// verifyFileIdentifier is the schema's file_identifier.\nconst verifyFileIdentifier = %q\n\n", s.fileIdent)
	b.WriteString("// Tables of the schema, in declaration order.\nconst (\n")
	for i, t := range s.tables {
		if i == 0 {
			fmt.Fprintf(&b, "\t%s vTableID = iota\n", goName("vt", t.name))
		} else {
			fmt.Fprintf(&b, "\t%s\n", goName("vt", t.name))
		}
	}
	b.WriteString(")\n\n")
	fmt.Fprintf(&b, "// verifyRoot is the schema's root_type.\nconst verifyRoot = %s\n\n", goName("vt", s.rootType))
	b.WriteString("// Unions of the schema, in declaration order.\nconst (\n")
	for i, u := range s.unions {
		if i == 0 {
			fmt.Fprintf(&b, "\t%s vUnionID = iota\n", goName("vu", u.name))
		} else {
			fmt.Fprintf(&b, "\t%s\n", goName("vu", u.name))
		}
	}
	b.WriteString(")\n\n")

	b.WriteString("// vUnions maps each union's type values to member tables (-1: none).\nvar vUnions = [...]vUnionSpec{\n")
	for _, u := range s.unions {
		fmt.Fprintf(&b, "\t%s: {name: %q, members: []vTableID{", goName("vu", u.name), u.name)
		for v := 0; v <= u.max; v++ {
			if v > 0 {
				b.WriteString(", ")
			}
			if m, ok := u.members[v]; ok {
				b.WriteString(goName("vt", m))
			} else {
				b.WriteString("-1")
			}
		}
		b.WriteString("}},\n")
	}
	b.WriteString("}\n\n")

	b.WriteString("// vTables holds the layout of every table: each field's vtable slot and\n// how to verify it. Deprecated fields keep their slot but are skipped\n// (no accessor reads them).\nvar vTables = [...]vTableSpec{\n")
	for _, t := range s.tables {
		nameSlot := 0
		var fb bytes.Buffer
		id := 0
		for _, f := range t.fields {
			slot := 4 + 2*id
			_, isUnion := s.unionIdx[f.typ]
			if isUnion && !f.vector {
				id += 2 // the implicit <name>_type field comes first
			} else {
				id++
			}
			if f.deprecated {
				continue
			}
			kind, _ := s.kind(f)
			req := ""
			if f.required {
				req = ", required: true"
			}
			switch kind {
			case "vScalar", "vVecScalar":
				n, _ := s.scalar(f.typ)
				fmt.Fprintf(&fb, "\t\t{name: %q, slot: %d, kind: %s, size: %d%s},\n", f.name, slot, kind, n, req)
			case "vString", "vVecString":
				if f.name == "name" && kind == "vString" {
					nameSlot = slot
				}
				fmt.Fprintf(&fb, "\t\t{name: %q, slot: %d, kind: %s, size: 4%s},\n", f.name, slot, kind, req)
			case "vTable":
				fmt.Fprintf(&fb, "\t\t{name: %q, slot: %d, kind: %s, size: 4, ref: int16(%s)%s},\n", f.name, slot, kind, goName("vt", f.typ), req)
			case "vVecTable":
				fmt.Fprintf(&fb, "\t\t{name: %q, label: %q, slot: %d, kind: %s, size: 4, ref: int16(%s)%s},\n", f.name, elemLabel(f.name), slot, kind, goName("vt", f.typ), req)
			case "vUnion":
				fmt.Fprintf(&fb, "\t\t{name: %q, slot: %d, kind: vScalar, size: 1},\n", f.name+"_type", slot)
				fmt.Fprintf(&fb, "\t\t{name: %q, slot: %d, kind: vUnion, size: 4, ref: int16(%s)%s},\n", f.name, slot+2, goName("vu", f.typ), req)
			}
		}
		fmt.Fprintf(&b, "\t%s: {name: %q", goName("vt", t.name), t.name)
		if nameSlot != 0 {
			fmt.Fprintf(&b, ", nameSlot: %d", nameSlot)
		}
		if fb.Len() == 0 {
			b.WriteString("},\n")
			continue
		}
		b.WriteString(", fields: []vField{\n")
		b.Write(fb.Bytes())
		b.WriteString("\t}},\n")
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}
