package transfer

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/testenv"
)

func TestFetchURL(t *testing.T) {
	testenv.CheckLeaks(t)
	// 5 blocks of 64 KiB and 1000 bytes more: 6 blocks.
	blob := randomBlob(5*DefaultChunkSize+1000, 7)
	sum := sha(blob)
	var (
		mu     sync.Mutex
		ranges []string
		cutAt  = -1 // bytes after which the next response is cut
		whole  bool // ignore Range
		served int
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		ranges = append(ranges, req.Header.Get("Range"))
		cut, ignore := cutAt, whole
		cutAt = -1
		mu.Unlock()
		if ignore {
			req.Header.Del("Range")
		}
		cw := &cutWriter{ResponseWriter: w, left: cut}
		http.ServeContent(cw, req, "blob", time.Time{}, bytes.NewReader(blob))
		mu.Lock()
		served += cw.n
		mu.Unlock()
		if cw.cut {
			panic(http.ErrAbortHandler)
		}
	}))
	defer srv.Close()
	defer srv.CloseClientConnections()
	client := srv.Client()
	client.Transport.(*http.Transport).DisableKeepAlives = true

	// Cut after 2.5 blocks: two whole blocks land, then resume.
	dir := t.TempDir()
	r := &Receiver{Dir: dir, SyncEvery: 1, Log: quietLog()}
	mu.Lock()
	cutAt = 2*DefaultChunkSize + DefaultChunkSize/2
	mu.Unlock()
	if _, err := r.FetchURL(context.Background(), client, srv.URL+"/m", sum, int64(len(blob))); err == nil {
		t.Fatal("FetchURL over a cut connection = nil error; want one")
	}
	mu.Lock()
	served = 0
	mu.Unlock()
	path, err := r.FetchURL(context.Background(), client, srv.URL+"/m", sum, int64(len(blob)))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, blob) {
		t.Fatal("blob fetched over HTTPS differs")
	}
	// 2 blocks of 65536 held: resume from 131072; 393216+1000-131072 bytes served.
	if want := "bytes=131072-"; ranges[1] != want {
		t.Errorf("resumed Range %q; want %q", ranges[1], want)
	}
	mu.Lock()
	if want := 5*DefaultChunkSize + 1000 - 2*DefaultChunkSize; served != want {
		t.Errorf("bytes served on resume = %d; want %d", served, want)
	}
	mu.Unlock()

	tests := []struct {
		name    string
		url     string
		sum     string
		ignore  bool
		wantErr error
		wantIn  string
	}{
		{name: "server ignores Range", url: srv.URL, sum: sum, ignore: true},
		{name: "wrong sha256", url: srv.URL, sum: strings.Repeat("0", 64), wantErr: ErrDigestMismatch},
		{name: "plain http", url: strings.Replace(srv.URL, "https", "http", 1), sum: sum, wantIn: "want an https:// URL"},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		mu.Lock()
		whole = tc.ignore
		mu.Unlock()
		r := &Receiver{Dir: dir, Log: quietLog()}
		if tc.ignore {
			// Half the blocks held already: the full body must still do.
			os.WriteFile(r.PartPath(sum), blob, 0o644)
			bm := newBitmap(int64(len(blob)), DefaultChunkSize, 6)
			bm.set(0)
			bm.set(1)
			os.WriteFile(r.BitmapPath(sum), bm.marshal(), 0o644)
		}
		_, err := r.FetchURL(context.Background(), client, tc.url, tc.sum, int64(len(blob)))
		switch {
		case tc.wantErr == nil && tc.wantIn == "" && err != nil:
			t.Errorf("FetchURL(%s) = %v; want nil", tc.name, err)
		case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
			t.Errorf("FetchURL(%s) = %v; want %v", tc.name, err, tc.wantErr)
		case tc.wantIn != "" && (err == nil || !strings.Contains(err.Error(), tc.wantIn)):
			t.Errorf("FetchURL(%s) = %v; want an error containing %q", tc.name, err, tc.wantIn)
		}
	}
}

// cutWriter stops writing after left bytes (left < 0: never).
type cutWriter struct {
	http.ResponseWriter
	left int
	n    int
	cut  bool
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if w.left >= 0 && len(p) > w.left {
		p = p[:w.left]
		w.cut = true
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += n
	if w.left >= 0 {
		w.left -= n
	}
	if w.cut {
		w.ResponseWriter.(http.Flusher).Flush()
		return n, errors.New("cut")
	}
	return n, err
}
