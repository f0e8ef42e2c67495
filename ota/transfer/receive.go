package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/atomicfile"
)

// Subscriber subscribes to MQTT topics; *fleet.Client satisfies it. A
// subscription's retained message must be delivered on subscribing, and
// a subscription must survive a reconnection (fleet.Client renews it).
type Subscriber interface {
	Subscribe(ctx context.Context, filter string, qos byte, h fleet.MessageHandler) error
	Unsubscribe(ctx context.Context, filters ...string) error
}

// Errors wrapped by Fetch.
var (
	// ErrCorruptChunk is returned when a chunk cannot belong to the blob:
	// its index is out of range or its length is not the one its index
	// needs. Retained, it would come again, so Fetch stops.
	ErrCorruptChunk = errors.New("corrupt chunk")
	// ErrDigestMismatch is returned when the assembled blob does not have
	// the sha256 it was published under; the partial file is discarded.
	ErrDigestMismatch = errors.New("sha256 mismatch")
)

// Defaults of Receiver.
const (
	DefaultWindow    = 16
	DefaultSyncEvery = 16
	DefaultStall     = 15 * time.Second
)

// Progress is a Fetch's state, passed to Receiver.Progress.
type Progress struct {
	SHA256 string
	Bytes  int64 // held so far, including what a previous run left
	Size   int64
	Chunks int // held so far
	Count  int
}

// Receiver downloads blobs published by Publish into Dir. While a blob
// is in transit Dir holds {sha256}.part, written at each chunk's offset,
// and {sha256}.bitmap, the chunks the part file holds; once verified the
// blob is renamed to {sha256}. A Fetch after a crash (of the process, the
// host or the broker) resumes from the bitmap.
//
// Chunks are subscribed one topic each, Window at a time, and
// unsubscribed as they arrive: the device pulls at its own pace and the
// broker never queues more than Window chunks for it, which bounds the
// memory a slow device needs at the broker and in its own client. An
// interrupted Fetch loses what was in flight, up to Window chunks the
// broker sent but Fetch had not written, and after a crash up to
// SyncEvery chunks written but not yet recorded: a larger Window fills a
// long-latency link, a smaller one wastes less on an interruption.
type Receiver struct {
	Sub Subscriber
	Dir string
	// Window is how many chunks may be requested at once; default
	// DefaultWindow.
	Window int
	// SyncEvery is how many chunks may arrive between two persists of the
	// bitmap, i.e. the most a crash can make Fetch fetch again; default
	// DefaultSyncEvery.
	SyncEvery int
	// Stall is how long Fetch waits for any chunk before it subscribes to
	// the outstanding ones again (a broker that lost them, a subscription
	// that failed); default DefaultStall.
	Stall time.Duration
	// Progress, if set, is called on Fetch's goroutine at the start and
	// after each new chunk.
	Progress func(Progress)
	// Log receives retries; default slog.Default().
	Log *slog.Logger
	// Until, if set, is when the blob stops being wanted (the expiry of
	// the manifest that named it): Fetch records it, and Sweep removes the
	// transfer's files after it.
	Until time.Time
}

type chunkMsg struct {
	index   int
	payload []byte
	topic   string
	bad     error
}

// PartPath and BitmapPath name the files of a transfer in progress.
func (r *Receiver) PartPath(sum string) string   { return filepath.Join(r.Dir, sum+".part") }
func (r *Receiver) BitmapPath(sum string) string { return filepath.Join(r.Dir, sum+".bitmap") }

// Path is where a completed blob lies.
func (r *Receiver) Path(sum string) string { return filepath.Join(r.Dir, sum) }

// Fetch downloads the blob meta describes and returns the path of the
// verified file. Check meta.SHA256 and meta.Size against a verified
// manifest first: Fetch trusts nothing but the sha256. If ctx ends,
// Fetch persists what it has and returns ctx's error; the next Fetch
// resumes.
func (r *Receiver) Fetch(ctx context.Context, meta fleet.BlobMeta) (string, error) {
	if _, err := fleet.Encode(&meta); err != nil { // checks every field
		return "", fmt.Errorf("fetching the blob: meta: %w", err)
	}
	path, err := r.fetch(ctx, meta, func(part *os.File, bm *bitmap, persist func() error, report func()) error {
		return r.receive(ctx, meta, part, bm, persist, report)
	})
	if err != nil {
		return "", fmt.Errorf("fetching the blob %s: %w", meta.SHA256, err)
	}
	return path, nil
}

