package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/edged-dev/edged/fleet"
)

// FetchURL downloads the blob with the given sha256 and size (from a
// verified manifest) from an https URL, the alternative source for blobs
// too large for the broker. It shares Fetch's files: the part file is
// recorded in DefaultChunkSize blocks in the same bitmap, so a download
// resumes with an HTTP Range request from the first block missing, and
// one started over MQTT with the default chunk size can end over HTTPS.
// A server that ignores Range is read from the start.
func (r *Receiver) FetchURL(ctx context.Context, client *http.Client, rawURL, sum string, size int64) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("downloading %q: want an https:// URL", rawURL)
	}
	if client == nil {
		client = http.DefaultClient
	}
	meta := Meta(sum, size, DefaultChunkSize)
	if _, err := fleet.Encode(&meta); err != nil {
		return "", fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	path, err := r.fetch(ctx, meta, func(part *os.File, bm *bitmap, persist func() error, report func()) error {
		return r.download(ctx, client, rawURL, meta, part, bm, persist, report)
	})
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	return path, nil
}

func (r *Receiver) download(ctx context.Context, client *http.Client, rawURL string, meta fleet.BlobMeta, part *os.File, bm *bitmap,
	persist func() error, report func()) error {
	_, syncEvery, _, _ := r.settings()
	first := 0
	for first < bm.count && bm.has(first) {
		first++
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	off := int64(first) * int64(bm.chunkSize)
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && off > 0:
		start, ok := strings.CutPrefix(resp.Header.Get("Content-Range"), "bytes ")
		start, _, _ = strings.Cut(start, "-")
		if n, err := strconv.ParseInt(start, 10, 64); !ok || err != nil || n != off {
			return fmt.Errorf("asked for bytes from %d; got Content-Range %q", off, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK:
		first, off = 0, 0
	default:
		return fmt.Errorf("GET: %s", resp.Status)
	}
	buf := make([]byte, bm.chunkSize)
	unsynced := 0
	for i := first; i < bm.count; i++ {
		n := bm.chunkLen(i)
		if _, err := io.ReadFull(resp.Body, buf[:n]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				err = fmt.Errorf("body ended in block %d of %d: %w", i, bm.count, err)
			}
			return err
		}
		if _, err := part.WriteAt(buf[:n], int64(i)*int64(bm.chunkSize)); err != nil {
			return fmt.Errorf("write block %d: %w", i, err)
		}
		if bm.set(i) {
			if unsynced++; unsynced >= syncEvery {
				if err := persist(); err != nil {
					return err
				}
				unsynced = 0
			}
			report()
		}
	}
	if n, _ := io.CopyN(io.Discard, resp.Body, 1); n > 0 {
		return fmt.Errorf("body is longer than the %d bytes of the blob", meta.Size)
	}
	return nil
}
