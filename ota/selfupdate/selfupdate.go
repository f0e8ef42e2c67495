package selfupdate

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	minio "github.com/minio/selfupdate"

	"github.com/edged-dev/edged/internal/atomicfile"
	"github.com/edged-dev/edged/ota/sign"
)

// Name is the manifest name of the edged binary.
const Name = "edged"

// ExitRestart is the exit status with which edged asks systemd to start it
// again after a swap or a rollback (EX_TEMPFAIL). edged.service restarts
// on any failure status (Restart=on-failure), and this one tells the
// journal why.
const ExitRestart = 75

// Defaults of Updater.
const (
	DefaultDeadline  = 5 * time.Minute
	DefaultMaxStarts = 2
	DefaultPoll      = time.Second
)

// Errors.
var (
	// ErrRestart is wrapped by the errors of Check and Trial.Wait after a
	// rollback, and is what a handler passes to the agent's restart
	// callback after Apply: the process must exit (with ExitRestart) so
	// that systemd starts the binary now in place.
	ErrRestart = errors.New("restart needed")
	// ErrRolledBack is wrapped, with ErrRestart, when the old binary was
	// restored.
	ErrRolledBack = errors.New("rolled back")
	// ErrNoVariant is returned for an authentic manifest without a blob for
	// this binary's Variant.
	ErrNoVariant = errors.New("no binary for this platform")
	// ErrBadVersion is returned for a version that was rolled back on this
	// device before: the retained command that brought it comes again
	// after the restart, and installing it again would loop.
	ErrBadVersion = errors.New("version refused")
	// ErrBusy is returned by Apply while an earlier update is on trial.
	ErrBusy = errors.New("an update is on trial")
)

// Updater applies agent updates to one executable and keeps their state in
// Dir. Its methods are safe for concurrent use.
type Updater struct {
	// Dir holds the state file (StateFile); default the executable's
	// directory, which must be writable for the swap anyway. Keeping the
	// state beside the binary rather than under the configured state_dir
	// lets Check run before the configuration is read: a new binary that
	// cannot parse the configuration still counts its starts.
	Dir string
	// Executable is the binary to replace; default os.Executable with
	// symlinks resolved, so a /usr/bin/edged that links to a writable
	// /var/lib/edged/bin/edged updates the file it points to.
	Executable string
	// Version is the running binary's release name ("1.2.3"). A name that
	// ParseVersion rejects ("dev") counts as 0: any signed update is newer.
	Version string
	// Variant is the blob this binary installs; default CurrentVariant().
	Variant string
	// Deadline is how long after Apply the new binary has to report
	// healthy; default DefaultDeadline. Set by the binary that applies.
	Deadline time.Duration
	// MaxStarts is how many starts the new binary gets to become healthy
	// (a start that crashes counts); default DefaultMaxStarts.
	MaxStarts int
	// Poll is how often Trial.Wait asks whether the agent is healthy;
	// default DefaultPoll.
	Poll time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Floor, if set, returns the highest agent version this device
	// accepted before, kept apart from the state file (ota/store's
	// AgentVersion): an update must be newer than it too, so that a lost
	// or damaged state file never lets an older or rolled-back version in.
	Floor func() uint64

	mu sync.Mutex
}

func (u *Updater) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

func (u *Updater) log() *slog.Logger {
	if u.Log != nil {
		return u.Log
	}
	return slog.Default()
}

func (u *Updater) statePath() string {
	dir := u.Dir
	if dir == "" {
		exe, err := u.executable()
		if err != nil {
			// Unreadable /proc/self/exe: a path that does not exist reads as
			// "no state", and writing there fails with a clear error.
			return filepath.Join(string(filepath.Separator), "nonexistent", StateFile)
		}
		dir = filepath.Dir(exe)
	}
	return filepath.Join(dir, StateFile)
}

// running is the manifest version of the running binary, 0 if unknown.
func (u *Updater) running() uint64 {
	v, err := ParseVersion(u.Version)
	if err != nil {
		return 0
	}
	return v
}

// last is the version an update must be newer than: the running one or
// the floor, whichever is higher.
func (u *Updater) last() uint64 {
	v := u.running()
	if u.Floor != nil {
		v = max(v, u.Floor())
	}
	return v
}

func (u *Updater) variant() string {
	if u.Variant != "" {
		return u.Variant
	}
	return CurrentVariant()
}

func (u *Updater) executable() (string, error) {
	p := u.Executable
	if p == "" {
		var err error
		if p, err = os.Executable(); err != nil {
			return "", fmt.Errorf("selfupdate: locating the executable: %w", err)
		}
	}
	p, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("selfupdate: locating the executable: %w", err)
	}
	return filepath.Abs(p)
}

