package transfer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSweep(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	sumOf := func(c byte) string { return strings.Repeat(string(c), 64) }
	put := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	future, past := t0.Add(time.Hour).Format(time.RFC3339), t0.Add(-time.Second).Format(time.RFC3339)
	// a: wanted for another hour; b: its time passed; c: no record (an
	// earlier build); d: a completed blob still wanted; e: record damaged.
	put(sumOf('a')+".part", "xx")
	put(sumOf('a')+".bitmap", "xx")
	put(sumOf('a')+".until", future)
	put(sumOf('b')+".part", "xx")
	put(sumOf('b')+".bitmap", "xx")
	put(sumOf('b')+".until", past)
	put(sumOf('c')+".part", "xx")
	put(sumOf('d'), "blob")
	put(sumOf('d')+".until", future)
	put(sumOf('e')+".part", "xx")
	put(sumOf('e')+".until", "next week")
	put(sumOf('a')+".bitmap.tmp-123", "torn")
	put("README", "not a transfer")
	r := &Receiver{Dir: dir, Log: quietLog()}
	removed, err := r.Sweep(t0)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if want := []string{sumOf('b'), sumOf('c'), sumOf('e')}; !slices.Equal(removed, want) {
		t.Errorf("Sweep removed %v; want %v", removed, want)
	}
	var left []string
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		left = append(left, e.Name())
	}
	want := []string{"README", sumOf('a') + ".bitmap", sumOf('a') + ".part", sumOf('a') + ".until", sumOf('d'), sumOf('d') + ".until"}
	if !slices.Equal(left, want) {
		t.Errorf("left %v; want %v", left, want)
	}
	if err := r.Discard(sumOf('a')); err != nil {
		t.Fatal(err)
	}
	if err := r.Discard("../x"); err == nil {
		t.Error("Discard(../x): no error")
	}
	es, _ = os.ReadDir(dir)
	if len(es) != 3 {
		t.Errorf("after Discard(a): %d files; want d, d.until and README", len(es))
	}
	// A directory that does not exist yet has nothing to sweep.
	if got, err := (&Receiver{Dir: filepath.Join(dir, "none")}).Sweep(t0); err != nil || got != nil {
		t.Errorf("Sweep(missing dir) = %v, %v", got, err)
	}
}

// TestFailedFetchRecordsUntil: a download that fails keeps its part file
// for the next delivery until the manifest that wanted it expires, and no
// longer.
func TestFailedFetchRecordsUntil(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "try later", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	blob := randomBlob(3*DefaultChunkSize, 3)
	sum := sha(blob)
	until := time.Now().Add(time.Hour).Truncate(time.Second)
	r := &Receiver{Dir: t.TempDir(), Log: quietLog(), Until: until}
	if _, err := r.FetchURL(context.Background(), srv.Client(), srv.URL+"/m", sum, int64(len(blob))); err == nil {
		t.Fatal("FetchURL from a failing server: no error")
	}
	if _, err := os.Stat(r.PartPath(sum)); err != nil {
		t.Fatalf("part file after a failed fetch: %v", err)
	}
	if got, err := r.Sweep(until.Add(-time.Minute)); err != nil || len(got) != 0 {
		t.Errorf("Sweep before the blob's expiry removed %v, %v; want nothing", got, err)
	}
	if got, err := r.Sweep(until); err != nil || !slices.Equal(got, []string{sum}) {
		t.Errorf("Sweep at the blob's expiry removed %v, %v; want %s", got, err, sum)
	}
	if _, err := os.Stat(r.PartPath(sum)); !os.IsNotExist(err) {
		t.Errorf("part file after the sweep: %v; want removed", err)
	}
}
