// Package store keeps the model files a device has downloaded, and which
// version of each model is active, previous (the one to roll back to) and
// staged (verified, not yet serving).
//
// # Layout
//
//	DIR/state.db                          bbolt: per-model state, agent start times
//	DIR/models/{name}/{version}/{file}    one directory per version
//
// Files are staged into a temporary directory, each fsynced, the
// directory renamed into place and its parent fsynced, so after a power
// cut a version directory is either complete or absent. Promote and
// Rollback change the state in one bbolt transaction; the files of a
// version no longer active, previous or staged are deleted afterwards (a
// crash in between leaves a directory that the next Open removes).
//
// # Crash loops
//
// A model that crashes the agent must not keep it down. The agent calls
// RecordStart then CheckCrashLoop at every start, RecordStop when it stops
// cleanly, and MarkGood once the new model has served (e.g. after a smoke
// inference). If, since the last Promote and before MarkGood, CrashStarts
// starts that followed a run without RecordStop fell within CrashWindow,
// CheckCrashLoop rolls the model back to the previous version. Clean
// restarts never count.
//
// # Damage
//
// The highest version accepted per model is kept in state.db and in
// versions.json (see floor.go), so losing either never lets an older
// manifest in again; versions.json also restores the active and previous
// versions after state.db is lost. Every version directory carries the
// sha256 of its files (.sha256sums); Verify checks them and Drop forgets
// a damaged version.
package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edged-dev/edged/internal/atomicfile"
	"github.com/edged-dev/edged/internal/boltfile"
	"github.com/edged-dev/edged/ota/sign"
)

// Defaults of Options.
const (
	DefaultCrashWindow = 10 * time.Minute
	DefaultCrashStarts = 3
)

// Errors.
var (
	// ErrCorrupt is returned by Open when state.db cannot be read; the
	// file has been moved aside (the error names where) and the next Open
	// starts with no model state.
	ErrCorrupt = errors.New("state file corrupt")
	// ErrNotFound is returned for a model the store does not know, or an
	// operation that needs a version the model does not have (Promote
	// without a staged version, Rollback without a previous one).
	ErrNotFound = errors.New("not found")
	// ErrInUse is returned by Stage for a version that is active or
	// previous: its files may be in use and are never rewritten.
	ErrInUse = errors.New("version in use")
)

// Options configure a Store; nil means all defaults.
type Options struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// CrashWindow and CrashStarts define a crash loop; defaults
	// DefaultCrashWindow and DefaultCrashStarts.
	CrashWindow time.Duration
	CrashStarts int
	// Timeout bounds the wait for another process's lock on state.db;
	// default 1s.
	Timeout time.Duration
	// Log receives the removal of stale files; default slog.Default().
	Log *slog.Logger
}

// Model is the state of one model. Versions are manifest versions; 0
// means none.
type Model struct {
	Name     string `json:"name"`
	Active   uint64 `json:"active,omitempty"`
	Previous uint64 `json:"previous,omitempty"`
	Staged   uint64 `json:"staged,omitempty"`
	// LastVersion is the highest version ever staged: pass it to
	// sign.VerifyOptions.LastVersion so that no manifest is installed
	// twice, not even one that was rolled back.
	LastVersion uint64 `json:"last_version,omitempty"`
	// Changed is when Active last changed by Promote; Good whether
	// MarkGood was called since.
	Changed time.Time `json:"changed,omitzero"`
	Good    bool      `json:"good,omitempty"`
}

// File is one file of a version to stage.
type File struct {
	Name string // a plain file name: A-Z a-z 0-9 . _ -, not starting with . or -
	Data io.Reader
}

// Store is an open model store. Its methods are safe for concurrent use
// (bbolt serialises the writers).
type Store struct {
	dir string
	db  *bolt.DB
	o   Options
	// mirrorMu serialises the rewrites of versions.json.
	mirrorMu sync.Mutex
	crashed  atomic.Bool
}

var (
	bucketModels = []byte("models")
	bucketMeta   = []byte("meta")
	keyStarts    = []byte("starts")
	// keyStopped is set by RecordStop and cleared by RecordStart: missing
	// at a start, the run before did not stop cleanly (or there was none).
	keyStopped = []byte("stopped")
)