// TakeUnreported returns the last outcome if it was not taken before,
// and marks it taken: the agent publishes it as an event once, after a
// start that followed a rollback it could not report itself.
func (u *Updater) TakeUnreported() (*Outcome, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	st, err := readState(u.statePath())
	if err != nil || st.Last == nil || st.Last.Reported {
		return nil, err
	}
	st.Last.Reported = true
	if err := writeState(u.statePath(), st); err != nil {
		return nil, err
	}
	return st.Last, nil
}

// State returns the state file's content.
func (u *Updater) State() (State, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return readState(u.statePath())
}

// Verify checks an update-agent manifest against root and this device: a
// valid signature by a key certified for "agent" manifests, kind "agent",
// name "edged", not expired, a version newer than the running binary's
// (sign.ErrReplay otherwise), not one this device rolled back before
// (ErrBadVersion), and a blob for this binary's Variant (ErrNoVariant).
// It returns the manifest and that blob.
func (u *Updater) Verify(data []byte, root ed25519.PublicKey, opts sign.VerifyOptions) (*sign.Manifest, sign.Blob, error) {
	opts.Kind, opts.Name, opts.LastVersion = sign.KindAgent, Name, u.last()
	if opts.Now == nil {
		opts.Now = u.now
	}
	m, err := sign.Verify(data, root, opts)
	if err != nil {
		return nil, sign.Blob{}, fmt.Errorf("selfupdate: running %s: %w", u.describeRunning(), err)
	}
	b, err := u.accept(m)
	if err != nil {
		return nil, sign.Blob{}, err
	}
	return m, b, nil
}

func (u *Updater) describeRunning() string {
	if v := u.running(); v != 0 {
		return "version " + FormatVersion(v)
	}
	return fmt.Sprintf("unnumbered build %q", u.Version)
}

// accept checks a verified manifest against this device.
func (u *Updater) accept(m *sign.Manifest) (sign.Blob, error) {
	where := fmt.Sprintf("selfupdate: manifest %s version %s", m.Name, FormatVersion(m.Version))
	switch {
	case m.Kind != sign.KindAgent || m.Name != Name:
		return sign.Blob{}, fmt.Errorf("%s: %w: kind %q name %q; want %q %q", where, sign.ErrMismatch, m.Kind, m.Name, sign.KindAgent, Name)
	case m.Version <= u.running():
		return sign.Blob{}, fmt.Errorf("%s: %w: the device runs version %s", where, sign.ErrReplay, FormatVersion(u.running()))
	case m.Version <= u.last():
		return sign.Blob{}, fmt.Errorf("%s: %w: the device accepted version %s before", where, sign.ErrReplay, FormatVersion(u.last()))
	}
	st, err := u.State()
	if err != nil {
		return sign.Blob{}, err
	}
	if o := st.Last; o != nil && o.State == OutcomeRolledBack && o.Version == m.Version {
		return sign.Blob{}, fmt.Errorf("%s: %w: it was rolled back on this device at %s (%s); publish a newer version",
			where, ErrBadVersion, o.Time.UTC().Format(time.RFC3339), o.Reason)
	}
	b, ok := m.Blob(u.variant())
	if !ok {
		var have []string
		for _, b := range m.Blobs {
			have = append(have, b.Variant)
		}
		return sign.Blob{}, fmt.Errorf("%s: %w: no blob for variant %q (the manifest has %q)", where, ErrNoVariant, u.variant(), have)
	}
	return b, nil
}

