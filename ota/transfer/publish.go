package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/edged-dev/edged/fleet"
)

// DefaultChunkSize is the chunk size Publish uses by default: 64 KiB.
//
// AWS IoT Core caps an MQTT payload at 128 KB and other managed brokers
// are similar, so a chunk must stay well below that. Within the limit,
// smaller chunks cost more per byte (one PUBLISH, PUBACK and retained
// message each, ~60 bytes of topic and header) and more bitmap bits;
// larger ones lose more on a link that drops mid-chunk, since a partial
// chunk is received again whole. 64 KiB is half the AWS cap, makes a 3.6 MB
// model 56 chunks with an overhead under 0.2%, and is about 1 s of a slow
// (512 kbit/s) cellular uplink.
const DefaultChunkSize = 64 << 10

// Publisher publishes MQTT messages; *fleet.Client satisfies it.
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte, qos byte, retained bool) error
}

// PublishOptions tune Publish. The zero value uses the defaults.
type PublishOptions struct {
	// ChunkSize in bytes, 1..fleet.MaxChunkSize; default DefaultChunkSize.
	ChunkSize int
	// Parallel is how many chunks may await the broker's acknowledgement
	// at once; default 8. One at a time would cost a round trip per chunk.
	Parallel int
	// Progress, if set, is called after each chunk the broker acknowledged
	// with the bytes acknowledged so far. It may be called concurrently.
	Progress func(sent, total int64)
}

// Meta returns the BlobMeta of a blob of size bytes with the given sha256
// (lower-case hex) cut into chunks of chunkSize.
func Meta(sum string, size int64, chunkSize int) fleet.BlobMeta {
	count := 0
	if chunkSize > 0 {
		count = int((size + int64(chunkSize) - 1) / int64(chunkSize))
	}
	return fleet.BlobMeta{V: fleet.Version, SHA256: sum, Size: size, ChunkSize: chunkSize, Count: count}
}

// Publish publishes the size bytes of r as retained QoS 1 chunks on
// blob/{sha256}/{index}, then its BlobMeta on blob/{sha256}/meta, and
// returns the meta. The meta goes last so that a device that sees it finds
// every chunk. Publishing the same blob again is harmless: it replaces
// each retained message with the same bytes.
func Publish(ctx context.Context, p Publisher, r io.ReaderAt, size int64, o *PublishOptions) (fleet.BlobMeta, error) {
	var opts PublishOptions
	if o != nil {
		opts = *o
	}
	if opts.ChunkSize == 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 8
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return fleet.BlobMeta{}, fmt.Errorf("publishing the blob: reading the blob: %w", err)
	}
	meta := Meta(hex.EncodeToString(h.Sum(nil)), size, opts.ChunkSize)
	metaJSON, err := fleet.Encode(&meta)
	if err != nil {
		return fleet.BlobMeta{}, fmt.Errorf("publishing the blob: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		next    atomic.Int64
		sent    atomic.Int64
		errOnce sync.Once
		first   error
	)
	for range min(opts.Parallel, max(meta.Count, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, opts.ChunkSize)
			for {
				i := int(next.Add(1) - 1)
				if i >= meta.Count || ctx.Err() != nil {
					return
				}
				n := chunkLen(meta, i)
				_, err := r.ReadAt(buf[:n], int64(i)*int64(meta.ChunkSize))
				if err == nil {
					// The client may hold the payload until acknowledged.
					err = p.Publish(ctx, fleet.BlobChunkTopic(meta.SHA256, i), append([]byte(nil), buf[:n]...), 1, true)
				}
				if err != nil {
					errOnce.Do(func() { first = fmt.Errorf("chunk %d of %d: %w", i, meta.Count, err); cancel() })
					return
				}
				s := sent.Add(int64(n))
				if opts.Progress != nil {
					opts.Progress(s, size)
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return fleet.BlobMeta{}, fmt.Errorf("publishing the blob %s: %w", meta.SHA256, first)
	}
	if err := p.Publish(ctx, fleet.BlobMetaTopic(meta.SHA256), metaJSON, 1, true); err != nil {
		return fleet.BlobMeta{}, fmt.Errorf("publishing the blob %s: meta: %w", meta.SHA256, err)
	}
	return meta, nil
}

// Clear removes a published blob from the broker by publishing empty
// retained messages on its meta and chunk topics (MQTT's way to delete a
// retained message). The meta goes first, so no device starts on a blob
// that is half gone.
func Clear(ctx context.Context, p Publisher, meta fleet.BlobMeta) error {
	if err := p.Publish(ctx, fleet.BlobMetaTopic(meta.SHA256), nil, 1, true); err != nil {
		return fmt.Errorf("clearing the blob %s: meta: %w", meta.SHA256, err)
	}
	for i := range meta.Count {
		if err := p.Publish(ctx, fleet.BlobChunkTopic(meta.SHA256, i), nil, 1, true); err != nil {
			return fmt.Errorf("clearing the blob %s: chunk %d: %w", meta.SHA256, i, err)
		}
	}
	return nil
}

// chunkLen is the length of chunk i of meta.
func chunkLen(meta fleet.BlobMeta, i int) int {
	return int(min(int64(meta.ChunkSize), meta.Size-int64(i)*int64(meta.ChunkSize)))
}