// Open opens the store in dir, creating it if needed, and removes files
// no state refers to (versions left by a crash, temporary directories).
func Open(dir string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CrashWindow <= 0 {
		o.CrashWindow = DefaultCrashWindow
	}
	if o.CrashStarts <= 0 {
		o.CrashStarts = DefaultCrashStarts
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if err := os.MkdirAll(filepath.Join(dir, "models"), 0o755); err != nil {
		return nil, fmt.Errorf("opening the model store %s: %w", dir, err)
	}
	path := filepath.Join(dir, "state.db")
	_, serr := os.Stat(path)
	fresh := errors.Is(serr, os.ErrNotExist)
	db, err := boltfile.Open(path, boltfile.Options{Timeout: o.Timeout}, checkLayout)
	if boltfile.IsCorrupt(err) {
		aside, rerr := boltfile.MoveAside(path)
		if rerr != nil {
			return nil, fmt.Errorf("opening the model store %s: %w: %w; moving it aside: %w", path, ErrCorrupt, err, rerr)
		}
		return nil, fmt.Errorf("opening the model store %s: %w: %w; moved to %s, the next Open starts with no model state", path, ErrCorrupt, err, aside)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the model store %s: %w", path, err)
	}
	s := &Store{dir: dir, db: db, o: o}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketModels, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening the model store %s: %w", path, err)
	}
	if err := s.recover(fresh); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening the model store %s: %w", path, err)
	}
	if err := s.sweep(); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening the model store %s: %w", dir, err)
	}
	s.writeMirror()
	return s, nil
}

// Close closes state.db.
func (s *Store) Close() error { return s.db.Close() }

// Path is the path of a staged file.
func (s *Store) Path(name string, version uint64, file string) string {
	return filepath.Join(s.versionDir(name, version), file)
}

func (s *Store) modelDir(name string) string { return filepath.Join(s.dir, "models", name) }
func (s *Store) versionDir(name string, v uint64) string {
	return filepath.Join(s.modelDir(name), strconv.FormatUint(v, 10))
}

// Stage writes the files of a version of a model and records it as the
// model's staged version, replacing a staged version not yet promoted.
// It fails with ErrInUse for the active or previous version.
func (s *Store) Stage(name string, version uint64, files []File) error {
	if err := checkName("model name", name); err != nil {
		return fmt.Errorf("staging the model: %w", err)
	}
	where := fmt.Sprintf("store.Stage %s version %d", name, version)
	if version == 0 || version > sign.MaxVersion {
		return fmt.Errorf("%s: want a version from 1 to %d", where, uint64(sign.MaxVersion))
	}
	for i, f := range files {
		if err := checkName("file name", f.Name); err != nil {
			return fmt.Errorf("%s: files[%d]: %w", where, i, err)
		}
		for _, o := range files[:i] {
			if o.Name == f.Name {
				return fmt.Errorf("%s: file %q appears twice", where, f.Name)
			}
		}
	}
	m, _, err := s.Model(name)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if version == m.Active || version == m.Previous {
		return fmt.Errorf("%s: %w: it is the model's active or previous version", where, ErrInUse)
	}
	if err := os.MkdirAll(s.modelDir(name), 0o755); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	tmp, err := os.MkdirTemp(s.modelDir(name), ".stage-*")
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	sums := make([]fileSum, 0, len(files))
	for _, f := range files {
		sum, err := writeSynced(filepath.Join(tmp, f.Name), f.Data)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", where, f.Name, err)
		}
		sums = append(sums, fileSum{f.Name, sum})
	}
	if _, err := writeSynced(filepath.Join(tmp, sumsFile), strings.NewReader(formatSums(sums))); err != nil {
		return fmt.Errorf("%s: %s: %w", where, sumsFile, err)
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	dst := s.versionDir(name, version)
	if err := os.RemoveAll(dst); err != nil { // an earlier staging of it
		return fmt.Errorf("%s: %w", where, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if err := atomicfile.SyncDir(s.modelDir(name)); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	var old Model
	err = s.update(name, func(m *Model) error {
		if version == m.Active || version == m.Previous {
			return fmt.Errorf("%w: it became the model's active or previous version meanwhile", ErrInUse)
		}
		old = *m
		m.Name = name
		m.Staged = version
		m.LastVersion = max(m.LastVersion, version)
		return nil
	}, func(tx *bolt.Tx) error { return raiseFloor(tx, name, version) })
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if old.Staged != 0 && old.Staged != version {
		s.remove(name, old.Staged)
	}
	return nil
}

// Model returns the state of model name and whether the store knows it.
func (s *Store) Model(name string) (Model, bool, error) {
	var m Model
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		defer func() { m.LastVersion = max(m.LastVersion, floor(tx, name)) }()
		v := tx.Bucket(bucketModels).Get([]byte(name))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &m)
	})
	if err != nil {
		return Model{}, false, fmt.Errorf("store: model %s: %w", name, err)
	}
	return m, ok, nil
}