// Apply installs the blob of this binary's variant of m (a manifest that
// Verify returned) from the downloaded file at path: it checks the size and
// sha256, records the update as pending, has minio/selfupdate write the new
// binary beside the executable (checking the sha256 again) and swap it in,
// keeping the old one as "<executable>.old", and fsyncs the file and the
// directory. command is the id of the command that asked for it, if any.
//
// On success the new binary is in place and the caller must exit with
// ExitRestart; until then the old code keeps running. On error the
// executable is the old one, except when the error says otherwise (a
// failed swap whose undo failed too).
func (u *Updater) Apply(m *sign.Manifest, path, command string) error {
	blob, err := u.accept(m)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("selfupdate.Apply %s %s", Name, FormatVersion(m.Version))
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer f.Close()
	if err := sign.VerifyBlob(blob, f); err != nil {
		return fmt.Errorf("%s: downloaded file %s: %w", where, path, err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	sum, err := blob.Checksum()
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	exe, err := u.executable()
	if err != nil {
		return err
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}

	u.mu.Lock()
	defer u.mu.Unlock()
	st, err := readState(u.statePath())
	if err != nil {
		return err
	}
	if p := st.Pending; p != nil {
		return fmt.Errorf("%s: %w: version %s is on trial until %s", where, ErrBusy, FormatVersion(p.Version), p.Deadline.UTC().Format(time.RFC3339))
	}
	deadline := u.Deadline
	if deadline <= 0 {
		deadline = DefaultDeadline
	}
	maxStarts := u.MaxStarts
	if maxStarts <= 0 {
		maxStarts = DefaultMaxStarts
	}
	now := u.now()
	old := exe + ".old"
	// Pending is written before the swap: a crash in between leaves the
	// old binary with a pending record that Check recognises as an update
	// that did not take, rather than a new binary nobody watches.
	prev := st
	st.Pending = &Pending{Version: m.Version, SHA256: blob.SHA256, From: u.Version, Executable: exe, Old: old, Applied: now.UTC(),
		Deadline: now.Add(deadline).UTC(), MaxStarts: maxStarts, Command: command}
	if err := writeState(u.statePath(), st); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	undo := func(cause error) error {
		if werr := writeState(u.statePath(), prev); werr != nil {
			return errors.Join(cause, werr)
		}
		return cause
	}

	opts := minio.Options{TargetPath: exe, TargetMode: fi.Mode().Perm(), Checksum: sum, OldSavePath: old}
	if err := minio.PrepareAndCheckBinary(f, opts); err != nil {
		os.Remove(newPath(exe))
		return undo(fmt.Errorf("%s: writing the new binary beside %s: %w", where, exe, err))
	}
	// minio/selfupdate closes the new file without fsyncing it; a power
	// cut after the rename could leave an empty executable.
	if err := syncFile(newPath(exe)); err != nil {
		os.Remove(newPath(exe))
		return undo(fmt.Errorf("%s: %w", where, err))
	}
	if err := minio.CommitBinary(opts); err != nil {
		if rerr := minio.RollbackError(err); rerr != nil {
			// The executable was moved to old and neither the new one nor
			// the old one is back at its path. Try once more; the state
			// stays pending-free either way, since nothing new runs.
			if err2 := os.Rename(old, exe); err2 != nil {
				return undo(fmt.Errorf("%s: swap failed (%v) and %s is missing: restore it by hand with `mv %s %s`: %w",
					where, err, exe, old, exe, rerr))
			}
		}
		os.Remove(newPath(exe))
		atomicfile.SyncDir(filepath.Dir(exe))
		return undo(fmt.Errorf("%s: swapping %s: %w", where, exe, err))
	}
	if err := atomicfile.SyncDir(filepath.Dir(exe)); err != nil {
		// The renames are done in the page cache; the swap stands.
		u.log().Warn("selfupdate: fsync of the executable's directory failed", "dir", filepath.Dir(exe), "err", err)
	}
	u.log().Info("selfupdate: new binary in place; restart to run it", "version", FormatVersion(m.Version), "executable", exe, "old", old, "deadline", st.Pending.Deadline)
	return nil
}

// newPath is where minio/selfupdate writes the new binary before the swap.
func newPath(exe string) string {
	return filepath.Join(filepath.Dir(exe), "."+filepath.Base(exe)+".new")
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Check runs early at every start. Without a pending update it returns
// (nil, nil). With one and this binary its version, it counts the start
// and returns the Trial that must end in Wait or Confirm; if the deadline
// has passed or the starts are used up, it restores the old binary and
// returns an error wrapping ErrRolledBack and ErrRestart, and the caller
// must exit with ExitRestart. A pending update whose version this binary
// is not is rolled back the same way if the executable is the signed file
// (a mislabelled release), and recorded as failed otherwise (the swap
// never happened).
//
// A corrupt state file is moved aside to StateFile+".corrupt" and reported
// with ErrCorruptState; the caller should log it and start anyway, since a
// device that refuses to start over its state file is lost.
func (u *Updater) Check(ctx context.Context) (*Trial, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	path := u.statePath()
	st, err := readState(path)
	if errors.Is(err, ErrCorruptState) {
		if rerr := os.Rename(path, path+".corrupt"); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	p := st.Pending
	if p == nil {
		return nil, nil
	}
	now := u.now()
	if u.running() != p.Version {
		if p.SHA256 != "" && fileSHA256(p.Executable) == p.SHA256 {
			// The signed binary is in place but says it is another
			// version: mislabelled at release. Not what the operator
			// asked for, so it goes back.
			return nil, u.rollback(st, fmt.Sprintf("the new binary reports %s, not version %s as its manifest says", u.describeRunning(), FormatVersion(p.Version)))
		}
		reason := fmt.Sprintf("the binary that started is %s, not version %s", u.describeRunning(), FormatVersion(p.Version))
		u.log().Warn("selfupdate: pending update did not take effect", "reason", reason)
		st.Pending = nil
		st.Last = &Outcome{Version: p.Version, State: OutcomeFailed, Reason: reason, Command: p.Command, Time: now.UTC()}
		return nil, writeState(path, st)
	}
	p.Starts++
	switch {
	case !now.Before(p.Deadline):
		return nil, u.rollback(st, fmt.Sprintf("not healthy by the deadline %s (start %d)", p.Deadline.Format(time.RFC3339), p.Starts))
	case p.Starts > p.MaxStarts:
		return nil, u.rollback(st, fmt.Sprintf("started %d times without becoming healthy", p.Starts-1))
	}
	if err := writeState(path, st); err != nil {
		return nil, err
	}
	u.log().Info("selfupdate: new version on trial", "version", FormatVersion(p.Version), "start", p.Starts, "max_starts", p.MaxStarts, "deadline", p.Deadline)
	return &Trial{u: u, p: *p}, nil
}

// fileSHA256 is the hex sha256 of a file, "" if it cannot be read.
func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// rollback restores p.Old over p.Executable; called with u.mu held.
func (u *Updater) rollback(st State, reason string) error {
	p := st.Pending
	where := fmt.Sprintf("selfupdate: version %s", FormatVersion(p.Version))
	// One rename replaces the executable atomically: a crash leaves the
	// new or the old binary in place, never none.
	if err := os.Rename(p.Old, p.Executable); err != nil {
		st.Pending = nil
		st.Last = &Outcome{Version: p.Version, State: OutcomeFailed, Reason: reason + "; restoring the old binary failed: " + err.Error(), Command: p.Command, Time: u.now().UTC()}
		werr := writeState(u.statePath(), st)
		return errors.Join(fmt.Errorf("%s: %s; cannot restore %s: %w", where, reason, p.Old, err), werr)
	}
	if err := atomicfile.SyncDir(filepath.Dir(p.Executable)); err != nil {
		u.log().Warn("selfupdate: fsync of the executable's directory failed", "err", err)
	}
	st.Pending = nil
	st.Last = &Outcome{Version: p.Version, State: OutcomeRolledBack, Reason: reason, Command: p.Command, Time: u.now().UTC()}
	if err := writeState(u.statePath(), st); err != nil {
		return err
	}
	u.log().Error("selfupdate: rolled back", "version", FormatVersion(p.Version), "to", p.From, "reason", reason)
	return fmt.Errorf("%s: %w to %s: %s: %w", where, ErrRolledBack, p.From, reason, ErrRestart)
}

// Trial is a new binary's probation, from Check to Confirm or rollback.
type Trial struct {
	u *Updater
	p Pending
}

// Version is the manifest version on trial.
func (t *Trial) Version() uint64 { return t.p.Version }

// Deadline is when the trial fails.
func (t *Trial) Deadline() time.Time { return t.p.Deadline }

// Command is the id of the command that asked for the update.
func (t *Trial) Command() string { return t.p.Command }

// Confirm marks the new binary good: the pending record is dropped and
// the old binary stays beside it until the next update replaces it.
func (t *Trial) Confirm() error {
	t.u.mu.Lock()
	defer t.u.mu.Unlock()
	st, err := readState(t.u.statePath())
	if err != nil {
		return err
	}
	if st.Pending == nil || st.Pending.Version != t.p.Version {
		return fmt.Errorf("selfupdate: confirming version %s: it is no longer pending", FormatVersion(t.p.Version))
	}
	st.Pending = nil
	st.Last = &Outcome{Version: t.p.Version, State: OutcomeActive, Command: t.p.Command, Time: t.u.now().UTC()}
	if err := writeState(t.u.statePath(), st); err != nil {
		return err
	}
	t.u.log().Info("selfupdate: new version is healthy", "version", FormatVersion(t.p.Version))
	return nil
}

// Wait polls healthy until it reports true, then confirms the update and
// returns nil. If the deadline passes first it restores the old binary and
// returns an error wrapping ErrRolledBack and ErrRestart (exit with
// ExitRestart). If ctx ends first it returns ctx's error and the update
// stays pending: the next start goes on counting.
func (t *Trial) Wait(ctx context.Context, healthy func() bool) error {
	every := t.u.Poll
	if every <= 0 {
		every = DefaultPoll
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if healthy() {
			return t.Confirm()
		}
		if !t.u.now().Before(t.p.Deadline) {
			return t.expire()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (t *Trial) expire() error {
	t.u.mu.Lock()
	defer t.u.mu.Unlock()
	st, err := readState(t.u.statePath())
	if err != nil {
		return err
	}
	if st.Pending == nil || st.Pending.Version != t.p.Version {
		return fmt.Errorf("selfupdate: version %s is no longer pending", FormatVersion(t.p.Version))
	}
	return t.u.rollback(st, fmt.Sprintf("not healthy by the deadline %s", t.p.Deadline.Format(time.RFC3339)))
}
