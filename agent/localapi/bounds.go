package localapi

import (
	"encoding/json"
	"fmt"
)

// Bounds of a request's JSON that the body's size does not give: a body's
// worth of tiny items decodes into many times its size (4.6 million empty
// inputs in a 14 MB body took edged to 1.6 GiB, a shape of 7 million
// dimensions came back as a 14 MB error message). Requests are refused at
// the first item beyond a bound, before anything is decoded.
const (
	maxTensors = 1024 // inputs or outputs of a request
	maxDims    = 32   // dimensions of a shape
	maxParams  = 256  // parameters of a request, an input or an output
)

// The bounded forms of the request's lists; they convert to and from the
// plain slice and map types.
type (
	inputList  []requestInput
	outputList []requestedOuput
	shapeDims  []int
	paramMap   map[string]any
)

func (l *inputList) UnmarshalJSON(b []byte) error {
	return decodeBounded(b, (*[]requestInput)(l), maxTensors, "inputs")
}

func (l *outputList) UnmarshalJSON(b []byte) error {
	return decodeBounded(b, (*[]requestedOuput)(l), maxTensors, "outputs")
}

func (s *shapeDims) UnmarshalJSON(b []byte) error {
	return decodeBounded(b, (*[]int)(s), maxDims, "shape")
}

func (p *paramMap) UnmarshalJSON(b []byte) error {
	return decodeBounded(b, (*map[string]any)(p), maxParams, "parameters")
}

// decodeBounded decodes the JSON array or object b into v unless it has
// more than limit items. b is valid JSON (encoding/json checks the whole
// body before it calls an UnmarshalJSON method) and aliases the body, as
// rawData requires.
func decodeBounded(b []byte, v any, limit int, what string) error {
	if n := countItems(b, limit); n > limit {
		return fmt.Errorf("%s: more than %d items", what, limit)
	}
	return json.Unmarshal(b, v)
}

// countItems counts the items of the JSON array or object b (valid JSON),
// stopping once it has counted more than limit; a scalar counts 0.
func countItems(b []byte, limit int) int {
	depth, n, inString, escaped, empty := 0, 0, false, false, true
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth == 1 {
				continue
			}
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth == 1:
			n++
			if n >= limit {
				return n + 1
			}
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		if depth >= 1 {
			empty = false
		}
	}
	if empty {
		return 0
	}
	return n + 1
}
