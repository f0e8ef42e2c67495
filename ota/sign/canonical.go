package sign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// maxDepth bounds the nesting of objects and arrays, so hostile input cannot
// recurse deeply. Manifests nest four or five levels; profiles a few more.
const maxDepth = 64

// Canonical returns the canonical encoding of the JSON object in data with
// the top-level member named drop removed (drop "" removes nothing). It is
// the byte string that signatures cover; see the package documentation for
// the rule. Input that is not valid UTF-8, not a single JSON object, nested
// deeper than 64 levels, or that repeats a key within one object is
// rejected with ErrMalformed.
func Canonical(data []byte, drop string) ([]byte, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrMalformed)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	c := canonicalizer{d: d}
	tok, err := d.Token()
	if err != nil {
		return nil, c.syntax(err)
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: want a JSON object, found %s", ErrMalformed, describe(tok))
	}
	out, err := c.object(nil, 1, drop)
	if err != nil {
		return nil, err
	}
	if tok, err := d.Token(); err != io.EOF {
		if err != nil {
			return nil, c.syntax(err)
		}
		return nil, fmt.Errorf("%w: data after the JSON object: %s", ErrMalformed, describe(tok))
	}
	return out, nil
}

type canonicalizer struct {
	d *json.Decoder
}

func (c *canonicalizer) syntax(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: JSON at byte %d: %v", ErrMalformed, c.d.InputOffset(), err)
}

type member struct {
	key string
	val []byte
}

// object appends the canonical form of an object whose '{' has been read.
func (c *canonicalizer) object(out []byte, depth int, drop string) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: JSON nested deeper than %d levels", ErrMalformed, maxDepth)
	}
	var members []member
	for {
		tok, err := c.d.Token()
		if err != nil {
			return nil, c.syntax(err)
		}
		if tok == json.Delim('}') {
			break
		}
		key, ok := tok.(string)
		if !ok { // the decoder reports this itself; kept for clarity
			return nil, fmt.Errorf("%w: object key is %s", ErrMalformed, describe(tok))
		}
		val, err := c.value(nil, depth)
		if err != nil {
			return nil, err
		}
		members = append(members, member{key, val})
	}
	// Byte order of UTF-8 is code point order.
	slices.SortFunc(members, func(a, b member) int { return compareStrings(a.key, b.key) })
	for i := 1; i < len(members); i++ {
		if members[i].key == members[i-1].key {
			return nil, fmt.Errorf("%w: key %q appears twice in one object", ErrMalformed, members[i].key)
		}
	}
	out = append(out, '{')
	first := true
	for _, m := range members {
		if m.key == drop && drop != "" {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendString(out, m.key)
		out = append(out, ':')
		out = append(out, m.val...)
	}
	return append(out, '}'), nil
}

// value appends the canonical form of the next value.
func (c *canonicalizer) value(out []byte, depth int) ([]byte, error) {
	tok, err := c.d.Token()
	if err != nil {
		return nil, c.syntax(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return c.object(out, depth+1, "")
		case '[':
			return c.array(out, depth+1)
		}
		return nil, fmt.Errorf("%w: unexpected %q", ErrMalformed, rune(t))
	case string:
		return appendString(out, t), nil
	case json.Number:
		return append(out, t...), nil
	case bool:
		if t {
			return append(out, "true"...), nil
		}
		return append(out, "false"...), nil
	case nil:
		return append(out, "null"...), nil
	}
	return nil, fmt.Errorf("%w: unexpected token %s", ErrMalformed, describe(tok))
}

func (c *canonicalizer) array(out []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: JSON nested deeper than %d levels", ErrMalformed, maxDepth)
	}
	out = append(out, '[')
	for i := 0; ; i++ {
		if !c.d.More() {
			tok, err := c.d.Token()
			if err != nil {
				return nil, c.syntax(err)
			}
			if tok != json.Delim(']') {
				return nil, fmt.Errorf("%w: unexpected %s in array", ErrMalformed, describe(tok))
			}
			return append(out, ']'), nil
		}
		if i > 0 {
			out = append(out, ',')
		}
		var err error
		out, err = c.value(out, depth)
		if err != nil {
			return nil, err
		}
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendString writes s as a JSON string: '"' and '\' escaped, control
// characters below U+0020 as \b \t \n \f \r or \u00xx (lower-case hex), and
// everything else as literal UTF-8.
func appendString(out []byte, s string) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == '"' || b == '\\':
			out = append(out, '\\', b)
		case b == '\b':
			out = append(out, '\\', 'b')
		case b == '\t':
			out = append(out, '\\', 't')
		case b == '\n':
			out = append(out, '\\', 'n')
		case b == '\f':
			out = append(out, '\\', 'f')
		case b == '\r':
			out = append(out, '\\', 'r')
		case b < 0x20:
			out = append(out, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
		default:
			out = append(out, b)
		}
	}
	return append(out, '"')
}

func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}
