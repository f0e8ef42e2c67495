package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/transfer"
)

// readBundle reads a bundle's manifest without verifying it (the
// operator's own tool; devices verify) and checks its blobs against it,
// so that nothing damaged is pushed.
func readBundle(dir string) (*bundle.Bundle, error) {
	raw, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
	if err != nil {
		return nil, err
	}
	var m sign.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", bundle.ManifestFile, err)
	}
	b := &bundle.Bundle{Dir: dir, Manifest: &m, Raw: raw}
	for _, blob := range m.Blobs {
		f, err := os.Open(b.BlobPath(blob))
		if err != nil {
			return nil, fmt.Errorf("blob %s (variant %s): %w", blob.SHA256, blob.Variant, err)
		}
		err = sign.VerifyBlob(blob, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("blob %s (variant %s): %w", blob.SHA256, blob.Variant, err)
		}
	}
	return b, nil
}

// pushBlobs publishes every blob of b with a progress bar on stderr.
func pushBlobs(ctx context.Context, c *fleet.Client, b *bundle.Bundle, chunkSize int, stderr io.Writer) error {
	for _, blob := range b.Manifest.Blobs {
		f, err := os.Open(b.BlobPath(blob))
		if err != nil {
			return err
		}
		bar := newProgress(stderr, blob.Variant, blob.Size)
		start := time.Now()
		meta, err := transfer.Publish(ctx, c, f, blob.Size, &transfer.PublishOptions{ChunkSize: chunkSize, Progress: bar.update})
		f.Close()
		bar.done()
		if err != nil {
			return err
		}
		if meta.SHA256 != blob.SHA256 {
			return fmt.Errorf("blob %s changed on disk while it was pushed (now %s)", blob.SHA256, meta.SHA256)
		}
		fmt.Fprintf(stderr, "%s: %d bytes in %d chunks of %d in %v\n", blob.Variant, meta.Size, meta.Count, meta.ChunkSize,
			time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func runPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("push", stdout, stderr)
	var bf brokerFlags
	bf.register(fs)
	dir := fs.String("bundle", "", "bundle directory (required)")
	chunk := fs.Int("chunk-size", transfer.DefaultChunkSize, "chunk size in bytes (AWS IoT caps payloads at 128 KB)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("push: --bundle is required")
	}
	b, err := readBundle(*dir)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	c, stop, err := bf.connect(ctx)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	defer stop()
	if err := pushBlobs(ctx, c, b, *chunk, stderr); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	return nil
}

func runGC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gc", stdout, stderr)
	var bf brokerFlags
	bf.register(fs)
	dir := fs.String("bundle", "", "bundle directory whose blobs to clear from the broker (required)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("gc: --bundle is required")
	}
	raw, err := os.ReadFile(filepath.Join(*dir, bundle.ManifestFile))
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	var m sign.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("gc: %s: %w", bundle.ManifestFile, err)
	}
	c, stop, err := bf.connect(ctx)
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	defer stop()
	for _, blob := range m.Blobs {
		// The retained meta says how the blob was cut; without it,
		// assume the default.
		mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		meta, err := transfer.FetchMeta(mctx, c, blob.SHA256, blob.Size)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			meta = transfer.Meta(blob.SHA256, blob.Size, transfer.DefaultChunkSize)
			fmt.Fprintf(stderr, "%s: no meta on the broker; clearing %d chunks of the default size\n", blob.Variant, meta.Count)
		}
		if err := transfer.Clear(ctx, c, meta); err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		fmt.Fprintf(stdout, "cleared %s (%s): meta and %d chunks\n", blob.SHA256, blob.Variant, meta.Count)
	}
	return nil
}
