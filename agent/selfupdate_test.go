package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/deploy"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/ota/selfupdate"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/transfer"
)

// agentManifest signs an update-agent manifest for data.
func agentManifest(t *testing.T, key *sign.SigningKey, version string, data []byte, edit func(*sign.Manifest)) []byte {
	t.Helper()
	v, err := selfupdate.ParseVersion(version)
	must(t, err)
	sum := sha256.Sum256(data)
	now := time.Now().UTC().Truncate(time.Second)
	m := &sign.Manifest{V: 1, Kind: sign.KindAgent, Name: selfupdate.Name, Version: v, Created: now.Add(-time.Minute), Expires: now.Add(time.Hour),
		Blobs: []sign.Blob{{Variant: selfupdate.CurrentVariant(), SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}}}
	if edit != nil {
		edit(m)
	}
	must(t, sign.Sign(m, key))
	b, err := json.Marshal(m)
	must(t, err)
	return b
}

// startWithSelfUpdate runs an agent of e's config with self-update wired
// as cmd/edged does; restarts are sent on the returned channel.
func (e *otaEnv) startWithSelfUpdate(u *selfupdate.Updater, trial *selfupdate.Trial) (*runningAgent, chan error) {
	e.t.Helper()
	cfg, err := config.Load(e.cfgPath)
	must(e.t, err)
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	must(e.t, err)
	restarts := make(chan error, 4)
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	must(e.t, a.EnableSelfUpdate(ctx, deploy.SelfUpdate{Updater: u, Trial: trial, Restart: func(err error) { restarts <- err }}))
	ra := e.run(a)
	stop := ra.stop
	ra.stop = func() { cancel(); stop() }
	return ra, restarts
}

