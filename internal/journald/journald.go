// Package journald writes log/slog records to systemd's journal with their
// priority: natively (one datagram per record on the journal's socket, with
// the record's attributes as fields such as MODEL= and DEVICE=), or, when
// the socket cannot be written, as lines on stderr prefixed "<N>", which
// the journal reads as the line's priority when stderr is its stream.
package journald

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
)

// Socket is where journald takes native messages.
const Socket = "/run/systemd/journal/socket"

// Priorities of the journal (syslog's).
const (
	PriErr     = 3
	PriWarning = 4
	PriInfo    = 6
	PriDebug   = 7
)

// Priority maps a slog level to the journal's priority: error and above 3,
// warn 4, info 6, debug 7.
func Priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return PriErr
	case l >= slog.LevelWarn:
		return PriWarning
	case l >= slog.LevelInfo:
		return PriInfo
	}
	return PriDebug
}

// Prefix is the "<N>" that gives a stderr line its priority in the
// journal.
func Prefix(priority int) string {
	return "<" + string(rune('0'+priority)) + ">"
}

// Options configure a Handler.
type Options struct {
	// Level is the lowest level written (info when nil).
	Level slog.Leveler
	// JSON formats MESSAGE (and stderr lines) as JSON, else as key=value
	// text.
	JSON bool
	// Socket is the journal's native socket (Socket when ""); Native false
	// writes only prefixed lines to Stderr.
	Socket string
	Native bool
	// Stderr takes the prefixed lines (the journal's stream).
	Stderr io.Writer
	// Identifier is SYSLOG_IDENTIFIER ("edged" when "").
	Identifier string
	// Fields go with every native entry (DEVICE= the device's id) but
	// not into its MESSAGE.
	Fields map[string]string
}

// shared is the state every handler derived from one New shares.
type shared struct {
	mu   sync.Mutex
	buf  bytes.Buffer // the formatted line of the record being handled
	conn *net.UnixConn
	addr *net.UnixAddr
	opts Options
}

// Handler is a slog.Handler writing to the journal.
type Handler struct {
	s      *shared
	inner  slog.Handler
	fields []field // from WithAttrs, names already with their group prefix
	prefix string  // the open groups as a field-name prefix ("HTTP_")
}

type field struct{ name, value string }

// New returns a Handler. With opts.Native it writes natively to the
// socket; a record the socket refuses goes to Stderr with its prefix.
func New(opts Options) *Handler {
	if opts.Socket == "" {
		opts.Socket = Socket
	}
	if opts.Identifier == "" {
		opts.Identifier = "edged"
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	s := &shared{opts: opts}
	if opts.Native {
		if c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Net: "unixgram"}); err == nil {
			s.conn, s.addr = c, &net.UnixAddr{Name: opts.Socket, Net: "unixgram"}
		}
	}
	ho := &slog.HandlerOptions{Level: opts.Level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		// The journal stamps every entry itself.
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	var inner slog.Handler
	if opts.JSON {
		inner = slog.NewJSONHandler(&s.buf, ho)
	} else {
		inner = slog.NewTextHandler(&s.buf, ho)
	}
	h := &Handler{s: s, inner: inner}
	for k, v := range opts.Fields {
		h.fields = append(h.fields, field{fieldName(k), v})
	}
	slices.SortFunc(h.fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	return h
}

// Close releases the socket.
func (h *Handler) Close() error {
	if h.s.conn != nil {
		return h.s.conn.Close()
	}
	return nil
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.inner = h.inner.WithAttrs(as)
	n.fields = append([]field{}, h.fields...)
	for _, a := range as {
		n.fields = appendFields(n.fields, h.prefix, a)
	}
	return &n
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	n := *h
	n.inner = h.inner.WithGroup(name)
	n.prefix = h.prefix + fieldName(name) + "_"
	return &n
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	fields := append([]field{}, h.fields...)
	r.Attrs(func(a slog.Attr) bool {
		fields = appendFields(fields, h.prefix, a)
		return true
	})
	pri := Priority(r.Level)
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	line := bytes.TrimRight(s.buf.Bytes(), "\n")
	if s.conn != nil {
		msg := make([]byte, 0, len(line)+256)
		msg = appendField(msg, "MESSAGE", string(line))
		msg = appendField(msg, "PRIORITY", string(rune('0'+pri)))
		msg = appendField(msg, "SYSLOG_IDENTIFIER", s.opts.Identifier)
		for _, f := range fields {
			msg = appendField(msg, f.name, f.value)
		}
		if _, _, err := s.conn.WriteMsgUnix(msg, nil, s.addr); err == nil {
			return nil
		}
		// Too large for a datagram, or no journal: the line on stderr.
	}
	_, err := io.WriteString(s.opts.Stderr, Prefix(pri)+string(line)+"\n")
	return err
}

// appendFields adds an attribute as fields: a group's members under
// PREFIX_GROUP_KEY.
func appendFields(fs []field, prefix string, a slog.Attr) []field {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += fieldName(a.Key) + "_"
		}
		for _, g := range v.Group() {
			fs = appendFields(fs, p, g)
		}
		return fs
	}
	if a.Key == "" {
		return fs
	}
	name := prefix + fieldName(a.Key)
	switch name {
	case "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER":
		name = "EDGED_" + name // never overrides the entry's own
	}
	return append(fs, field{name, v.String()})
}

// fieldName makes a journal field name of an attribute key: upper case,
// letters, digits and underscores, not starting with "_" or a digit (the
// journal refuses those), at most 64 bytes.
func fieldName(key string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(key) {
		if (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	n := strings.TrimLeft(b.String(), "_0123456789")
	if n == "" {
		n = "FIELD"
	}
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// appendField writes NAME=value\n, or, for a value holding a newline, the
// native protocol's binary form: NAME\n, the length as 64-bit little
// endian, the value, \n.
func appendField(b []byte, name, value string) []byte {
	if !strings.Contains(value, "\n") {
		b = append(b, name...)
		b = append(b, '=')
		b = append(b, value...)
		return append(b, '\n')
	}
	b = append(b, name...)
	b = append(b, '\n')
	b = binary.LittleEndian.AppendUint64(b, uint64(len(value)))
	b = append(b, value...)
	return append(b, '\n')
}
