package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/testenv"
)

// TestSizeBound: each message below is topic "T", "D" or "E" (1 byte)
// plus a payload {"n":NN} (8 bytes) plus Overhead (32): 41 bytes, and
// the outbox holds 205 bytes, so 5 messages.
func TestSizeBound(t *testing.T) {
	tests := []struct {
		name    string
		appends string // kind letter and n of each Append, in order
		full    string // the appends refused with ErrFull
		want    string // what is delivered afterwards, in order
		dropped map[Kind]uint64
	}{
		{name: "fits", appends: "T10 D20 E30 E31 T11", want: "T10 D20 E30 E31 T11", dropped: map[Kind]uint64{}},
		{name: "oldest telemetry first", appends: "T10 E30 T11 D20 T12 E31 E32",
			want: "E30 D20 T12 E31 E32", dropped: map[Kind]uint64{Telemetry: 2}},
		{name: "then drift, events last", appends: "T10 D20 D21 E30 E31 E32 E33 E34 E35",
			want: "E31 E32 E33 E34 E35", dropped: map[Kind]uint64{Telemetry: 1, Drift: 2, Event: 1}},
		{name: "telemetry replaces telemetry", appends: "T10 T11 T12 T13 T14 T15 T16", want: "T12 T13 T14 T15 T16", dropped: map[Kind]uint64{Telemetry: 2}},
		{name: "telemetry never pushes out events", appends: "E30 E31 E32 E33 E34 T10", full: "T10",
			want: "E30 E31 E32 E33 E34", dropped: map[Kind]uint64{Telemetry: 1}},
		{name: "drift never pushes out events", appends: "E30 E31 E32 E33 D20 D21 T10", full: "T10",
			want: "E30 E31 E32 E33 D21", dropped: map[Kind]uint64{Drift: 1, Telemetry: 1}},
		{name: "drift pushes out telemetry", appends: "T10 T11 D20 D21 D22 D23", want: "T11 D20 D21 D22 D23", dropped: map[Kind]uint64{Telemetry: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := open(t, tempPath(t), &Options{NoSync: true, MaxBytes: 205, Log: slog.New(slog.DiscardHandler)})
			var full []string
			for _, a := range strings.Fields(tt.appends) {
				kind := map[byte]Kind{'T': Telemetry, 'D': Drift, 'E': Event}[a[0]]
				_, err := b.Append(kind, a[:1], []byte(`{"n":`+a[1:]+`}`))
				switch {
				case errors.Is(err, ErrFull):
					full = append(full, a)
				case err != nil:
					t.Fatalf("Append %s: %v", a, err)
				}
			}
			if got := strings.Join(full, " "); got != tt.full {
				t.Errorf("refused with ErrFull: %q; want %q", got, tt.full)
			}
			st := b.Stats()
			for k := Telemetry; k <= Event; k++ {
				if st.Dropped[k] != tt.dropped[k] {
					t.Errorf("dropped %s = %d; want %d", k, st.Dropped[k], tt.dropped[k])
				}
			}
			if n := len(strings.Fields(tt.want)); st.Pending != n || st.Bytes != int64(41*n) {
				t.Errorf("pending %d, bytes %d; want %d and %d", st.Pending, st.Bytes, n, 41*n)
			}
			pub := &recorder{}
			stop := deliver(t, b, pub)
			testenv.WaitFor(t, "delivery", 5*time.Second, func() bool { return b.Pending() == 0 })
			stop()
			var got []string
			for _, s := range pub.sent() {
				var m struct {
					Seq uint64 // microseconds since 1970: more than 32 bits
					N   int
				}
				if err := json.Unmarshal([]byte(s.payload), &m); err != nil || m.Seq == 0 {
					t.Fatalf("sent %s: %v; want a seq", s.payload, err)
				}
				got = append(got, fmt.Sprintf("%s%d", s.topic, m.N))
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("delivered %q; want %q", g, tt.want)
			}
		})
	}
}

// TestBoundAcrossRestart: the bytes in use are counted again on Open.
func TestBoundAcrossRestart(t *testing.T) {
	path := tempPath(t)
	o := &Options{NoSync: true, MaxBytes: 205, Log: slog.New(slog.DiscardHandler)}
	b := open(t, path, o)
	for _, n := range []int{10, 11, 12} {
		if _, err := b.Append(Telemetry, "T", []byte(fmt.Sprintf(`{"n":%d}`, n))); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	b = open(t, path, o)
	if st := b.Stats(); st.Pending != 3 || st.Bytes != 123 {
		t.Fatalf("after reopen: pending %d, bytes %d; want 3 and 123", st.Pending, st.Bytes)
	}
	for _, n := range []int{30, 31, 32} {
		if _, err := b.Append(Event, "E", []byte(fmt.Sprintf(`{"n":%d}`, n))); err != nil {
			t.Fatal(err)
		}
	}
	if st := b.Stats(); st.Pending != 5 || st.Dropped[Telemetry] != 1 {
		t.Errorf("stats %+v; want 5 pending, 1 telemetry dropped", st)
	}
}

func TestTooLarge(t *testing.T) {
	b := open(t, tempPath(t), &Options{NoSync: true, MaxBytes: 100, Log: slog.New(slog.DiscardHandler)})
	// 1 + 70 + 32 = 103 > 100: it could never fit.
	_, err := b.Append(Event, "E", []byte(`{"a":"`+strings.Repeat("x", 62)+`"}`))
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append of 103 bytes into 100 = %v; want ErrTooLarge", err)
	}
}
