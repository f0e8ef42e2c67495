//go:build edged_fake

package agent

import (
	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/delegatetest"
)

func init() {
	newFake = func(name string) fakeAccelerator { return delegatetest.New(name, delegates.CPU{}) }
}
