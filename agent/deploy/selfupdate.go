package deploy

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/link"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/selfupdate"
	"github.com/edged-dev/edged/ota/sign"
)

// StatusRestarting is the update-agent state between the swap and the
// exit; the next one comes from the new binary (active) or, after a
// rollback, from the old one (rolled_back).
const StatusRestarting = "restarting"

// SelfUpdate is what the agent needs to update its own binary.
type SelfUpdate struct {
	// Updater swaps binaries and keeps the trial state; cmd/edged made it
	// for its start-up check.
	Updater *selfupdate.Updater
	// Trial is that check's result: a new binary on probation, or nil.
	Trial *selfupdate.Trial
	// Restart ends the process so that systemd starts the binary now in
	// place: cmd/edged cancels Run's context with the cause and exits with
	// selfupdate.ExitRestart.
	Restart func(cause error)
	// Accepted, if set, hears of each version installed, for the
	// anti-rollback floor kept apart from the updater's state file
	// (Deployer.RecordAgentVersion; Updater.Floor reads it back).
	Accepted func(version uint64)
}

// selfUpdater handles update-agent commands.
type selfUpdater struct {
	link    *link.Link // nil without a fleet
	maxBlob int64
	healthy func() bool
	su      SelfUpdate
	root    ed25519.PublicKey
	dlDir   string
	log     *slog.Logger
	fetched func(path string) // test hook: called with each downloaded binary
}

// EnableSelfUpdate takes update-agent commands on the fleet link l (nil
// without a fleet) when ota: is enabled, confirms a binary on trial once
// healthy says the agent is (or rolls it back at its deadline and
// restarts), and reports an outcome the previous process could not. Call
// it once, before the agent runs; the watch ends with ctx.
func EnableSelfUpdate(ctx context.Context, cfg *config.Config, l *link.Link, healthy func() bool, log *slog.Logger, su SelfUpdate) error {
	if su.Updater == nil || su.Restart == nil {
		return errors.New("self-update needs an updater and a restart function")
	}
	s := &selfUpdater{link: l, maxBlob: cfg.OTA.MaxBlobBytes, healthy: healthy, su: su, dlDir: filepath.Join(cfg.StateDir, "selfupdate"), log: log.With("component", "selfupdate")}
	sweepDownloads(s.dlDir, time.Now(), s.log)
	if l != nil && cfg.OTA.Enabled(&cfg.Fleet) {
		root, err := LoadRootKey(cfg)
		if err != nil {
			return err
		}
		s.root = root
		l.Handle(fleet.OpUpdateAgent, s.handle)
	}
	if last, err := su.Updater.TakeUnreported(); err != nil {
		s.log.Warn("cannot read the self-update state", "err", err)
	} else if last != nil && last.State != selfupdate.OutcomeActive {
		// A rollback at start-up, or a swap that did not take: the
		// process that saw it exited before it had a link.
		s.event(last.Command, last.State, last.Version, last.Reason)
	}
	if t := su.Trial; t != nil {
		go s.watch(ctx, t)
	}
	return nil
}

// watch confirms the trial or rolls it back.
func (s *selfUpdater) watch(ctx context.Context, t *selfupdate.Trial) {
	err := t.Wait(ctx, s.healthy)
	switch {
	case err == nil:
		s.finish(ctx, t.Command(), StatusActive, t.Version(), "running version "+selfupdate.FormatVersion(t.Version()))
	case errors.Is(err, selfupdate.ErrRolledBack):
		s.finish(ctx, t.Command(), StatusRolledBack, t.Version(), err.Error())
		s.su.Restart(err)
	case ctx.Err() != nil:
		// Stopping: the next start goes on with the trial.
	default:
		s.log.Error("self-update trial failed", "err", err)
	}
}

func (s *selfUpdater) finish(ctx context.Context, cmdID, state string, version uint64, reason string) {
	if _, err := s.su.Updater.TakeUnreported(); err != nil {
		s.log.Warn("cannot mark the outcome reported", "err", err)
	}
	s.event(cmdID, state, version, reason)
	if cmdID != "" && s.link != nil {
		s.status(ctx, cmdID, state, 0, reason)
	}
}

// handle handles an update-agent command. A retained command comes again
// after every reconnect, and in particular after the restart it caused:
// the state file says how that ended.
func (s *selfUpdater) handle(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
	st, err := s.su.Updater.State()
	if err != nil {
		s.status(ctx, cmd.ID, fleet.StatusFailed, 0, err.Error())
		return
	}
	if p := st.Pending; p != nil && p.Command == cmd.ID {
		return // this binary is on trial for it; watch reports
	}
	// A failed update (the swap did not take) is tried again, as deploy
	// does; the state file answers for the others.
	if o := st.Last; o != nil && o.Command == cmd.ID && o.State != selfupdate.OutcomeFailed {
		state := o.State
		if state == selfupdate.OutcomeActive {
			state, o.Reason = StatusActive, "running version "+selfupdate.FormatVersion(o.Version)
		}
		s.status(ctx, cmd.ID, state, 0, o.Reason)
		return
	}
	version, state, reason := s.run(ctx, cmd)
	if state == "" {
		s.log.Info("update interrupted; it resumes when the command comes again", "id", cmd.ID)
		return
	}
	s.status(ctx, cmd.ID, state, 0, reason)
	s.event(cmd.ID, state, version, reason)
	if state == StatusRestarting {
		s.su.Restart(fmt.Errorf("version %s installed: %w", selfupdate.FormatVersion(version), selfupdate.ErrRestart))
	}
}

