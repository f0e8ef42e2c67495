package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// An entry in the file is kind (1 byte), the topic's length (uvarint),
// the topic and the payload.

func encodeEntry(kind Kind, topic string, payload []byte) []byte {
	v := make([]byte, 0, 1+binary.MaxVarintLen32+len(topic)+len(payload))
	v = append(v, byte(kind))
	v = binary.AppendUvarint(v, uint64(len(topic)))
	v = append(v, topic...)
	return append(v, payload...)
}

// decodeEntry splits an entry; payload aliases v.
func decodeEntry(v []byte) (kind Kind, topic string, payload []byte, err error) {
	if len(v) < 2 {
		return 0, "", nil, fmt.Errorf("entry of %d bytes; want at least 2", len(v))
	}
	kind = Kind(v[0])
	if !kind.valid() {
		return 0, "", nil, fmt.Errorf("entry of kind %d; want 1..%d", v[0], numKinds)
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n == 0 || n > uint64(len(v)-1-w) {
		return 0, "", nil, errors.New("entry with a bad topic length")
	}
	rest := v[1+w:]
	return kind, string(rest[:n]), rest[n:], nil
}

// entrySize is what a message counts for against MaxBytes.
func entrySize(topic string, payload []byte) int64 {
	return int64(len(topic) + len(payload) + Overhead)
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func kindKey(kind Kind, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{byte(kind)}, seq)
}

// checkPayload checks that p is a JSON object without a top-level "seq".
func checkPayload(p []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(p, &members); err != nil {
		return fmt.Errorf("payload: want a JSON object: %w", err)
	}
	if members == nil {
		return errors.New("payload: want a JSON object; found null")
	}
	if _, ok := members["seq"]; ok {
		return errors.New(`payload: has a top-level "seq"; the outbox sets it`)
	}
	return nil
}

// envelope returns the payload as sent: the JSON object p with "seq" as
// its first member. p has passed checkPayload.
func envelope(seq uint64, p []byte) []byte {
	p = bytes.TrimLeft(p, " \t\r\n")[1:] // after '{'
	inner := bytes.TrimLeft(p, " \t\r\n")
	out := make([]byte, 0, len(p)+32)
	out = append(out, `{"seq":`...)
	out = strconv.AppendUint(out, seq, 10)
	if len(inner) > 0 && inner[0] != '}' {
		out = append(out, ',')
	}
	return append(out, inner...)
}
