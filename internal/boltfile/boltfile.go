// Package boltfile opens the daemon's bbolt files (result cache, outbox,
// model store state, canary and command records) so that a damaged file
// costs its contents and a warning, never a crash or a daemon that will
// not start.
//
// bbolt trusts its file: a corrupt page can make it panic, or read past
// the end of its mapping and fault. Open therefore reads every page
// reachable from the root, runs bbolt's own consistency check and the
// caller's layout check, all in the calling goroutine with faults turned
// into panics and recovered, before the file is handed out.
package boltfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options configure Open.
type Options struct {
	// Timeout bounds the wait for another process's lock on the file
	// (bolt.ErrTimeout beyond); 0 means one second.
	Timeout time.Duration
	// NoSync skips fsync on commit (tests, tmpfs).
	NoSync bool
}

// CorruptError says the file's content is at fault, not the file system
// or a lock held elsewhere.
type CorruptError struct{ Err error }

func (e *CorruptError) Error() string { return "corrupt bbolt file: " + e.Err.Error() }
func (e *CorruptError) Unwrap() error { return e.Err }

// IsCorrupt reports whether err comes from a file whose content is bad.
func IsCorrupt(err error) bool {
	var ce *CorruptError
	return errors.As(err, &ce)
}

// Open opens path with bbolt and proves the whole file readable: every
// bucket and key is visited, the file is not shorter than its pages,
// bbolt's consistency check passes, and check (when not nil and the file
// holds at least one bucket) accepts the layout. Content at fault gives
// a *CorruptError; a lock timeout or a file system error is returned as
// it is.
func Open(path string, o Options, check func(tx *bolt.Tx) error) (db *bolt.DB, err error) {
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if db != nil {
				closeQuietly(db)
			}
			// If bolt.Open itself panicked, its file descriptor (and lock)
			// is lost until exit; callers rename the file, so a fresh one
			// does not conflict with it.
			db, err = nil, &CorruptError{fmt.Errorf("reading the file panicked: %v", p)}
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout, NoSync: o.NoSync, FreelistType: bolt.FreelistMapType})
	if err != nil {
		var pe *fs.PathError
		if errors.Is(err, bolterrors.ErrTimeout) || errors.As(err, &pe) {
			return nil, err
		}
		return nil, &CorruptError{err}
	}
	if err := verify(db, path, check); err != nil {
		closeQuietly(db)
		return nil, &CorruptError{err}
	}
	return db, nil
}

// Moved tells where a damaged file went and why it was moved.
type Moved struct {
	Aside string // the file's new name
	Cause error  // what Open found wrong with it
}

// OpenOrMoveAside opens path like Open; when the content is corrupt it
// renames the file to MoveAside's name and opens a fresh, empty one,
// reporting the move in moved (nil when nothing was moved).
func OpenOrMoveAside(path string, o Options, check func(tx *bolt.Tx) error) (db *bolt.DB, moved *Moved, err error) {
	db, err = Open(path, o, check)
	if !IsCorrupt(err) {
		return db, nil, err
	}
	aside, rerr := MoveAside(path)
	if rerr != nil {
		return nil, nil, fmt.Errorf("%w; moving it aside: %w", err, rerr)
	}
	moved = &Moved{Aside: aside, Cause: err}
	db, err = Open(path, o, check)
	if err != nil {
		return nil, moved, fmt.Errorf("after moving %s aside to %s: %w", path, aside, err)
	}
	return db, moved, nil
}

// MoveAside renames path to path.corrupt-TIME (UTC, nanoseconds, so that
// repeated failures keep every copy for a post-mortem) and returns the
// new name.
func MoveAside(path string) (string, error) {
	aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405.000000000Z"))
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	return aside, nil
}

func closeQuietly(db *bolt.DB) {
	defer func() { _ = recover() }()
	_ = db.Close()
}

func verify(db *bolt.DB, path string, check func(tx *bolt.Tx) error) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return db.View(func(tx *bolt.Tx) error {
		if tx.Size() > fi.Size() {
			return fmt.Errorf("file is %d bytes; its pages need %d (truncated)", fi.Size(), tx.Size())
		}
		var walk func(b *bolt.Bucket) error
		walk = func(b *bolt.Bucket) error {
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if v == nil {
					if nb := b.Bucket(k); nb != nil {
						if err := walk(nb); err != nil {
							return err
						}
					}
				}
			}
			return nil
		}
		n := 0
		if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			n++
			return walk(b)
		}); err != nil {
			return err
		}
		var errs []error
		for err := range tx.Check() {
			if len(errs) < 3 {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("consistency check: %w", errors.Join(errs...))
		}
		if n == 0 || check == nil {
			return nil // a new file
		}
		return check(tx)
	})
}