func TestSelfUpdateCommand(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	agentKey := e.keys.Key(t, sign.KindAgent)

	dir := t.TempDir()
	exe := filepath.Join(dir, "edged")
	v1 := []byte("#!/bin/sh\necho edged 1.0.0\n")
	must(t, os.WriteFile(exe, v1, 0o755))
	v2 := make([]byte, 300<<10) // several chunks
	rand.Read(v2)
	u1 := &selfupdate.Updater{Executable: exe, Version: "1.0.0", Poll: 20 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}

	ra, restarts := e.startWithSelfUpdate(u1, nil)
	e.publishBlob(v2, transfer.DefaultChunkSize)

	// Refusals, each with the status and event that say which check.
	refusals := []struct {
		name, id string
		manifest []byte
		want     string
	}{
		{"older", "old", agentManifest(t, agentKey, "0.9.0", v2, nil), "replayed"},
		{"expired", "exp", agentManifest(t, agentKey, "2.0.0", v2, func(m *sign.Manifest) {
			m.Created, m.Expires = m.Created.Add(-2*time.Hour), m.Created.Add(-time.Hour)
		}), "expired"},
		{"other platform", "plat", agentManifest(t, agentKey, "2.0.0", v2, func(m *sign.Manifest) { m.Blobs[0].Variant = "linux-riscv64" }), "no_variant"},
		{"model key", "mkey", func() []byte {
			// A key for models signs a model manifest, relabelled as an
			// agent manifest: the key's purpose is checked first.
			b := agentManifest(t, e.keys.Model, "2.0.0", v2, func(m *sign.Manifest) { m.Kind = sign.KindModel })
			return bytes.Replace(b, []byte(`"kind":"model"`), []byte(`"kind":"agent"`), 1)
		}(), "wrong_purpose"},
	}
	for _, r := range refusals {
		e.command(fleet.OpUpdateAgent, r.id, r.manifest, time.Time{})
		sts := e.final(r.id)
		if last := sts[len(sts)-1]; last.State != fleet.StatusRejected || !strings.HasPrefix(last.Reason, r.want+":") {
			t.Errorf("update-agent %s: final status %s %q; want rejected %q", r.name, last.State, last.Reason, r.want)
		}
		if d := e.event(r.id); d["state"] != fleet.StatusRejected {
			t.Errorf("update-agent %s: event %v; want state rejected", r.name, d)
		}
		e.clear(fleet.OpUpdateAgent, r.id)
	}
	if b, _ := os.ReadFile(exe); !bytes.Equal(b, v1) {
		t.Fatal("a refused update changed the executable")
	}

	// The real one.
	e.command(fleet.OpUpdateAgent, "up2", agentManifest(t, agentKey, "2.0.0", v2, nil), time.Time{})
	select {
	case err := <-restarts:
		if !errors.Is(err, selfupdate.ErrRestart) {
			t.Fatalf("restart cause = %v; want ErrRestart", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no restart within 30s of the update-agent command")
	}
	if b, _ := os.ReadFile(exe); !bytes.Equal(b, v2) {
		t.Fatal("executable is not the new binary")
	}
	if b, _ := os.ReadFile(exe + ".old"); !bytes.Equal(b, v1) {
		t.Fatal("edged.old is not the old binary")
	}
	testenv.WaitFor(t, "restarting status", 10*time.Second, func() bool {
		sts := e.dev.Statuses("up2")
		return len(sts) > 0 && sts[len(sts)-1].State == statusRestarting
	})
	seen := states(e.dev.Statuses("up2"))
	if want := []string{statusDownloading, statusVerified, statusRestarting}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("update-agent statuses = %v; want %v", seen, want)
	}
	if d := e.event("up2"); d["state"] != statusRestarting || d["version"] != "2.0.0" {
		t.Errorf("update event = %v; want restarting to 2.0.0", d)
	}
	ra.stop()

	// The new binary starts: on trial until healthy (connected), then
	// active; the retained command, delivered again, is answered from the
	// state file instead of being applied again.
	u2 := &selfupdate.Updater{Executable: exe, Version: "2.0.0", Poll: 20 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
	trial, err := u2.Check(context.Background())
	if err != nil || trial == nil {
		t.Fatalf("Check after the swap = %v, %v; want a trial", trial, err)
	}
	ra, _ = e.startWithSelfUpdate(u2, trial)
	sts := e.final("up2")
	if last := sts[len(sts)-1]; last.State != statusActive {
		t.Errorf("final status after the restart = %s %q; want active", last.State, last.Reason)
	}
	st, err := u2.State()
	if err != nil || st.Pending != nil || st.Last == nil || st.Last.State != selfupdate.OutcomeActive {
		t.Errorf("state after confirmation = %+v, %v; want last active, nothing pending", st, err)
	}
	ra.stop()
}

// A new binary that never became healthy is rolled back at its next
// start; the old binary, started again, reports it and does not install
// the same version when the retained command comes again.
func TestSelfUpdateRolledBackReported(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	agentKey := e.keys.Key(t, sign.KindAgent)
	dir := t.TempDir()
	exe := filepath.Join(dir, "edged")
	v1, v2 := []byte("old binary"), []byte("new binary that crashes")
	must(t, os.WriteFile(exe, v1, 0o755))
	quiet := slog.New(slog.DiscardHandler)
	u1 := &selfupdate.Updater{Executable: exe, Version: "1.0.0", MaxStarts: 1, Log: quiet}

	ra, restarts := e.startWithSelfUpdate(u1, nil)
	e.publishBlob(v2, transfer.DefaultChunkSize)
	e.command(fleet.OpUpdateAgent, "bad2", agentManifest(t, agentKey, "2.0.0", v2, nil), time.Time{})
	select {
	case <-restarts:
	case <-time.After(30 * time.Second):
		t.Fatal("no restart")
	}
	ra.stop()

	// v2 starts once (and crashes: its trial is never confirmed), then a
	// second start is past MaxStarts.
	u2 := &selfupdate.Updater{Executable: exe, Version: "2.0.0", Log: quiet}
	if trial, err := u2.Check(context.Background()); err != nil || trial == nil {
		t.Fatalf("first start of v2: Check = %v, %v; want a trial", trial, err)
	}
	if _, err := u2.Check(context.Background()); !errors.Is(err, selfupdate.ErrRolledBack) || !errors.Is(err, selfupdate.ErrRestart) {
		t.Fatalf("second start of v2: Check = %v; want ErrRolledBack and ErrRestart", err)
	}
	if b, _ := os.ReadFile(exe); !bytes.Equal(b, v1) {
		t.Fatal("executable is not the old binary after the rollback")
	}

	// v1 again.
	if trial, err := u1.Check(context.Background()); trial != nil || err != nil {
		t.Fatalf("start of v1: Check = %v, %v; want nil, nil", trial, err)
	}
	ra, _ = e.startWithSelfUpdate(u1, nil)
	defer ra.stop()
	testenv.WaitFor(t, "rolled_back status", 20*time.Second, func() bool {
		sts := e.dev.Statuses("bad2")
		return len(sts) > 0 && sts[len(sts)-1].State == statusRolledBack
	})
	testenv.WaitFor(t, "rolled_back event", 10*time.Second, func() bool {
		for _, ev := range e.dev.Events() {
			var d map[string]any
			if json.Unmarshal(ev.Detail, &d) == nil && d["cmd"] == "bad2" && d["state"] == statusRolledBack {
				return true
			}
		}
		return false
	})
	if b, _ := os.ReadFile(exe); !bytes.Equal(b, v1) {
		t.Error("the rolled-back version was installed again")
	}
	select {
	case err := <-restarts:
		t.Errorf("restart after the rollback: %v", err)
	default:
	}
}
