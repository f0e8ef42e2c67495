package agent

import (
	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/delegatetest"
)

// The tests run the fake accelerator, as a build with the edged_fake tag
// does (fake_on.go).
func init() {
	newFake = func(name string) fakeAccelerator { return delegatetest.New(name, delegates.CPU{}) }
}
