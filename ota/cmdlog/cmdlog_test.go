package cmdlog

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func open(t *testing.T, path string, c *clock, max int) *Log {
	t.Helper()
	l, err := Open(path, &Options{MaxRecords: max, Now: c.now, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func rec(op, id string, payload []byte, nonce, state string, expires time.Time) Record {
	return Record{Op: op, ID: id, Hash: Hash(payload), Nonce: nonce, State: state, Expires: expires}
}

func TestLookupByIDAndPayload(t *testing.T) {
	c := &clock{t0}
	l := open(t, filepath.Join(t.TempDir(), "commands.db"), c, 0)
	payload := []byte(`{"signed":"rollback"}`)
	if err := l.Put(rec("rollback", "rb-1", payload, "n1", "done", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if r, ok := l.Lookup("rollback", "rb-1", payload); !ok || r.State != "done" || r.Nonce != "n1" || !r.Time.Equal(t0) {
		t.Errorf("Lookup(same command) = %+v, %v", r, ok)
	}
	for _, tt := range []struct {
		op, id  string
		payload string
	}{
		{"rollback", "rb-1", `{"signed":"rollback "}`}, // another payload under the id: another command
		{"promote", "rb-1", `{"signed":"rollback"}`},
		{"rollback", "rb-2", `{"signed":"rollback"}`},
	} {
		if r, ok := l.Lookup(tt.op, tt.id, []byte(tt.payload)); ok {
			t.Errorf("Lookup(%s %s %s) = %+v; want none", tt.op, tt.id, tt.payload, r)
		}
	}
	if !l.SeenNonce("n1") || l.SeenNonce("n2") || l.SeenNonce("") {
		t.Errorf("SeenNonce(n1, n2, \"\") = %v, %v, %v; want true, false, false", l.SeenNonce("n1"), l.SeenNonce("n2"), l.SeenNonce(""))
	}
}

// TestExpiredForgotten: a record is ignored from its command's expiry on
// and dropped at the next Open.
func TestExpiredForgotten(t *testing.T) {
	c := &clock{t0}
	path := filepath.Join(t.TempDir(), "commands.db")
	l := open(t, path, c, 0)
	p := []byte("p")
	l.Put(rec("rollback", "a", p, "na", "done", t0.Add(time.Hour)))
	l.Put(rec("deploy", "b", p, "", "active", t0.Add(2*time.Hour)))
	c.t = t0.Add(time.Hour)
	if _, ok := l.Lookup("rollback", "a", p); ok || l.SeenNonce("na") {
		t.Error("expired record still found")
	}
	if _, ok := l.Lookup("deploy", "b", p); !ok {
		t.Error("unexpired record not found")
	}
	l.Close()
	l = open(t, path, c, 0)
	if n := l.Len(); n != 1 {
		t.Errorf("Len after reopening past one expiry = %d; want 1", n)
	}
}

func TestReplaceFailed(t *testing.T) {
	c := &clock{t0}
	l := open(t, filepath.Join(t.TempDir(), "commands.db"), c, 0)
	p := []byte("manifest")
	l.Put(rec("deploy", "d-1", p, "", "failed", t0.Add(time.Hour)))
	c.t = t0.Add(time.Minute)
	l.Put(rec("deploy", "d-1", p, "", "active", t0.Add(time.Hour)))
	if r, ok := l.Lookup("deploy", "d-1", p); !ok || r.State != "active" || !r.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("Lookup after the retry = %+v, %v; want active at t0+1m", r, ok)
	}
	if n := l.Len(); n != 1 {
		t.Errorf("Len = %d; want 1", n)
	}
}

// TestBounded: beyond MaxRecords the oldest go first, and the file stays
// small however many commands pass.
func TestBounded(t *testing.T) {
	c := &clock{t0}
	path := filepath.Join(t.TempDir(), "commands.db")
	l := open(t, path, c, 10)
	for i := range 25 {
		c.t = t0.Add(time.Duration(i) * time.Second)
		if err := l.Put(rec("rollback", fmt.Sprint("c", i), []byte("p"), fmt.Sprint("n", i), "done", t0.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Len(); n != 10 {
		t.Errorf("Len = %d; want 10", n)
	}
	for i := range 25 {
		_, ok := l.Lookup("rollback", fmt.Sprint("c", i), []byte("p"))
		if want := i >= 15; ok != want || l.SeenNonce(fmt.Sprint("n", i)) != want {
			t.Errorf("command %d kept %v (nonce %v); want %v", i, ok, l.SeenNonce(fmt.Sprint("n", i)), want)
		}
	}
	l.Close()

	// The default bound with the largest records: 1024 records of at most
	// about 1 KiB (128-byte op and id, 64-byte hash and nonce, 256-byte
	// reason, times) in bbolt's 4 KiB pages with their index entries stay
	// under 4 MiB, after 4096 of them.
	path = filepath.Join(t.TempDir(), "big.db")
	l, err := Open(path, &Options{Now: c.now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 2000)
	for i := range 4 * DefaultMaxRecords {
		r := rec(strings.Repeat("o", 120), fmt.Sprintf("%0128d", i), []byte(fmt.Sprint(i)), fmt.Sprintf("%064d", i), "rejected", t0.Add(time.Hour))
		r.Reason = long
		if err := l.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Len(); n != DefaultMaxRecords {
		t.Errorf("Len = %d; want %d", n, DefaultMaxRecords)
	}
	l.Close()
	var st os.FileInfo
	st, err = os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 4<<20 {
		t.Errorf("file is %d bytes after %d records; want at most 4 MiB", st.Size(), 4*DefaultMaxRecords)
	}
	t.Logf("file size after %d records kept %d: %d bytes", 4*DefaultMaxRecords, DefaultMaxRecords, st.Size())
}

func TestPutRefuses(t *testing.T) {
	l := open(t, filepath.Join(t.TempDir(), "commands.db"), &clock{t0}, 0)
	good := rec("rollback", "a", []byte("p"), "n", "done", t0.Add(time.Hour))
	for _, tt := range []struct {
		name string
		edit func(*Record)
		msg  string
	}{
		{"no expiry", func(r *Record) { r.Expires = time.Time{} }, "no expiry"},
		{"no hash", func(r *Record) { r.Hash = "" }, "hash"},
		{"id with slash", func(r *Record) { r.ID = "a/b" }, "id"},
		{"long op", func(r *Record) { r.Op = strings.Repeat("o", 129) }, "op"},
		{"no state", func(r *Record) { r.State = "" }, "state"},
		{"long nonce", func(r *Record) { r.Nonce = strings.Repeat("n", 65) }, "nonce"},
	} {
		r := good
		tt.edit(&r)
		if err := l.Put(r); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Put(%s) error %v; want one mentioning %q", tt.name, err, tt.msg)
		}
	}
	if l.Len() != 0 {
		t.Errorf("Len = %d after refused records; want 0", l.Len())
	}
}

func TestDamagedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "commands.db")
	junk := make([]byte, 16384)
	for i := range junk {
		junk[i] = byte(i*13 + 5)
	}
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	l := open(t, path, &clock{t0}, 0)
	if l.Len() != 0 {
		t.Errorf("Len of a fresh record = %d", l.Len())
	}
	if err := l.Put(rec("rollback", "a", []byte("p"), "n", "done", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 1 {
		t.Errorf("files moved aside: %v; want 1", m)
	}
}
