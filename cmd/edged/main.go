// Command edged is the edge inference agent: it serves TFLite models on the
// local Open Inference Protocol endpoint and feeds them from its sources.
// Under systemd (Type=notify) it reports READY once its models are loaded.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/coreos/go-systemd/v22/journal"

	"github.com/edged-dev/edged/agent"
	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/deploy"
	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/internal/journald"
	"github.com/edged-dev/edged/internal/memlimit"
	"github.com/edged-dev/edged/ota/selfupdate"
)

// version is set at link time (-X main.version=...).
var version = "dev"

// executable is edged's path as it started: after a self-update moved the
// running file aside, /proc/self/exe names the old one, and the new
// binary is at this path.
var executable, _ = os.Executable()

// underJournal is set when stderr is systemd's journal stream
// (JOURNAL_STREAM names it): log records then reach the journal with
// their priority and fields.
var underJournal bool

// errPrefix gives a line written straight to stderr the journal's error
// priority when stderr is the journal.
func errPrefix() string {
	if underJournal {
		return journald.Prefix(journald.PriErr)
	}
	return ""
}

func main() {
	// Started to check a vendor library (delegates.CheckInChild), edged
	// does that and exits.
	delegates.ServeChildCheck()
	underJournal, _ = journal.StderrIsJournalStream()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, errPrefix()+"edged:", err)
		}
		if errors.Is(err, selfupdate.ErrRestart) {
			restartSelf()                   // unsupervised: runs the new binary in this process
			os.Exit(selfupdate.ExitRestart) // systemd starts the binary now in place
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edged", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/edged/edged.yaml", "configuration `file`")
	check := fs.Bool("check", false, "validate the configuration and its models, then exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	stateDir := fs.String("state-dir", "", "keep the device's state in this `directory`, in place of the configuration's state_dir")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *showVersion {
		fmt.Fprintln(stdout, "edged", version)
		return nil
	}
	ctx, restart := context.WithCancelCause(ctx)
	defer restart(nil)
	upd := &selfupdate.Updater{Version: version, Log: newLogger(config.Log{}, stderr, "")}
	var trial *selfupdate.Trial
	if !*check {
		// Before the configuration is read, so that a new binary that
		// cannot read it still counts its starts and is rolled back.
		var err error
		if trial, err = upd.Check(ctx); errors.Is(err, selfupdate.ErrRestart) {
			return err
		} else if err != nil {
			upd.Log.Warn("self-update check failed; starting anyway", "err", err)
		}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *check {
		// The check reads the configuration and loads its models; it
		// changes nothing on the disk: the state the agent opens goes to
		// a directory removed on return.
		tmp, err := os.MkdirTemp("", "edged-check-")
		if err != nil {
			return fmt.Errorf("--check: %w", err)
		}
		defer os.RemoveAll(tmp)
		cfg.Fleet.Outbox.Path, cfg.OTA.StoreDir = "", ""
		moveState(cfg, tmp)
	} else if *stateDir != "" {
		moveState(cfg, *stateDir)
	}
	log := newLogger(cfg.Log, stderr, deviceID(cfg))
	upd.Log = log
	if !*check {
		// The collector's target: half the board's memory unless
		// GOMEMLIMIT says otherwise, so a burst of requests is collected
		// before the device runs short.
		if lim, from, err := memlimit.Apply("/"); err != nil {
			log.Warn("board memory unknown; no soft memory limit", "err", err)
		} else {
			log.Info("soft memory limit", "bytes", lim, "from", from)
		}
	}
	agent.Version = version
	a, err := agent.New(cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if *check {
		if missing := a.Missing(); len(missing) > 0 {
			var errs []error
			for _, m := range missing {
				errs = append(errs, fmt.Errorf("model %q: %s", m.Model, m.Reason))
			}
			return errors.Join(errs...)
		}
		fmt.Fprintf(stdout, "%s: ok (%d models)\n", *cfgPath, len(cfg.Models))
		return nil
	}
	if err := a.EnableSelfUpdate(ctx, deploy.SelfUpdate{Updater: upd, Trial: trial, Restart: restart}); err != nil {
		return err
	}
	go func() {
		addr, err := a.Addr(ctx)
		if err != nil {
			return
		}
		// Not under systemd, this is a no-op.
		daemon.SdNotify(false, daemon.SdNotifyReady+"\nSTATUS=serving "+fmt.Sprint(len(cfg.Models))+" models on "+addr.String())
	}()
	if interval, err := daemon.SdWatchdogEnabled(false); err == nil && interval > 0 {
		go watchdog(ctx, a, interval/2, log)
	}
	err = a.Run(ctx)
	if cause := context.Cause(ctx); errors.Is(cause, selfupdate.ErrRestart) {
		err = cause
	}
	daemon.SdNotify(false, daemon.SdNotifyStopping)
	return err
}

// moveState puts the device's state in dir, with what defaults to a
// place under the state directory.
func moveState(cfg *config.Config, dir string) {
	if cfg.OTA.StoreDir == "" || cfg.OTA.StoreDir == filepath.Join(cfg.StateDir, "models") {
		cfg.OTA.StoreDir = filepath.Join(dir, "models")
	}
	cfg.StateDir = dir
}

// watchdog feeds systemd's watchdog while the inference path is healthy;
// a stuck executor stops the pings, so systemd restarts the service.
func watchdog(ctx context.Context, a *agent.Agent, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ok, why := a.Healthy(); !ok {
			log.Error("inference path stuck; not feeding the watchdog", "reason", why)
			daemon.SdNotify(false, "STATUS=stuck: "+why)
			continue
		}
		daemon.SdNotify(false, daemon.SdNotifyWatchdog)
	}
}

// deviceID is the device's fleet identity, DEVICE= in the journal.
func deviceID(cfg *config.Config) string {
	if cfg.Device.ID != "" {
		return cfg.Device.ID
	}
	h, _ := os.Hostname()
	return h
}

func newLogger(c config.Log, w io.Writer, device string) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	if underJournal {
		var fields map[string]string
		if device != "" {
			fields = map[string]string{"DEVICE": device}
		}
		return slog.New(journald.New(journald.Options{Level: level, JSON: c.Format == "json", Native: true, Stderr: w, Fields: fields}))
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// restartSelf replaces this process with the binary now in place when no
// supervisor will start it again: systemd sets INVOCATION_ID (and
// NOTIFY_SOCKET for Type=notify), which a supervisor that restarts on
// exit status 75 can set too; EDGED_RESTART=exit or exec decides
// outright. It returns only if the exec failed (or is not wanted).
func restartSelf() {
	switch os.Getenv("EDGED_RESTART") {
	case "exit":
		return
	case "exec":
	default:
		if os.Getenv("INVOCATION_ID") != "" || os.Getenv("NOTIFY_SOCKET") != "" {
			return
		}
	}
	err := errors.New("the path of its own executable is unknown")
	if executable != "" {
		fmt.Fprintln(os.Stderr, "edged: not under a supervisor: starting", executable, "in place")
		err = syscall.Exec(executable, os.Args, os.Environ())
	}
	fmt.Fprintln(os.Stderr, "edged: cannot start the new binary itself:", err, "- exiting with status 75 for a supervisor to restart it")
}
