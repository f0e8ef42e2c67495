// Command edgectl is the operator's tool for edged: it runs, inspects,
// benchmarks, profiles and compresses models locally, makes keys and
// signed bundles, and deploys, rolls out and watches models and edged
// itself across a fleet over MQTT. The commands live in package cli.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/edged-dev/edged/cmd/edgectl/cli"
	"github.com/edged-dev/edged/delegates"
)

// version is set at link time (-X main.version=...).
var version = "dev"

func main() {
	// Started to check a vendor library (delegates.CheckInChild), edgectl
	// does that and exits.
	delegates.ServeChildCheck()
	// Run by the shell for completion, edgectl answers and exits.
	cli.Complete()
	cli.Version = version
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if code := cli.ExitCode(err); code != 0 {
		fmt.Fprintln(os.Stderr, "edgectl:", cli.Message(err))
		os.Exit(code)
	}
}
