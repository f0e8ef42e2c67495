package selfupdate_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/edged-dev/edged/ota/selfupdate"
)

// The start of a daemon that updates itself: Check before anything else,
// then confirm the trial once the daemon is healthy.
func ExampleUpdater_Check() {
	ctx := context.Background()
	u := &selfupdate.Updater{Version: "1.4.2"} // the state file lives beside the executable
	trial, err := u.Check(ctx)
	if errors.Is(err, selfupdate.ErrRestart) {
		log.Print(err) // rolled back: let systemd start the old binary
		os.Exit(selfupdate.ExitRestart)
	}
	if err != nil {
		log.Print(err) // a corrupt state file: start anyway
	}
	healthy := func() bool { return true } // models loaded, broker reached
	if trial != nil {
		go func() {
			if err := trial.Wait(ctx, healthy); errors.Is(err, selfupdate.ErrRestart) {
				os.Exit(selfupdate.ExitRestart)
			}
		}()
	}
	// ... serve
}

func ExampleParseVersion() {
	v, _ := selfupdate.ParseVersion("v1.4.2")
	fmt.Println(v, selfupdate.FormatVersion(v))
	// Output: 1004002 1.4.2
}
