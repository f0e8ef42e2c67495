// Package cli is edgectl, the operator's tool for edged, as a library:
// cmd/edgectl is a thin main over Run. Each command is one file here:
// models (infer, inspect, bench, profile, quantize, factorize, prune),
// keys and bundles (keys, bundle, verify), the fleet over MQTT (push, gc,
// deploy, update-agent, rollout, status, drift) and the board (board,
// smoketest).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"infer":   {"run a model on raw input tensors and write its outputs", runInfer},
	"inspect": {"describe a model: inputs, outputs, ops, parameters, MACs, support", runInspect},
	"bench":   {"time Invoke on a model", runBench},
	"keys":    {"make a root and signing key (init DIR) or a new signing key (rotate DIR)", runKeys},
	"bundle":  {"check models and write a signed model bundle", runBundle},
	"verify":  {"verify a bundle against a root public key", runVerify},
	"push":    {"publish a bundle's blobs to the broker as retained chunks", runPush},
	"gc":      {"clear a bundle's blobs from the broker", runGC},
	"deploy":  {"push a bundle and send a deploy command to a device or group", runDeploy},
	"profile": {"run a model over reference inputs and write its drift profile", runProfile},
	"drift":   {"show the fleet's latest drift states (from the broker)", runDrift},
	"status":  {"show the fleet's devices and telemetry (from the broker)", runStatus},
	"version": {"print the version", func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fmt.Fprintln(stdout, "edgectl", Version)
		return nil
	}},
	"update-agent": {"sign an edged binary, push it and send an update-agent command", runUpdateAgent},
	"rollout":      {"roll a bundle out to the fleet in waves, aborting and rolling back on failures (start, resume, status)", runRollout},
	"board":        {"print the detected board: model, cores, features, accelerators, thread and delegate defaults", runBoard},
	"smoketest":    {"on a board: probe every delegate, run models on each backend and compare with the CPU runtime", runSmoketest},
	"quantize":     {"quantize a float model to full int8 with a calibration set (or weight-only with --dynamic)", runQuantize},
	"factorize":    {"replace fully-connected weights by a truncated SVD (two smaller layers)", runFactorize},
	"prune":        {"zero the smallest conv and fully-connected weights (magnitude pruning)", runPrune},
}

// Version is edgectl's version, which `edgectl version` prints; cmd/edgectl
// sets it from its link-time version.
var Version = "dev"

// Run runs the edgectl command args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, args, stdout, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: edgectl COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'edgectl COMMAND -h' for a command's flags.")
}

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// newFlags makes a FlagSet that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("edgectl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, allowing flags after positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
