package outbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Publisher sends one message and returns nil only once it is safely
// delivered: for QoS 1, when the broker has acknowledged it.
// *fleet.Client is one.
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte, qos byte, retained bool) error
}

// Deliver sends the stored messages in sequence order through pub, at
// QoS 1 and not retained, removing each only after pub returned nil for
// it; then it waits for new ones. After a failed publish it backs off
// (MinBackoff doubling to MaxBackoff, or until Kick) and retries the same
// message. It returns nil when ctx ends. Run one Deliver at a time.
func (b *Outbox) Deliver(ctx context.Context, pub Publisher) error {
	if !b.delivering.CompareAndSwap(false, true) {
		return errors.New("outbox delivery: already running")
	}
	defer b.delivering.Store(false)
	backoff := b.o.MinBackoff
	var failing time.Time // when the current outage began
	for {
		n, err := b.deliverBatch(ctx, pub)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil:
			b.publishErrs.Add(1)
			if failing.IsZero() {
				failing = time.Now()
				b.log.Warn("outbox: cannot deliver; retrying with backoff", "path", b.path, "pending", b.Pending(), "err", err)
			} else {
				b.log.Debug("outbox: cannot deliver", "path", b.path, "retry_in", backoff, "err", err)
			}
			if !b.sleep(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, b.o.MaxBackoff)
			continue
		case !failing.IsZero():
			b.log.Info("outbox: delivering again", "path", b.path, "after", time.Since(failing).Round(time.Millisecond), "pending", b.Pending())
			failing = time.Time{}
		}
		backoff = b.o.MinBackoff
		if n > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-b.wake:
		case <-b.kick:
		}
	}
}

// sleep waits d, or until Kick or ctx ends; false if ctx ended.
func (b *Outbox) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-b.kick:
	case <-t.C:
	}
	return true
}

// Kick makes a Deliver that is backing off retry now; call it when the
// connection comes back (fleet.Options.OnConnect).
func (b *Outbox) Kick() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

type message struct {
	seq     uint64
	topic   string
	payload []byte
}

// deliverBatch sends up to Batch of the oldest messages, stopping at the
// first failure, and removes those sent. It returns how many it removed.
func (b *Outbox) deliverBatch(ctx context.Context, pub Publisher) (int, error) {
	batch, err := b.oldest(b.o.Batch)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	sent := make([]uint64, 0, len(batch))
	var perr error
	for _, m := range batch {
		if err := pub.Publish(ctx, m.topic, envelope(m.seq, m.payload), 1, false); err != nil {
			perr = fmt.Errorf("outbox: publish %d on %s: %w", m.seq, m.topic, err)
			break
		}
		sent = append(sent, m.seq)
	}
	if len(sent) > 0 {
		if err := b.remove(sent); err != nil {
			// They will be sent again: duplicates, not losses.
			return 0, err
		}
	}
	return len(sent), perr
}

// oldest reads up to n messages in sequence order.
func (b *Outbox) oldest(n int) ([]message, error) {
	var out []message
	err := b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMsgs).Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			_, topic, payload, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("message %x: %w", k, err)
			}
			out = append(out, message{seq: binary.BigEndian.Uint64(k), topic: topic, payload: bytes.Clone(payload)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: read %s: %w", b.path, err)
	}
	return out, nil
}

// remove deletes the messages seqs that are still stored (Append may
// have dropped some meanwhile).
func (b *Outbox) remove(seqs []uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return ErrClosed
	}
	var (
		n     int
		freed int64
	)
	err := b.db.Update(func(tx *bolt.Tx) error {
		msgs, kinds := tx.Bucket(bucketMsgs), tx.Bucket(bucketKinds)
		for _, seq := range seqs {
			k := seqKey(seq)
			v := msgs.Get(k)
			if v == nil {
				continue
			}
			kind, topic, payload, err := decodeEntry(v)
			if err != nil {
				return err
			}
			freed += entrySize(topic, payload)
			n++
			if err := kinds.Delete(kindKey(kind, seq)); err != nil {
				return err
			}
			if err := msgs.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox: remove delivered messages from %s: %w", b.path, err)
	}
	b.bytes -= freed
	b.pending.Add(-int64(n))
	b.delivered.Add(uint64(len(seqs)))
	return nil
}
