package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/testenv"
)

// buildBinaries builds edged and edgectl from this tree into a temporary
// directory, for the tests that run them as processes.
func buildBinaries(t *testing.T) (bin string) {
	t.Helper()
	t0 := time.Now()
	bin = t.TempDir()
	for _, cmd := range []string{"edged", "edgectl"} {
		testenv.Build(t, bin, "./cmd/"+cmd)
	}
	t.Logf("go build edged, edgectl: %v", time.Since(t0).Round(time.Millisecond))
	return bin
}

// edgectlRunner runs bin's edgectl with env (nil: this process's) for at
// most timeout, logging each run.
func edgectlRunner(t *testing.T, bin string, env []string, timeout time.Duration) func(args ...string) (string, error) {
	return func(args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "edgectl"), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		t.Logf("edgectl %s: %v\n%s", strings.Join(args, " "), err, out)
		return string(out), err
	}
}

// e2eDevice is an edged process of the tests with the real binaries.
type e2eDevice struct {
	t    *testing.T
	id   string
	base string
}

func startE2EDevice(t *testing.T, bin, dir, id, broker, rootPub string) *e2eDevice {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	listen := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, id+".yaml")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 1
state_dir: %s
device: {id: %s, group: lab}
http: {listen: %q}
models:
  - {name: person, version: "1", path: %s}
fleet: {broker: "tcp://%s", min_backoff: 50ms, max_backoff: 500ms}
telemetry: {interval: 1s}
ota: {root_key: %s}
`, filepath.Join(dir, id+"-state"), id, listen, modelPath(t, "person_detect.tflite"), broker, rootPub)), 0o644))
	var log bytes.Buffer
	cmd := exec.Command(filepath.Join(bin, "edged"), "-config", cfg)
	cmd.Stdout, cmd.Stderr = &log, &log
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("edged %s did not stop within 15s of SIGINT", id)
		}
		if t.Failed() {
			t.Logf("edged %s:\n%s", id, log.String())
		}
	})
	return &e2eDevice{t: t, id: id, base: "http://" + listen}
}

// version is the version of model person the device serves, or "".
func (d *e2eDevice) version() string {
	resp, err := http.Get(d.base + "/v2/models/person")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var md struct{ Versions []string }
	if json.NewDecoder(resp.Body).Decode(&md) != nil || len(md.Versions) != 1 {
		return ""
	}
	return md.Versions[0]
}

// infer sends one well-formed request and returns the HTTP status.
func (d *e2eDevice) infer() int {
	data := make([]int, 96*96)
	body, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "input", "shape": []int{1, 96, 96, 1}, "datatype": "INT8", "data": data}}})
	resp, err := http.Post(d.base+"/v2/models/person/infer", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
