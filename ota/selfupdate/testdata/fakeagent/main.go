// Command fakeagent stands in for edged in the tests of ota/selfupdate: it
// runs the same start-up check and health gate, and applies updates to its
// own executable. Built by the tests with
//
//	go build -ldflags "-X main.version=1.0.0 -X main.mode=ok" ./testdata/fakeagent
//
// mode "ok" reports healthy at once, "crash" exits 3 right after the
// start-up check (before it could be healthy), "hang" never reports healthy.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/edged-dev/edged/ota/selfupdate"
	"github.com/edged-dev/edged/ota/sign"
)

var (
	version = "dev"
	mode    = "ok"
)

func main() {
	state := flag.String("state", "", "state directory")
	apply := flag.String("apply", "", "manifest to apply")
	blob := flag.String("blob", "", "with -apply: the downloaded binary")
	root := flag.String("root", "", "with -apply: root public key file")
	deadline := flag.Duration("deadline", time.Minute, "with -apply: health deadline")
	maxStarts := flag.Int("max-starts", 2, "with -apply: starts allowed")
	flag.Parse()
	u := &selfupdate.Updater{Dir: *state, Version: version, Deadline: *deadline, MaxStarts: *maxStarts, Poll: 10 * time.Millisecond}
	if *apply != "" {
		if err := doApply(u, *apply, *blob, *root); err != nil {
			fmt.Println("refused:", err)
			os.Exit(4)
		}
		fmt.Println("applied")
		os.Exit(selfupdate.ExitRestart)
	}
	ctx := context.Background()
	trial, err := u.Check(ctx)
	switch {
	case errors.Is(err, selfupdate.ErrRestart):
		fmt.Println("restart:", err)
		os.Exit(selfupdate.ExitRestart)
	case err != nil:
		fmt.Println("check:", err) // logged; the agent starts anyway
	}
	fmt.Println("version", version)
	if trial == nil {
		return
	}
	switch mode {
	case "crash":
		os.Exit(3)
	case "hang":
		err = trial.Wait(ctx, func() bool { return false })
	default:
		err = trial.Wait(ctx, func() bool { return true })
	}
	if errors.Is(err, selfupdate.ErrRestart) {
		fmt.Println("restart:", err)
		os.Exit(selfupdate.ExitRestart)
	}
	if err != nil {
		fmt.Println("wait:", err)
		os.Exit(1)
	}
	fmt.Println("healthy")
}

func doApply(u *selfupdate.Updater, manifest, blob, rootFile string) error {
	data, err := os.ReadFile(manifest)
	if err != nil {
		return err
	}
	root, err := sign.LoadPublicKey(rootFile)
	if err != nil {
		return err
	}
	m, _, err := u.Verify(data, root, sign.VerifyOptions{})
	if err != nil {
		return err
	}
	return u.Apply(m, blob, "cmd-1")
}