// Models returns the state of every model, by name.
func (s *Store) Models() ([]Model, error) {
	var ms []Model
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketModels).ForEach(func(k, v []byte) error {
			var m Model
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("model %s: %w", k, err)
			}
			m.LastVersion = max(m.LastVersion, floor(tx, m.Name))
			ms = append(ms, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing the models: %w", err)
	}
	return ms, nil
}

// Promote makes the staged version active and the active one previous,
// in one transaction, and deletes the files of the version that was
// previous. The new version is on probation (not Good) until MarkGood.
func (s *Store) Promote(name string) (Model, error) {
	var m, old Model
	err := s.update(name, func(cur *Model) error {
		if cur.Staged == 0 {
			return fmt.Errorf("%w: no staged version", ErrNotFound)
		}
		old = *cur
		cur.Previous, cur.Active, cur.Staged = cur.Active, cur.Staged, 0
		cur.Changed, cur.Good = s.o.Now().UTC(), false
		m = *cur
		return nil
	})
	if err != nil {
		return Model{}, fmt.Errorf("promoting %s: %w", name, err)
	}
	if old.Previous != 0 {
		s.remove(name, old.Previous)
	}
	return m, nil
}

// Rollback makes the previous version active again, in one transaction,
// and deletes the files of the version that was active. The model then
// has no previous version.
func (s *Store) Rollback(name string) (Model, error) {
	var m Model
	var bad uint64
	err := s.update(name, func(cur *Model) error {
		bad = cur.Active
		if err := rollback(cur); err != nil {
			return err
		}
		m = *cur
		return nil
	})
	if err != nil {
		return Model{}, fmt.Errorf("rolling back %s: %w", name, err)
	}
	s.remove(name, bad)
	return m, nil
}

func rollback(m *Model) error {
	if m.Previous == 0 {
		return fmt.Errorf("%w: no previous version to roll back to (active %d)", ErrNotFound, m.Active)
	}
	// The previous version served before the change, so it counts as good.
	m.Active, m.Previous = m.Previous, 0
	m.Good = true
	return nil
}

// MarkGood ends the probation of the active version: crash loops no
// longer roll it back.
func (s *Store) MarkGood(name string) error {
	err := s.update(name, func(m *Model) error {
		if m.Active == 0 {
			return fmt.Errorf("%w: no active version", ErrNotFound)
		}
		m.Good = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("marking %s good: %w", name, err)
	}
	return nil
}

// update runs f on model name's state in one write transaction, with
// also (if given) in the same transaction, then rewrites versions.json.
// The model must exist unless f sets its Name.
func (s *Store) update(name string, f func(m *Model) error, also ...func(tx *bolt.Tx) error) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketModels)
		var m Model
		if v := b.Get([]byte(name)); v != nil {
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
		}
		if err := f(&m); err != nil {
			return err
		}
		if m.Name == "" {
			return fmt.Errorf("%w: no model %q", ErrNotFound, name)
		}
		v, err := json.Marshal(&m)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(name), v); err != nil {
			return err
		}
		for _, a := range also {
			if err := a(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.writeMirror()
	}
	return err
}

