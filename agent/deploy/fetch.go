package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/transfer"
)

// fetch downloads blob of manifest m into the downloads directory, over
// MQTT or its URL, reporting progress every 10%. An interrupted fetch
// resumes from what the directory holds, until the manifest expires.
func (d *Deployer) fetch(ctx context.Context, cmd fleet.Command, m *sign.Manifest, blob sign.Blob) (string, error) {
	if j := d.cfg.OTA.FetchJitter.D(); j > 0 {
		// Spread a group's fetches over the jitter (ota.fetch_jitter).
		wait := time.Duration(rand.Int64N(int64(j)))
		d.log.Info("waiting before fetching (ota.fetch_jitter)", "id", cmd.ID, "wait", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", ctx.Err()
		case <-t.C:
		}
	}
	// Shown from the start (a download from a URL reports no chunks).
	d.downloading(m, transfer.Progress{SHA256: blob.SHA256, Size: blob.Size}, false)
	defer d.downloading(m, transfer.Progress{SHA256: blob.SHA256}, true)
	onChunk := func(ctx context.Context, p transfer.Progress) {
		d.downloading(m, p, false)
		if d.onProgress != nil {
			d.onProgress(ctx, p)
		}
	}
	return fetchBlob(ctx, d.link.Client(), d.dlDir, d.log, blob, m.Expires, onChunk, func(ctx context.Context, frac float64) {
		d.status(ctx, cmd, StatusDownloading, frac, "")
	})
}

// fetchBlob downloads blob into dir over MQTT (the retained chunks of
// ota/transfer) or from its URL; a download with no data for idleTimeout
// is abandoned. A partial download is kept for the next delivery of its
// command until until (the manifest's expiry); sweepDownloads removes it
// after. onChunk (if not nil) hears of every chunk, onStep of every tenth
// of the size.
func fetchBlob(ctx context.Context, c *fleet.Client, dir string, log *slog.Logger, blob sign.Blob, until time.Time,
	onChunk func(context.Context, transfer.Progress), onStep func(ctx context.Context, frac float64)) (string, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errIdle := fmt.Errorf("no data for %v", idleTimeout)
	idle := time.AfterFunc(idleTimeout, func() { cancel(errIdle) })
	defer idle.Stop()
	step := -1
	r := &transfer.Receiver{Sub: c, Dir: dir, Log: log, Until: until, Progress: func(p transfer.Progress) {
		idle.Reset(idleTimeout)
		if onChunk != nil {
			onChunk(ctx, p)
		}
		if p.Size <= 0 {
			return
		}
		if s := int(10 * p.Bytes / p.Size); s != step {
			step = s
			onStep(ctx, float64(p.Bytes)/float64(p.Size))
		}
	}}
	var path string
	var err error
	if blob.URL != "" {
		path, err = r.FetchURL(ctx, nil, blob.URL, blob.SHA256, blob.Size)
	} else {
		mctx, mcancel := context.WithTimeout(ctx, metaTimeout)
		var meta fleet.BlobMeta
		meta, err = transfer.FetchMeta(mctx, c, blob.SHA256, blob.Size)
		mcancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("blob %s was not published (no retained %s within %v): %w", blob.SHA256, fleet.BlobMetaTopic(blob.SHA256), metaTimeout, err)
		}
		if err == nil {
			path, err = r.Fetch(ctx, meta)
		}
	}
	if cause := context.Cause(ctx); errors.Is(cause, errIdle) {
		return "", fmt.Errorf("download of %s: %w", blob.SHA256, cause)
	}
	return path, err
}

// sweepDownloads removes from dir the downloads no longer wanted:
// expired, left by an earlier version, or temporary.
func sweepDownloads(dir string, now time.Time, log *slog.Logger) {
	removed, err := (&transfer.Receiver{Dir: dir}).Sweep(now)
	for _, sum := range removed {
		log.Info("removed a download no longer wanted", "dir", dir, "sha256", sum)
	}
	if err != nil {
		log.Warn("cannot remove downloads no longer wanted", "dir", dir, "err", err)
	}
}

// discardDownload removes what dir holds of a blob whose command ended
// for good.
func discardDownload(dir, sum string, log *slog.Logger) {
	if err := (&transfer.Receiver{Dir: dir}).Discard(sum); err != nil {
		log.Warn("cannot remove a download no longer wanted", "dir", dir, "sha256", sum, "err", err)
	}
}

func verifyFile(path string, blob sign.Blob) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := sign.VerifyBlob(blob, f); err != nil {
		return fmt.Errorf("downloaded %s variant: %w", blob.Variant, err)
	}
	return nil
}
