package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/transfer"
)

// brokerFlags are the flags of commands that talk to the broker.
type brokerFlags struct {
	url, ca, user, password, cert, key string
	connectTimeout                     time.Duration
}

func (f *brokerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "broker", "", "broker URL: tcp://host:1883 or ssl://host:8883 (required)")
	fs.StringVar(&f.ca, "ca", "", "CA file (PEM) for the broker's certificate")
	fs.StringVar(&f.user, "user", "", "MQTT user name")
	fs.StringVar(&f.password, "password", "", "MQTT password (or $EDGECTL_MQTT_PASSWORD)")
	fs.StringVar(&f.cert, "cert", "", "client certificate (PEM)")
	fs.StringVar(&f.key, "cert-key", "", "client certificate's key (PEM)")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", 15*time.Second, "give up if the broker cannot be reached within this")
}

// connect runs a fleet.Client until stop is called and returns once it is
// connected.
func (f *brokerFlags) connect(ctx context.Context) (c *fleet.Client, stop func(), err error) {
	if f.url == "" {
		return nil, nil, errors.New("--broker is required")
	}
	if f.password == "" {
		f.password = os.Getenv("EDGECTL_MQTT_PASSWORD")
	}
	up := make(chan struct{}, 1)
	c, err = fleet.New(fleet.Options{
		Broker: f.url, Username: f.user, Password: f.password, CAFile: f.ca, CertFile: f.cert, KeyFile: f.key,
		MinBackoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second,
		Log: slog.New(slog.DiscardHandler),
		OnConnect: func() {
			select {
			case up <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { c.Run(runCtx); close(done) }()
	stop = func() { cancel(); <-done }
	t := time.NewTimer(f.connectTimeout)
	defer t.Stop()
	select {
	case <-up:
		return c, stop, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = fmt.Errorf("no connection to %s within %v", f.url, f.connectTimeout)
	}
	if le := c.Stats().LastError; le != "" {
		err = fmt.Errorf("%w (last error: %s)", err, le)
	}
	stop()
	return nil, nil, err
}

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
		bar := newBar(stderr, blob.Variant)
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

// bar draws a progress bar on one terminal line.
type bar struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	last  int
}

func newBar(w io.Writer, label string) *bar { return &bar{w: w, label: label, last: -1} }

func (b *bar) update(sent, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	pct := 100
	if total > 0 {
		pct = int(100 * sent / total)
	}
	if pct == b.last {
		return
	}
	b.last = pct
	n := pct * 30 / 100
	fmt.Fprintf(b.w, "\r%-8s [%s%s] %3d%% %.1f/%.1f MB", b.label, strings.Repeat("#", n), strings.Repeat(" ", 30-n), pct,
		float64(sent)/1e6, float64(total)/1e6)
}

func (b *bar) done() { fmt.Fprintln(b.w) }

func runPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("push", stderr)
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
	fs := newFlags("gc", stderr)
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
