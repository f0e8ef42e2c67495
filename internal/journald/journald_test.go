package journald

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeJournal is a journal socket: it reads the datagrams sent to it.
type fakeJournal struct {
	path string
	conn *net.UnixConn
}

func newFakeJournal(t *testing.T) *fakeJournal {
	t.Helper()
	path := filepath.Join(t.TempDir(), "socket")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakeJournal{path: path, conn: c}
}

// next reads one entry and parses it as the native protocol defines:
// NAME=value lines, or NAME\n + 64-bit LE length + value + \n.
func (j *fakeJournal) next(t *testing.T) map[string]string {
	t.Helper()
	j.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1<<16)
	n, err := j.conn.Read(buf)
	if err != nil {
		t.Fatalf("no entry: %v", err)
	}
	b := buf[:n]
	fields := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			t.Fatalf("entry ends without a newline: %q", b)
		}
		line := b[:nl]
		if eq := bytes.IndexByte(line, '='); eq >= 0 {
			fields[string(line[:eq])] = string(line[eq+1:])
			b = b[nl+1:]
			continue
		}
		name := string(line)
		b = b[nl+1:]
		if len(b) < 8 {
			t.Fatalf("field %s: no length", name)
		}
		size := binary.LittleEndian.Uint64(b)
		if uint64(len(b)-8) < size+1 || b[8+size] != '\n' {
			t.Fatalf("field %s: %d bytes do not fit", name, size)
		}
		fields[name] = string(b[8 : 8+size])
		b = b[9+size:]
	}
	return fields
}

func TestPriority(t *testing.T) {
	for l, want := range map[slog.Level]int{slog.LevelDebug: 7, slog.LevelInfo: 6, slog.LevelWarn: 4, slog.LevelError: 3, slog.LevelError + 4: 3, slog.LevelInfo + 2: 6} {
		if got := Priority(l); got != want {
			t.Errorf("Priority(%v) = %d; want %d", l, got, want)
		}
	}
}

func TestNative(t *testing.T) {
	j := newFakeJournal(t)
	var stderr bytes.Buffer
	h := New(Options{Socket: j.path, Native: true, Stderr: &stderr, Level: slog.LevelDebug, Fields: map[string]string{"device": "pi-7"}})
	defer h.Close()
	log := slog.New(h).With("board", "rpi4")
	log.Warn("queue full", "model", "person_detect", "depth", 64)
	e := j.next(t)
	for k, want := range map[string]string{"PRIORITY": "4", "MODEL": "person_detect", "DEVICE": "pi-7", "DEPTH": "64", "BOARD": "rpi4", "SYSLOG_IDENTIFIER": "edged"} {
		if e[k] != want {
			t.Errorf("%s=%q; want %q (entry %v)", k, e[k], want, e)
		}
	}
	if !strings.Contains(e["MESSAGE"], `msg="queue full"`) || strings.Contains(e["MESSAGE"], "time=") || strings.Contains(e["MESSAGE"], "pi-7") {
		t.Errorf("MESSAGE=%q; want the record's text without its time or the device field", e["MESSAGE"])
	}
	log.WithGroup("http").Error("listen failed", "err", errors.New("address in use\nsecond line"), "message", "x")
	e = j.next(t)
	if e["PRIORITY"] != "3" || e["HTTP_ERR"] != "address in use\nsecond line" || e["HTTP_MESSAGE"] != "x" || e["DEVICE"] != "pi-7" || e["BOARD"] != "rpi4" {
		t.Errorf("entry %v; want PRIORITY=3, HTTP_ERR with its newline (binary form), HTTP_MESSAGE, DEVICE, BOARD", e)
	}
	log.Debug("tick")
	if e = j.next(t); e["PRIORITY"] != "7" {
		t.Errorf("debug PRIORITY=%q; want 7", e["PRIORITY"])
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q; want nothing while the journal takes entries", stderr.String())
	}
}

// TestStream: without the socket, lines go to stderr with "<N>".
func TestStream(t *testing.T) {
	var stderr bytes.Buffer
	h := New(Options{Socket: filepath.Join(t.TempDir(), "none"), Native: true, Stderr: &stderr})
	defer h.Close()
	log := slog.New(h)
	log.Warn("slow", "model", "m")
	log.Error("failed")
	log.Info("ok")
	log.Debug("hidden")
	want := "<4>level=WARN msg=slow model=m\n<3>level=ERROR msg=failed\n<6>level=INFO msg=ok\n"
	if stderr.String() != want {
		t.Errorf("stderr %q; want %q", stderr.String(), want)
	}
}

func TestFieldName(t *testing.T) {
	for in, want := range map[string]string{"model": "MODEL", "req-id": "REQ_ID", "_x": "X", "9lives": "LIVES", "": "FIELD", "é": "FIELD"} {
		if got := fieldName(in); got != want {
			t.Errorf("fieldName(%q) = %q; want %q", in, got, want)
		}
	}
}
