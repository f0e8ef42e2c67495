package litert

import (
	"os"
	"os/exec"
	"testing"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/internal/testenv"
)

// TestMain: started as the child of a library check, the test binary runs
// it (under the emulator the tests run under, when there is one).
func TestMain(m *testing.M) {
	delegates.ServeChildCheck()
	delegates.ChildCommand = func(args ...string) *exec.Cmd { return testenv.SelfCommand(args...) }
	code := m.Run()
	removeFake()
	os.Exit(code)
}