// RecordStart records that the agent started now. Call it once per start,
// before CheckCrashLoop, and RecordStop when the agent stops cleanly. A
// start counts towards a crash loop only when the run before it did not
// reach RecordStop: it crashed, was killed or lost power. A restart for
// maintenance (systemctl restart, a reboot that stops the agent) does not.
// Only counted starts within CrashWindow are kept.
func (s *Store) RecordStart() error {
	now := s.o.Now()
	var crashed bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		crashed = b.Get(keyStopped) == nil
		starts := decodeStarts(b.Get(keyStarts))
		if crashed {
			starts = append(starts, now)
		}
		starts = slices.DeleteFunc(starts, func(t time.Time) bool { return !t.After(now.Add(-s.o.CrashWindow)) })
		if len(starts) > 64 {
			starts = starts[len(starts)-64:]
		}
		if err := b.Delete(keyStopped); err != nil {
			return err
		}
		return b.Put(keyStarts, encodeStarts(starts))
	})
	if err != nil {
		return fmt.Errorf("recording the start: %w", err)
	}
	s.crashed.Store(crashed)
	return nil
}

// RecordStop records that the agent is stopping cleanly: the next start
// does not count towards a crash loop. Call it last, once the models are
// closed.
func (s *Store) RecordStop() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyStopped, encodeStarts([]time.Time{s.o.Now()}))
	})
	if err != nil {
		return fmt.Errorf("recording the stop: %w", err)
	}
	return nil
}

// LastRunCrashed reports whether RecordStart found that the run before
// this one ended without RecordStop (the first start of a store counts as
// such: it follows no clean stop).
func (s *Store) LastRunCrashed() bool { return s.crashed.Load() }

// Rolled is one rollback done by CheckCrashLoop.
type Rolled struct {
	Name     string
	From, To uint64
	Starts   int // starts counted within the window since the change
}