// settings returns the options with defaults filled in.
func (r *Receiver) settings() (window, syncEvery int, stall time.Duration, log *slog.Logger) {
	window, syncEvery, stall, log = r.Window, r.SyncEvery, r.Stall, r.Log
	if window <= 0 {
		window = DefaultWindow
	}
	if syncEvery <= 0 {
		syncEvery = DefaultSyncEvery
	}
	if stall <= 0 {
		stall = DefaultStall
	}
	if log == nil {
		log = slog.Default()
	}
	return
}

// fetch prepares the part file and bitmap, lets fill complete them, then
// verifies and renames the blob.
func (r *Receiver) fetch(ctx context.Context, meta fleet.BlobMeta, fill func(part *os.File, bm *bitmap, persist func() error, report func()) error) (_ string, err error) {
	_, _, _, log := r.settings()
	sum, final := meta.SHA256, r.Path(meta.SHA256)

	// Already here from an earlier run whose caller did not get the path?
	if f, err := os.Open(final); err == nil {
		ok := hashFile(f, meta.Size) == sum
		f.Close()
		if ok {
			return final, nil
		}
		if err := os.Remove(final); err != nil {
			return "", err
		}
	}

	if err := r.recordUntil(sum); err != nil {
		return "", err
	}
	part, bm, err := r.openPart(meta, log)
	if err != nil {
		return "", err
	}
	partOpen := true
	defer func() {
		if partOpen {
			part.Close()
		}
	}()
	report := func() {
		if r.Progress != nil {
			r.Progress(Progress{SHA256: sum, Bytes: bm.bytesHeld(), Size: meta.Size, Chunks: bm.have, Count: meta.Count})
		}
	}
	persist := func() error {
		// The part file first: the bitmap must never claim a chunk that
		// a power cut could still lose.
		if err := part.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", part.Name(), err)
		}
		if err := atomicfile.WriteFile(r.BitmapPath(sum), bm.marshal()); err != nil {
			return fmt.Errorf("write bitmap: %w", err)
		}
		return nil
	}
	report()

	if !bm.complete() {
		if err := fill(part, bm, persist, report); err != nil {
			if perr := persist(); perr != nil {
				err = errors.Join(err, perr)
			}
			return "", err
		}
		if err := persist(); err != nil {
			return "", err
		}
	}

	if _, err := part.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	got := hashFile(part, meta.Size)
	partOpen = false
	if err := part.Close(); err != nil {
		return "", err
	}
	if got != sum {
		// Which chunk was bad cannot be told; start over next time.
		os.Remove(r.PartPath(sum))
		os.Remove(r.BitmapPath(sum))
		return "", fmt.Errorf("%w: the %d chunks assemble to sha256 %s; part file discarded", ErrDigestMismatch, meta.Count, got)
	}
	if err := os.Rename(r.PartPath(sum), final); err != nil {
		return "", err
	}
	if err := atomicfile.SyncDir(r.Dir); err != nil {
		return "", err
	}
	os.Remove(r.BitmapPath(sum))
	return final, nil
}

// openPart opens (or creates) the part file and its bitmap. A bitmap that
// is missing, unreadable or for another layout restarts the blob.
func (r *Receiver) openPart(meta fleet.BlobMeta, log *slog.Logger) (*os.File, *bitmap, error) {
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, nil, err
	}
	sum := meta.SHA256
	part, err := os.OpenFile(r.PartPath(sum), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	bm := newBitmap(meta.Size, meta.ChunkSize, meta.Count)
	data, err := os.ReadFile(r.BitmapPath(sum))
	switch {
	case err == nil:
		if b, perr := parseBitmap(data, meta.Size, meta.ChunkSize, meta.Count); perr == nil {
			bm = b
		} else {
			log.Warn("transfer: bitmap unusable; starting the blob over", "path", r.BitmapPath(sum), "err", perr)
		}
	case !errors.Is(err, fs.ErrNotExist):
		part.Close()
		return nil, nil, err
	}
	if st, err := part.Stat(); err != nil || (bm.have > 0 && st.Size() != meta.Size) {
		// A bitmap that claims chunks of a part file of the wrong size
		// (lost or replaced) cannot be believed.
		bm = newBitmap(meta.Size, meta.ChunkSize, meta.Count)
	}
	if err := part.Truncate(meta.Size); err != nil {
		part.Close()
		return nil, nil, err
	}
	return part, bm, nil
}

// download is one Fetch's chunk loop: which chunks are subscribed, what
// arrived, and the part file they go into.
type download struct {
	r           *Receiver
	meta        fleet.BlobMeta
	part        *os.File
	bm          *bitmap
	persist     func() error
	report      func()
	window      int
	syncEvery   int
	log         *slog.Logger
	in          chan chunkMsg
	outstanding map[int]bool
	next        int // the lowest chunk fill has not looked at
	unsynced    int // chunks written since the bitmap was last persisted
}

