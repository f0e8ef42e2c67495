package fleet

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Prefix starts every topic of the protocol.
const Prefix = "edged/v1"

// MaxIDLen bounds a device, group, op or command id in bytes.
const MaxIDLen = 128

// MaxChunkIndex bounds the index of a blob chunk.
const MaxChunkIndex = 1<<20 - 1

// Kind says which of the protocol's topics a Topic is.
type Kind int

// The kinds of topic. KindInvalid is the zero value.
const (
	KindInvalid      Kind = iota
	KindState             // dev/{id}/state
	KindTelemetry         // dev/{id}/telemetry
	KindDrift             // dev/{id}/drift
	KindEvents            // dev/{id}/events
	KindCommand           // dev/{id}/cmd/{op}/{cmdid}
	KindStatus            // dev/{id}/cmd/{op}/{cmdid}/status
	KindGroupCommand      // group/{group}/cmd/{op}/{cmdid}
	KindBlobChunk         // blob/{sha256}/{index}
	KindBlobMeta          // blob/{sha256}/meta
)

var kindNames = [...]string{"invalid", "state", "telemetry", "drift", "events", "command", "status", "group command", "blob chunk", "blob meta"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Topic is a parsed topic name. Only the fields of its Kind are set.
type Topic struct {
	Kind   Kind
	Device string // state, telemetry, drift, events, command, status
	Group  string // group command
	Op     string // command, status, group command
	CmdID  string // command, status, group command
	SHA256 string // blob chunk, blob meta: 64 lowercase hex digits
	Index  int    // blob chunk
}

// String builds the topic name; it is "" for KindInvalid.
func (t Topic) String() string {
	switch t.Kind {
	case KindState:
		return StateTopic(t.Device)
	case KindTelemetry:
		return TelemetryTopic(t.Device)
	case KindDrift:
		return DriftTopic(t.Device)
	case KindEvents:
		return EventsTopic(t.Device)
	case KindCommand:
		return CommandTopic(t.Device, t.Op, t.CmdID)
	case KindStatus:
		return StatusTopic(t.Device, t.Op, t.CmdID)
	case KindGroupCommand:
		return GroupCommandTopic(t.Group, t.Op, t.CmdID)
	case KindBlobChunk:
		return BlobChunkTopic(t.SHA256, t.Index)
	case KindBlobMeta:
		return BlobMetaTopic(t.SHA256)
	}
	return ""
}

// StateTopic is where device id publishes its retained State.
func StateTopic(id string) string { return Prefix + "/dev/" + id + "/state" }

// TelemetryTopic is where device id publishes Telemetry snapshots.
func TelemetryTopic(id string) string { return Prefix + "/dev/" + id + "/telemetry" }

// DriftTopic is where device id publishes drift reports.
func DriftTopic(id string) string { return Prefix + "/dev/" + id + "/drift" }

// EventsTopic is where device id publishes Events.
func EventsTopic(id string) string { return Prefix + "/dev/" + id + "/events" }

// CommandTopic is where the operator publishes command cmdID with op op
// for device id.
func CommandTopic(id, op, cmdID string) string {
	return Prefix + "/dev/" + id + "/cmd/" + op + "/" + cmdID
}

// StatusTopic is where device id writes the CommandStatus of a command,
// whether it came for the device or for one of its groups.
func StatusTopic(id, op, cmdID string) string { return CommandTopic(id, op, cmdID) + "/status" }

// GroupCommandTopic is where the operator publishes a command for every
// device of group.
func GroupCommandTopic(group, op, cmdID string) string {
	return Prefix + "/group/" + group + "/cmd/" + op + "/" + cmdID
}

// BlobChunkTopic holds chunk index of the blob whose sha256 (hex) is sum.
func BlobChunkTopic(sum string, index int) string {
	return Prefix + "/blob/" + sum + "/" + strconv.Itoa(index)
}

// BlobMetaTopic holds the BlobMeta of the blob whose sha256 (hex) is sum.
func BlobMetaTopic(sum string) string { return Prefix + "/blob/" + sum + "/meta" }

// CommandFilter matches every command for device id (not its statuses).
func CommandFilter(id string) string { return Prefix + "/dev/" + id + "/cmd/+/+" }

// GroupCommandFilter matches every command for group.
func GroupCommandFilter(group string) string { return Prefix + "/group/" + group + "/cmd/+/+" }

// ErrBadTopic is returned (wrapped) by ParseTopic for a topic that is not
// one of the protocol's.
var ErrBadTopic = errors.New("not an edged/v1 topic")

// ParseTopic parses a topic name of the protocol. It checks every id and
// returns an error wrapping ErrBadTopic for anything else.
func ParseTopic(topic string) (Topic, error) {
	t, err := parseTopic(topic)
	if err != nil {
		if len(topic) > 200 {
			topic = topic[:200] + "..."
		}
		return Topic{}, fmt.Errorf("topic %q: %w: %w", topic, ErrBadTopic, err)
	}
	return t, nil
}

func parseTopic(topic string) (Topic, error) {
	rest, ok := strings.CutPrefix(topic, Prefix+"/")
	if !ok {
		return Topic{}, fmt.Errorf("want prefix %s/", Prefix)
	}
	p := strings.Split(rest, "/")
	if len(p) > 6 {
		return Topic{}, fmt.Errorf("%d levels after the prefix; want at most 6", len(p))
	}
	switch p[0] {
	case "dev":
		return parseDev(p[1:])
	case "group":
		if len(p) != 5 || p[2] != "cmd" {
			return Topic{}, errors.New("want group/{group}/cmd/{op}/{cmdid}")
		}
		if err := checkIDs("group", p[1], "op", p[3], "command id", p[4]); err != nil {
			return Topic{}, err
		}
		return Topic{Kind: KindGroupCommand, Group: p[1], Op: p[3], CmdID: p[4]}, nil
	case "blob":
		if len(p) != 3 {
			return Topic{}, errors.New("want blob/{sha256}/{index} or blob/{sha256}/meta")
		}
		if err := checkSHA256(p[1]); err != nil {
			return Topic{}, err
		}
		if p[2] == "meta" {
			return Topic{Kind: KindBlobMeta, SHA256: p[1]}, nil
		}
		i, err := parseIndex(p[2])
		if err != nil {
			return Topic{}, err
		}
		return Topic{Kind: KindBlobChunk, SHA256: p[1], Index: i}, nil
	}
	return Topic{}, fmt.Errorf("level %q after the prefix; want dev, group or blob", clip(p[0]))
}

// parseDev parses the levels after "dev".
func parseDev(p []string) (Topic, error) {
	if len(p) < 2 {
		return Topic{}, errors.New("want dev/{id}/KIND")
	}
	if err := checkIDs("device id", p[0]); err != nil {
		return Topic{}, err
	}
	t := Topic{Device: p[0]}
	if len(p) == 2 {
		switch p[1] {
		case "state":
			t.Kind = KindState
		case "telemetry":
			t.Kind = KindTelemetry
		case "drift":
			t.Kind = KindDrift
		case "events":
			t.Kind = KindEvents
		default:
			return Topic{}, fmt.Errorf("dev/{id}/%s; want state, telemetry, drift, events or cmd/{command}", clip(p[1]))
		}
		return t, nil
	}
	if p[1] != "cmd" || len(p) < 4 || (len(p) == 5 && p[4] != "status") {
		return Topic{}, errors.New("want dev/{id}/cmd/{op}/{cmdid} or .../status")
	}
	if err := checkIDs("op", p[2], "command id", p[3]); err != nil {
		return Topic{}, err
	}
	t.Op, t.CmdID, t.Kind = p[2], p[3], KindCommand
	if len(p) == 5 {
		t.Kind = KindStatus
	}
	return t, nil
}

// checkIDs checks (what, id) pairs.
func checkIDs(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := ValidID(pairs[i+1]); err != nil {
			return fmt.Errorf("%s: %w", pairs[i], err)
		}
	}
	return nil
}