// CheckCrashLoop rolls back, in one transaction, every model whose active
// version is on probation (promoted, not yet marked good) and has a
// previous version, if CrashStarts starts happened within CrashWindow
// since its promotion. It returns what it rolled back.
func (s *Store) CheckCrashLoop() ([]Rolled, error) {
	now := s.o.Now()
	var rolled []Rolled
	err := s.db.Update(func(tx *bolt.Tx) error {
		rolled = nil
		starts := decodeStarts(tx.Bucket(bucketMeta).Get(keyStarts))
		b := tx.Bucket(bucketModels)
		var changed []Model
		err := b.ForEach(func(k, v []byte) error {
			var m Model
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("model %s: %w", k, err)
			}
			n, loop := CrashLooping(starts, m.Changed, now, s.o.CrashWindow, s.o.CrashStarts)
			if m.Good || m.Previous == 0 || !loop {
				return nil
			}
			r := Rolled{Name: m.Name, From: m.Active, To: m.Previous, Starts: n}
			if err := rollback(&m); err != nil {
				return err
			}
			rolled = append(rolled, r)
			changed = append(changed, m)
			return nil
		})
		if err != nil {
			return err
		}
		for _, m := range changed {
			v, err := json.Marshal(&m)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(m.Name), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checking for a crash loop: %w", err)
	}
	if len(rolled) > 0 {
		s.writeMirror()
	}
	for _, r := range rolled {
		s.o.Log.Warn("store: crash loop after a model change; rolled back", "model", r.Name, "from", r.From, "to", r.To, "starts", r.Starts, "window", s.o.CrashWindow)
		s.remove(r.Name, r.From)
	}
	return rolled, nil
}

// CrashLooping counts the starts at or after changed and within window
// before now, and reports whether they are at least n. It is the pure
// decision behind CheckCrashLoop.
func CrashLooping(starts []time.Time, changed, now time.Time, window time.Duration, n int) (int, bool) {
	count := 0
	for _, t := range starts {
		if !t.Before(changed) && t.After(now.Add(-window)) && !t.After(now) {
			count++
		}
	}
	return count, count >= n
}

func encodeStarts(ts []time.Time) []byte {
	b := make([]byte, 8*len(ts))
	for i, t := range ts {
		binary.BigEndian.PutUint64(b[8*i:], uint64(t.UnixNano()))
	}
	return b
}

func decodeStarts(b []byte) []time.Time {
	ts := make([]time.Time, 0, len(b)/8)
	for i := 0; i+8 <= len(b); i += 8 {
		ts = append(ts, time.Unix(0, int64(binary.BigEndian.Uint64(b[i:]))))
	}
	return ts
}

// remove deletes a version's files if no state refers to them any more.
// Failures are only logged: Open sweeps again.
func (s *Store) remove(name string, v uint64) {
	if v == 0 || checkName("model name", name) != nil {
		return
	}
	m, _, err := s.Model(name)
	if err != nil || v == m.Active || v == m.Previous || v == m.Staged {
		return
	}
	if err := retire(s.versionDir(name, v)); err != nil {
		s.o.Log.Warn("store: cannot remove old version", "model", name, "version", v, "err", err)
	}
}

// retire deletes the files of a version and keeps its directory, empty:
// when state.db and versions.json are both lost, the version directories
// still give the floor, so a version that was rolled back, replaced or
// dropped is not installed again. An empty directory is no version
// (hasVersion).
func retire(dir string) error {
	es, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range es {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// sweep removes the files of versions no state refers to (keeping their
// directories, see retire) and temporary directories.
func (s *Store) sweep() error {
	ms, err := s.Models()
	if err != nil {
		return err
	}
	keep := map[string]Model{}
	for _, m := range ms {
		keep[m.Name] = m
	}
	root := filepath.Join(s.dir, "models")
	names, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, n := range names {
		m, known := keep[n.Name()]
		versions, err := os.ReadDir(filepath.Join(root, n.Name()))
		if err != nil {
			continue
		}
		for _, v := range versions {
			ver, perr := strconv.ParseUint(v.Name(), 10, 64)
			if known && perr == nil && ver != 0 && (ver == m.Active || ver == m.Previous || ver == m.Staged) {
				if err := s.sumLegacy(n.Name(), ver); err != nil {
					s.o.Log.Warn("store: cannot record the checksums of a version", "model", n.Name(), "version", ver, "err", err)
				}
				continue
			}
			if !known && !strings.HasPrefix(v.Name(), ".stage-") && perr == nil {
				// Files of a model the state does not know: after a corrupt
				// state was moved aside they may be all the device has, so
				// they stay for the operator to judge.
				continue
			}
			p := filepath.Join(root, n.Name(), v.Name())
			if perr == nil && v.IsDir() {
				if es, err := os.ReadDir(p); err == nil && len(es) == 0 {
					continue // retired
				}
				s.o.Log.Info("store: removing stale files", "path", p)
				if err := retire(p); err != nil {
					return err
				}
				continue
			}
			s.o.Log.Info("store: removing stale files", "path", p)
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkName(what, s string) error {
	ok := len(s) > 0 && len(s) <= 128 && s[0] != '.' && s[0] != '-'
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%s %q: want 1 to 128 of A-Z a-z 0-9 . _ - (not starting with . or -)", what, s)
	}
	return nil
}

// writeSynced writes r to a new file, fsyncs it and returns its sha256.
func writeSynced(path string, r io.Reader) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return sum, err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	h.Sum(sum[:0])
	return sum, err
}

// checkLayout accepts a non-empty state file only with the store's
// buckets and readable model records whose names are valid: names become
// paths (removal of old versions), so one Stage would refuse must not
// come in through the file.
func checkLayout(tx *bolt.Tx) error {
	return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		if string(name) != string(bucketModels) && string(name) != string(bucketMeta) {
			return fmt.Errorf("bucket %q: not a model store", name)
		}
		if string(name) == string(bucketModels) {
			return b.ForEach(func(k, v []byte) error {
				var m Model
				if err := json.Unmarshal(v, &m); err != nil || m.Name != string(k) {
					return fmt.Errorf("model %q: unreadable state %q", k, v)
				}
				return checkName("model name", m.Name)
			})
		}
		return nil
	})
}