// run verifies, downloads and installs; state "" means interrupted.
func (s *selfUpdater) run(ctx context.Context, cmd fleet.Command) (version uint64, state, reason string) {
	if h, err := sign.Peek(cmd.Payload); err == nil {
		version = h.Version
	}
	m, blob, err := s.su.Updater.Verify(cmd.Payload, s.root, sign.VerifyOptions{Skew: time.Minute})
	if err != nil {
		if errors.Is(err, sign.ErrReplay) && version != 0 && version == s.running() {
			return version, StatusActive, "already running version " + selfupdate.FormatVersion(version)
		}
		return version, fleet.StatusRejected, updateCheck(cmd.Payload, err) + ": " + err.Error()
	}
	if lim := s.maxBlob; lim > 0 && blob.Size > lim {
		return version, fleet.StatusRejected, fmt.Sprintf("binary is %d bytes; ota.max_blob_bytes is %d", blob.Size, lim)
	}
	s.log.Info("agent update accepted", "id", cmd.ID, "version", selfupdate.FormatVersion(m.Version), "variant", blob.Variant, "size", blob.Size)
	path, err := s.fetch(ctx, cmd.ID, blob, m.Expires)
	if err != nil {
		if ctx.Err() != nil {
			return version, "", ""
		}
		return version, fleet.StatusFailed, "download: " + err.Error()
	}
	defer discardDownload(s.dlDir, blob.SHA256, s.log)
	if s.fetched != nil {
		s.fetched(path)
	}
	s.status(ctx, cmd.ID, StatusVerified, 0, "")
	start := time.Now()
	if err := s.su.Updater.Apply(m, path, cmd.ID); err != nil {
		return version, fleet.StatusFailed, err.Error()
	}
	if s.su.Accepted != nil {
		s.su.Accepted(m.Version)
	}
	s.log.Info("new binary in place", "id", cmd.ID, "version", selfupdate.FormatVersion(m.Version), "apply", time.Since(start).Round(time.Millisecond))
	return version, StatusRestarting, "version " + selfupdate.FormatVersion(m.Version) + " installed; restarting"
}

// updateCheck names the check that refused an update, for the status and
// the event: verifyCheck's names plus the two of this device.
func updateCheck(payload []byte, err error) string {
	switch {
	case errors.Is(err, selfupdate.ErrNoVariant):
		return "no_variant"
	case errors.Is(err, selfupdate.ErrBadVersion):
		return "rolled_back_before"
	}
	return sign.Check(err)
}

func (s *selfUpdater) running() uint64 {
	v, _ := selfupdate.ParseVersion(s.su.Updater.Version)
	return v
}

// fetch downloads the binary over MQTT or its URL, writing progress every
// 10%; an interrupted download resumes.
func (s *selfUpdater) fetch(ctx context.Context, cmdID string, blob sign.Blob, until time.Time) (string, error) {
	if err := os.MkdirAll(s.dlDir, 0o750); err != nil {
		return "", err
	}
	return fetchBlob(ctx, s.link.Client(), s.dlDir, s.log, blob, until, nil, func(ctx context.Context, frac float64) {
		s.status(ctx, cmdID, StatusDownloading, frac, "")
	})
}

func (s *selfUpdater) status(ctx context.Context, cmdID, state string, progress float64, reason string) {
	if s.link == nil {
		return
	}
	err := s.link.Client().WriteStatus(ctx, fleet.OpUpdateAgent, fleet.CommandStatus{ID: cmdID, State: state, Progress: progress, Reason: reason})
	if err != nil {
		s.log.Debug("cannot write command status", "id", cmdID, "state", state, "err", err)
	}
}

// event queues an "update" event through the outbox, so it survives the
// restart that follows.
func (s *selfUpdater) event(cmdID, state string, version uint64, reason string) {
	if s.link == nil {
		return
	}
	det := map[string]any{"op": fleet.OpUpdateAgent, "state": state, "from": s.su.Updater.Version}
	if cmdID != "" {
		det["cmd"] = cmdID
	}
	if version != 0 {
		det["version"] = selfupdate.FormatVersion(version)
	}
	if reason != "" {
		det["reason"] = reason
	}
	if _, err := s.link.Event(fleet.Event{Kind: "update", Detail: detail(det)}); err != nil {
		s.log.Warn("event not queued", "err", err)
	}
}