// ValidID reports why id cannot be a device, group, op or command id: it
// must be 1 to MaxIDLen bytes of UTF-8 without '/', '+', '#', NUL, other
// control characters or white space (the MQTT separators and wildcards,
// and what would make an id ambiguous in a log line or a file name).
func ValidID(id string) error {
	if id == "" {
		return errors.New("empty id")
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("id of %d bytes; want at most %d", len(id), MaxIDLen)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("id %q is not valid UTF-8", id)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("id %q is reserved", id)
	}
	for _, r := range id {
		switch {
		case r == '/' || r == '+' || r == '#':
			return fmt.Errorf("id %q contains %q", id, r)
		case unicode.IsControl(r) || unicode.IsSpace(r) || r == utf8.RuneError:
			return fmt.Errorf("id %q contains control or space character %U", id, r)
		}
	}
	return nil
}

// checkSHA256 checks a sha256 in lowercase hex.
func checkSHA256(s string) error {
	if len(s) != 64 {
		return fmt.Errorf("sha256 %q: want 64 hex digits", clip(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("sha256 %q: want lowercase hex digits", s)
		}
	}
	return nil
}

// parseIndex parses a chunk index written in canonical decimal.
func parseIndex(s string) (int, error) {
	if s == "" || len(s) > 7 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("chunk index %q: want 0..%d without leading zeros", clip(s), MaxChunkIndex)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("chunk index %q: want decimal digits", s)
		}
		n = 10*n + int(c-'0')
	}
	if n > MaxChunkIndex {
		return 0, fmt.Errorf("chunk index %d: want at most %d", n, MaxChunkIndex)
	}
	return n, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