func (r *Receiver) receive(ctx context.Context, meta fleet.BlobMeta, part *os.File, bm *bitmap, persist func() error, report func()) error {
	window, syncEvery, stall, log := r.settings()
	d := &download{r: r, meta: meta, part: part, bm: bm, persist: persist, report: report,
		window: window, syncEvery: syncEvery, log: log,
		// The handler drops a chunk that finds the queue full (it is
		// requested again after a stall); with one subscription per
		// outstanding chunk the queue only fills with duplicates.
		in: make(chan chunkMsg, 2*window), outstanding: map[int]bool{}}
	defer d.unsubscribeAll(ctx)
	if err := d.fill(ctx); err != nil {
		return err
	}
	timer := time.NewTimer(stall)
	defer timer.Stop()
	for !bm.complete() {
		select {
		case <-ctx.Done():
			d.drain()
			return ctx.Err()
		case <-timer.C:
			log.Warn("transfer: no chunk for a while; subscribing again", "sha256", meta.SHA256, "stall", stall, "outstanding", len(d.outstanding), "held", bm.have, "count", meta.Count)
			if err := d.resubscribe(ctx); err != nil {
				return err
			}
			timer.Reset(stall)
		case m := <-d.in:
			fresh, err := d.take(ctx, m)
			if err != nil {
				return err
			}
			if !fresh {
				continue
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(stall)
			if err := d.fill(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// handle runs on the client's network goroutine and must not block.
func (d *download) handle(topic string, payload []byte) {
	if len(payload) == 0 {
		return // cleared by the publisher; the stall timer retries
	}
	m := chunkMsg{topic: topic, payload: payload}
	t, err := fleet.ParseTopic(topic)
	switch {
	case err != nil:
		m.bad = err
	case t.Kind != fleet.KindBlobChunk || t.SHA256 != d.meta.SHA256:
		m.bad = fmt.Errorf("message on %s, which is not a chunk of this blob", topic)
	default:
		m.index = t.Index
	}
	select {
	case d.in <- m:
	default:
	}
}

// subscribe asks for chunk i. QoS 0: a chunk lost with its connection is
// asked for again (the stall timer, the resubscription after a
// reconnect), so an acknowledgement per chunk buys nothing and costs the
// broker state per subscription (NATS makes each QoS 1 subscription a
// JetStream consumer).
func (d *download) subscribe(ctx context.Context, i int) error {
	d.outstanding[i] = true
	err := d.r.Sub.Subscribe(ctx, fleet.BlobChunkTopic(d.meta.SHA256, i), 0, d.handle)
	if err != nil && ctx.Err() == nil {
		// Not fatal: a fleet.Client renews the subscription after
		// reconnecting, and the stall timer retries in any case.
		d.log.Warn("transfer: subscribe failed; will retry", "sha256", d.meta.SHA256, "chunk", i, "err", err)
		return nil
	}
	return ctx.Err()
}

// fill subscribes to missing chunks, in order, until Window are
// outstanding.
func (d *download) fill(ctx context.Context) error {
	for ; d.next < d.meta.Count && len(d.outstanding) < d.window; d.next++ {
		if !d.bm.has(d.next) && !d.outstanding[d.next] {
			if err := d.subscribe(ctx, d.next); err != nil {
				return err
			}
		}
	}
	return nil
}

// resubscribe renews every outstanding subscription: a new subscription
// is what makes the broker send the retained message again.
func (d *download) resubscribe(ctx context.Context) error {
	for i := range d.outstanding {
		topic := fleet.BlobChunkTopic(d.meta.SHA256, i)
		if err := d.r.Sub.Unsubscribe(ctx, topic); err != nil && ctx.Err() == nil {
			d.log.Debug("transfer: unsubscribe", "topic", topic, "err", err)
		}
		if err := d.subscribe(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// take checks a message and writes its chunk; fresh is false for a chunk
// already held (a duplicate, e.g. a retained copy after reconnecting).
func (d *download) take(ctx context.Context, m chunkMsg) (fresh bool, err error) {
	meta := d.meta
	if m.bad != nil {
		return false, fmt.Errorf("%w: %v", ErrCorruptChunk, m.bad)
	}
	if m.index >= meta.Count {
		return false, fmt.Errorf("%w: %s: index %d; the blob has chunks 0..%d", ErrCorruptChunk, m.topic, m.index, meta.Count-1)
	}
	if d.bm.has(m.index) {
		return false, nil
	}
	if want := d.bm.chunkLen(m.index); len(m.payload) != want {
		return false, fmt.Errorf("%w: %s: %d bytes; chunk %d of a %d-byte blob in chunks of %d must have %d",
			ErrCorruptChunk, m.topic, len(m.payload), m.index, meta.Size, meta.ChunkSize, want)
	}
	if _, err := d.part.WriteAt(m.payload, int64(m.index)*int64(meta.ChunkSize)); err != nil {
		return false, fmt.Errorf("write chunk %d: %w", m.index, err)
	}
	d.bm.set(m.index)
	delete(d.outstanding, m.index)
	if err := d.r.Sub.Unsubscribe(ctx, m.topic); err != nil && ctx.Err() == nil {
		d.log.Debug("transfer: unsubscribe", "topic", m.topic, "err", err)
	}
	if d.unsynced++; d.unsynced >= d.syncEvery {
		if err := d.persist(); err != nil {
			return false, err
		}
		d.unsynced = 0
	}
	d.report()
	return true, nil
}

// drain keeps the valid chunks already queued when the fetch is stopped:
// on a graceful stop they would otherwise be fetched again.
func (d *download) drain() {
	for {
		select {
		case m := <-d.in:
			if m.bad == nil && m.index < d.meta.Count && !d.bm.has(m.index) && len(m.payload) == d.bm.chunkLen(m.index) {
				if _, err := d.part.WriteAt(m.payload, int64(m.index)*int64(d.meta.ChunkSize)); err == nil {
					d.bm.set(m.index)
				}
			}
		default:
			return
		}
	}
}

// unsubscribeAll ends the subscriptions still outstanding, also when ctx
// has ended.
func (d *download) unsubscribeAll(ctx context.Context) {
	if len(d.outstanding) == 0 {
		return
	}
	filters := make([]string, 0, len(d.outstanding))
	for i := range d.outstanding {
		filters = append(filters, fleet.BlobChunkTopic(d.meta.SHA256, i))
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.r.Sub.Unsubscribe(uctx, filters...); err != nil {
		d.log.Debug("transfer: unsubscribe", "err", err)
	}
}

// hashFile returns the sha256 (hex) of the first size bytes of f, or ""
// if f is shorter or unreadable.
func hashFile(f io.Reader, size int64) string {
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, size+1))
	if err != nil || n != size {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// FetchMeta waits for the retained BlobMeta of the blob with the given
// sha256 and checks that it describes a blob of size bytes (from the
// verified manifest).
func FetchMeta(ctx context.Context, sub Subscriber, sum string, size int64) (fleet.BlobMeta, error) {
	type result struct {
		meta fleet.BlobMeta
		err  error
	}
	got := make(chan result, 1)
	topic := fleet.BlobMetaTopic(sum)
	h := func(_ string, payload []byte) {
		if len(payload) == 0 {
			return
		}
		var m fleet.BlobMeta
		err := fleet.Decode(payload, &m)
		if err == nil && (m.SHA256 != sum || m.Size != size) {
			err = fmt.Errorf("meta names sha256 %s size %d; want %s size %d", m.SHA256, m.Size, sum, size)
		}
		select {
		case got <- result{m, err}:
		default:
		}
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		sub.Unsubscribe(uctx, topic)
	}()
	// QoS 0, and subscribed again every metaRetry until the meta comes: a
	// subscription made as the connection dropped, or while a clustered
	// broker was electing its leaders, may fail or bring no retained
	// message, and a fleet.Client renews it only after a reconnect.
	for {
		if err := sub.Subscribe(ctx, topic, 0, h); err != nil && ctx.Err() == nil && !errors.Is(err, fleet.ErrNotConnected) {
			slog.Default().Debug("transfer: meta subscription failed; will retry", "topic", topic, "err", err)
		}
		retry := time.NewTimer(metaRetry)
		select {
		case <-ctx.Done():
			retry.Stop()
			return fleet.BlobMeta{}, fmt.Errorf("fetching the description of blob %s: waiting for %s: %w", sum, topic, ctx.Err())
		case r := <-got:
			retry.Stop()
			if r.err != nil {
				return fleet.BlobMeta{}, fmt.Errorf("fetching the description of blob %s: %w", sum, r.err)
			}
			return r.meta, nil
		case <-retry.C:
			uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			sub.Unsubscribe(uctx, topic)
			cancel()
		}
	}
}

// metaRetry is how long FetchMeta waits for the retained meta before it
// subscribes again.
var metaRetry = 10 * time.Second
