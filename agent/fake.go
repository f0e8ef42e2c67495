package agent

import "github.com/edged-dev/edged/delegates"

// fakeAccelerator is the fake Edge TPU of delegates/delegatetest, which
// delegates.fake puts in the place of the real one to show the fallback
// without hardware. It is for demos and tests: only builds with the
// edged_fake tag (fake_on.go) and the agent's tests set newFake, so the
// daemon itself does not contain it.
type fakeAccelerator interface {
	delegates.Backend
	// FailAfter makes every call after the next n fail.
	FailAfter(n int)
	// Recover heals it.
	Recover()
}

// newFake makes the fake named name; nil in a build without it.
var newFake func(name string) fakeAccelerator
