package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/edged-dev/edged/delegates"
	"github.com/edged-dev/edged/delegates/delegatetest"
)

// TestSmoketest runs person_detect on every backend of this machine plus a
// fake accelerator that computes on the CPU runtime (so its outputs must
// equal the CPU's exactly) and then one that answers with the wrong
// shapes (which must be reported as failed, not as a pass).
func TestSmoketest(t *testing.T) {
	fake := delegatetest.New("fake-smoke", delegates.CPU{})
	delegates.Register(fake)
	model := "../../../testdata/models/person_detect.tflite"

	run := func() map[string]smokeRow {
		t.Helper()
		var out, errb bytes.Buffer
		if err := runSmoketest(context.Background(), []string{"--model", model, "--runs", "2", "--json"}, &out, &errb); err != nil {
			t.Fatalf("smoketest: %v\n%s", err, errb.String())
		}
		var rep struct{ Results []smokeRow }
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("smoketest --json: %v\n%s", err, out.String())
		}
		rows := map[string]smokeRow{}
		for _, r := range rep.Results {
			rows[r.Backend] = r
		}
		return rows
	}

	rows := run()
	if r := rows["cpu"]; r.State != "ok" || r.MS <= 0 {
		t.Errorf("cpu row %+v; want ok with a time", r)
	}
	if r := rows["fake-smoke"]; r.State != "ok" || r.MaxDiff != 0 {
		t.Errorf("fake accelerator (CPU outputs) row %+v; want ok, max diff 0", r)
	}
	if r := rows["edgetpu"]; r.State != "absent" || !strings.Contains(r.Reason, "edged_dynamic") {
		t.Errorf("edgetpu row %+v; want absent, naming the missing edged_dynamic build", r)
	}

	fake.Set(delegatetest.WrongShape)
	rows = run()
	if r := rows["fake-smoke"]; r.State != "failed" {
		t.Errorf("fake accelerator with wrong shapes: row %+v; want failed", r)
	}

	var out, errb bytes.Buffer
	if err := runSmoketest(context.Background(), []string{"--model", "../../../testdata/models/nonexistent.tflite"}, &out, &errb); err == nil {
		t.Error("smoketest of a missing model = nil; want an error")
	}
}
