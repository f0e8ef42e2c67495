// Command fleetsim runs simulated devices against a broker until
// interrupted, so that an operator can try a rollout plan with edgectl
// (or measure what a fleet costs the broker) without hardware:
//
//	fleetsim -broker tcp://127.0.0.1:1883 -n 200 -root-key keys/root.pub -model person -version 1 -fail 0.05
//	edgectl rollout start --broker tcp://127.0.0.1:1883 --bundle person-v2 --state r.json --all
//
// Each device is the agent's fleet side (link, outbox, command dispatch,
// manifest check, chunked transfer) with a stub runtime; see
// agent/fleetsim. On exit it prints which devices got a rollback and the
// versions the devices serve.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/edged-dev/edged/agent/fleetsim"
	"github.com/edged-dev/edged/ota/sign"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("fleetsim", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: fleetsim -broker URL -n N -root-key FILE [flags]\n\nRuns N simulated devices until interrupted.\n\nflags:")
		fs.PrintDefaults()
	}
	broker := fs.String("broker", "", "broker URL, or a cluster's URLs separated by commas (required)")
	n := fs.Int("n", 100, "number of devices")
	prefix := fs.String("prefix", "sim", "device ids are PREFIX-0000, PREFIX-0001, ...")
	dir := fs.String("dir", "", "directory for the devices' outboxes and downloads (default: a temporary one)")
	rootKey := fs.String("root-key", "", "root public key that signs deploys, as edged's ota.root_key (required)")
	model := fs.String("model", "model", "the model every device serves")
	version := fs.Uint64("version", 1, "its version before any deploy")
	latency := fs.Duration("load-latency", 200*time.Millisecond, "how long loading a model takes")
	fail := fs.Float64("fail", 0, "share of devices (0..1) whose model loads fail")
	rate := fs.Int64("rate", 0, "each device's download speed in bytes/s (0: unlimited)")
	jitter := fs.Duration("jitter", 0, "random delay up to this before each fetch")
	window := fs.Int("window", 0, "transfer window in chunks (0: the default)")
	telemetry := fs.Duration("telemetry", 0, "publish telemetry at this interval (0: none)")
	telemetryBytes := fs.Int("telemetry-bytes", 600, "size of a telemetry snapshot")
	verbose := fs.Bool("v", false, "log the devices' warnings")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if *broker == "" || *rootKey == "" {
		fs.Usage()
		return fmt.Errorf("-broker and -root-key are required")
	}
	root, err := sign.LoadPublicKey(*rootKey)
	if err != nil {
		return fmt.Errorf("root key: %w", err)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "fleetsim-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0 := time.Now()
	f, err := fleetsim.Start(ctx, fleetsim.Options{Broker: *broker, N: *n, Prefix: *prefix, Dir: *dir, RootKey: root,
		Model: *model, Version: *version, Latency: *latency, FailShare: *fail, Rate: *rate, Jitter: *jitter, Window: *window,
		Telemetry: *telemetry, TelemetryBytes: *telemetryBytes, Log: log})
	if err != nil {
		return err
	}
	fmt.Printf("%d devices connected in %v; failing: %s\n", *n, time.Since(t0).Round(time.Millisecond), list(f.Failing()))
	<-ctx.Done()
	f.Close()
	v := f.Versions()
	keys := make([]uint64, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		fmt.Printf("version %d: %d devices\n", k, v[k])
	}
	fmt.Printf("rolled back: %s\n", list(f.RolledBack()))
	return nil
}

func list(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	if len(ids) > 20 {
		return fmt.Sprintf("%d devices: %s, ...", len(ids), strings.Join(ids[:20], ", "))
	}
	return strings.Join(ids, ", ")
}
