package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/golden"
	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/runtime/tensor"
)

// startDelegateAgent runs an agent on a whole config document (state_dir
// and http are added) until the test ends.
func startDelegateAgent(t *testing.T, doc string) (*Agent, string) {
	t.Helper()
	a, url, stop := runConfig(t, fmt.Appendf(nil, "version: 1\nstate_dir: %s\nhttp:\n  listen: 127.0.0.1:0\n%s", t.TempDir(), doc))
	t.Cleanup(func() {
		stop()
		http.DefaultClient.CloseIdleConnections()
	})
	return a, url
}

// personDetectGolden returns person_detect's golden inputs and TensorFlow
// Lite Micro's outputs for them.
func personDetectGolden(t *testing.T) (model string, ins, wants [][]byte) {
	t.Helper()
	root, err := golden.Root()
	if err != nil {
		t.Fatal(err)
	}
	s, err := golden.LoadSuite(filepath.Join(root, "golden", "person_detect"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Cases {
		c := &s.Cases[i]
		in, err := s.ReadInputs(c)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.ReadOutputs(c)
		if err != nil {
			t.Fatalf("person_detect %s: no oracle output (%v)", c.Dir, err)
		}
		ins, wants = append(ins, in[0]), append(wants, want[0])
	}
	if len(ins) == 0 {
		t.Fatal("person_detect has no golden cases")
	}
	return s.ModelFile(), ins, wants
}

func delegateLine(t *testing.T, a *Agent, model, delegate string) status.Delegate {
	t.Helper()
	for _, m := range a.Status().Models {
		if m.Name != model {
			continue
		}
		for _, d := range m.Delegates {
			if d.Delegate == delegate {
				return d
			}
		}
	}
	t.Fatalf("Status: model %q has no delegate %q", model, delegate)
	return status.Delegate{}
}

// TestDelegateFakeFailsAfter: the fake accelerator answers N requests,
// then fails; every further request is answered by the CPU with TFLite
// Micro's outputs, the gauge goes 1 -> 0, the fallbacks are counted, the
// status says why, and the fake is taken back when it heals.
func TestDelegateFakeFailsAfter(t *testing.T) {
	checkAgentLeaks(t)
	const n = 3
	model, ins, wants := personDetectGolden(t)
	a, base := startDelegateAgent(t, fmt.Sprintf(`models:
  - name: person_detect
    path: %s
delegates:
  prefer: [edgetpu, cpu]
  backoff_initial: 50ms
  backoff_max: 100ms
  fake:
    enabled: true
    mode: fail_after
    fail_after: %d
    recover_after: 4s
`, model, n))
	const healthy = `edged_delegate_healthy{delegate="fake-tpu",model="person_detect"}`
	const falls = `edged_delegate_fallbacks_total{delegate="fake-tpu",model="person_detect"}`
	if v := metricValue(t, base, healthy); v != 1 {
		t.Fatalf("%s = %g at start; want 1", healthy, v)
	}
	infer1 := func(k int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		i := k % len(ins)
		out, err := a.Infer(ctx, "person_detect", "", []infer.Tensor{{DType: tensor.Int8, Shape: []int{1, 96, 96, 1}, Data: ins[i]}})
		if err != nil {
			t.Fatalf("Infer(request %d) = %v; want no error", k, err)
		}
		if len(out) != 1 || !bytes.Equal(out[0].Data, wants[i]) {
			t.Fatalf("Infer(request %d) = %v; want the oracle's %v", k, out, wants[i])
		}
	}
	for k := 0; k < n; k++ {
		infer1(k)
	}
	if got := delegateLine(t, a, "person_detect", "fake-tpu").Served; got != n {
		t.Fatalf("fake-tpu served %d requests; want %d", got, n)
	}
	const more = 8
	for k := n; k < n+more; k++ {
		infer1(k)
	}
	fake := delegateLine(t, a, "person_detect", "fake-tpu")
	if fake.Served != n || fake.State != "failed" || !strings.Contains(fake.Reason, "injected failure") {
		t.Errorf("fake-tpu status = %+v; want %d served, failed, reason with the injected failure", fake, n)
	}
	page := get(t, base+"/")
	if !strings.Contains(page, `<b class="bad">fake-tpu</b> (cpu) failed`) {
		t.Errorf("status page lacks the fake's failed line:\n%s", page)
	}
	if cpu := delegateLine(t, a, "person_detect", "cpu"); cpu.Served != more || !cpu.Fallback {
		t.Errorf("cpu status = %+v; want %d served, fallback", cpu, more)
	}
	if v := metricValue(t, base, healthy); v != 0 {
		t.Errorf("%s = %g after the failure; want 0", healthy, v)
	}
	if v := metricValue(t, base, falls); v != more {
		t.Errorf("%s = %g; want %d", falls, v, more)
	}
	if ok, why := a.Healthy(); !ok {
		t.Errorf("Healthy() = false (%s) while the CPU serves; want true", why)
	}

	// recover_after heals the fake; a re-probe takes it back.
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, base, healthy) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still 0 20s after the failure; want 1 after recover_after", healthy)
		}
		time.Sleep(50 * time.Millisecond)
	}
	infer1(0)
	if got := delegateLine(t, a, "person_detect", "fake-tpu").Served; got != n+1 {
		t.Errorf("fake-tpu served %d requests after it healed; want %d", got, n+1)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDelegateEdgeTPUVariantWithoutTPU: a model with an Edge TPU variant
// on a host without one (and a binary without the edged_dynamic tag) is
// served by its cpu variant, and /v1/status says why; a model without
// variants keeps the plain CPU path.
func TestDelegateEdgeTPUVariantWithoutTPU(t *testing.T) {
	checkAgentLeaks(t)
	cpu, _ := filepath.Abs("../testdata/models/fizzbuzz_model.tflite")
	tpu, _ := filepath.Abs("../testdata/models/fizzbuzz_model_quant_edgetpu.tflite")
	plain, _ := filepath.Abs("../testdata/models/hello_world_int8.tflite")
	a, base := startDelegateAgent(t, fmt.Sprintf(`models:
  - name: fizzbuzz
    path: %s
    variants:
      edgetpu: %s
  - name: hello
    path: %s
`, cpu, tpu, plain))
	mi, err := a.Model("fizzbuzz", "")
	if err != nil {
		t.Fatal(err)
	}
	var req []infer.Tensor
	for _, s := range mi.Inputs {
		req = append(req, infer.Tensor{DType: s.DType, Shape: s.Shape, Data: make([]byte, tensor.NumElements(s.Shape)*s.DType.Size())})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Infer(ctx, "fizzbuzz", "", req); err != nil {
		t.Fatalf("Infer(fizzbuzz) = %v; want the cpu variant to answer", err)
	}

	var st struct {
		Models []struct {
			Name      string            `json:"name"`
			Delegates []status.Delegate `json:"delegates"`
		} `json:"models"`
	}
	if err := json.Unmarshal([]byte(get(t, base+"/v1/status")), &st); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want []string // delegate:state:variant, in chain order
		// wantReason is a substring of the first line's reason.
		wantReason string
	}{
		// The backends without a variant of the model are left out of its
		// chain, and listed after it with why.
		{name: "fizzbuzz", want: []string{"edgetpu:absent:edgetpu", "cpu:healthy:cpu", "gpu:absent:"}, wantReason: "edged_dynamic"},
		{name: "hello", want: []string{"cpu:healthy:cpu", "edgetpu:absent:", "gpu:absent:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var reason string
			for _, m := range st.Models {
				if m.Name != tt.name {
					continue
				}
				for _, d := range m.Delegates {
					got = append(got, d.Delegate+":"+d.State+":"+d.Variant)
				}
				if len(m.Delegates) > 0 {
					reason = m.Delegates[0].Reason
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("/v1/status models[%s].delegates = %q; want %q", tt.name, got, tt.want)
			}
			if !strings.Contains(reason, tt.wantReason) {
				t.Errorf("/v1/status models[%s].delegates[0].reason = %q; want it to contain %q", tt.name, reason, tt.wantReason)
			}
		})
	}
	if cpu := delegateLine(t, a, "fizzbuzz", "cpu"); cpu.Served != 1 {
		t.Errorf("fizzbuzz cpu served %d; want 1", cpu.Served)
	}
	const falls = `edged_delegate_fallbacks_total{delegate="edgetpu",model="fizzbuzz"}`
	if v := metricValue(t, base, falls); v != 1 {
		t.Errorf("%s = %g; want 1", falls, v)
	}
	a.mu.RLock()
	links := a.models["hello"].exec.Chain().Status()
	a.mu.RUnlock()
	if len(links) != 1 || links[0].Delegate != "cpu" {
		t.Errorf("hello (no variants) runs on %v; want the CPU alone", links)
	}
}

// TestDelegateConfigRefused: configs the agent must refuse, each with an
// error that names the problem.
func TestDelegateConfigRefused(t *testing.T) {
	tpu, _ := filepath.Abs("../testdata/models/fizzbuzz_model_quant_edgetpu.tflite")
	cpu, _ := filepath.Abs("../testdata/models/fizzbuzz_model.tflite")
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{name: "edgetpu only", doc: fmt.Sprintf("models:\n  - name: fb\n    variants:\n      edgetpu: %s\n", tpu),
			wantErr: `model "fb": choosing backends: bundle has no "cpu" variant for the cpu fallback (it has ["edgetpu"])`},
		{name: "prefer without cpu last", doc: fmt.Sprintf("models:\n  - name: fb\n    path: %s\ndelegates:\n  prefer: [cpu, edgetpu]\n", cpu),
			wantErr: `delegates.prefer: ends with "edgetpu"; it must end with "cpu", the fallback`},
		{name: "unknown backend", doc: fmt.Sprintf("models:\n  - name: fb\n    path: %s\ndelegates:\n  prefer: [tpu, cpu]\n", cpu),
			wantErr: `delegates.prefer[0]: is "tpu"`},
		{name: "unknown variant", doc: fmt.Sprintf("models:\n  - name: fb\n    path: %s\n    variants:\n      coral: %s\n", cpu, tpu),
			wantErr: `models[0].variants.coral: unknown variant "coral"`},
		{name: "fake mode", doc: fmt.Sprintf("models:\n  - name: fb\n    path: %s\ndelegates:\n  fake: {enabled: true, mode: flaky}\n", cpu),
			wantErr: `delegates.fake.mode: is "flaky"; want ok or fail_after`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := fmt.Sprintf("version: 1\nstate_dir: %s\nhttp:\n  listen: 127.0.0.1:0\n%s", t.TempDir(), tt.doc)
			cfg, err := config.Parse([]byte(doc), t.TempDir())
			if err == nil {
				var a *Agent
				a, err = New(cfg, slog.New(slog.DiscardHandler))
				if err == nil {
					// A model that does not load leaves the daemon up,
					// not ready, naming it.
					if m := a.Missing(); len(m) == 1 && !a.Ready() {
						err = fmt.Errorf("model %q: %s", m[0].Model, m[0].Reason)
					}
					a.Close()
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("loading %s = %v; want an error containing %q", tt.name, err, tt.wantErr)
			}
		})
	}
}

// TestFallbackDemoConfig: the example config parses and validates.
func TestFallbackDemoConfig(t *testing.T) {
	if _, err := os.Stat("../examples/fallback-demo.yaml"); err != nil {
		t.Skip("examples/fallback-demo.yaml absent")
	}
	if _, err := config.Load("../examples/fallback-demo.yaml"); err != nil {
		t.Errorf("config.Load(examples/fallback-demo.yaml) = %v; want no error", err)
	}
}

// TestDeployEdgeTPUOnly: a deployment whose manifest has an edgetpu
// variant and no cpu one is rejected, and the previous version keeps
// serving.
func TestDeployEdgeTPUOnly(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	ra := e.start()
	tpu, err := os.ReadFile(modelPath(t, "fizzbuzz_model_quant_edgetpu.tflite"))
	must(t, err)
	m := e.signed(2, tpu)
	m.Blobs[0].Variant = bundle.VariantEdgeTPU
	m.Signatures = nil
	must(t, sign.Sign(m, e.keys.Model))
	e.command(fleet.OpDeploy, "tpu2", encode(t, m), m.Expires)
	sts := e.final("tpu2")
	last := sts[len(sts)-1]
	if last.State != fleet.StatusRejected || !strings.Contains(last.Reason, `no "cpu" variant`) {
		t.Errorf("deploy(edgetpu only) = %s (%s); want rejected, no \"cpu\" variant", last.State, last.Reason)
	}
	if v := servedVersion(t, ra.url); v != "1" {
		t.Errorf("after deploy(edgetpu only): version %q; want 1 still serving", v)
	}
	checkPerson(t, ra.a)
	e.clear(fleet.OpDeploy, "tpu2")
}

// TestDelegateFailsUnderLoad: the fake fails while concurrent requests
// are under way; none of them fails and each gets the oracle's answer.
func TestDelegateFailsUnderLoad(t *testing.T) {
	checkAgentLeaks(t)
	model, ins, wants := personDetectGolden(t)
	a, _ := startDelegateAgent(t, fmt.Sprintf(`models:
  - name: person_detect
    path: %s
    instances: 2
delegates:
  prefer: [edgetpu, cpu]
  fake: {enabled: true, mode: fail_after, fail_after: 5}
`, model))
	const workers, each = 4, 6
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < each; k++ {
				i := (w + k) % len(ins)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				out, err := a.Infer(ctx, "person_detect", "", []infer.Tensor{{DType: tensor.Int8, Shape: []int{1, 96, 96, 1}, Data: ins[i]}})
				cancel()
				if err == nil && (len(out) != 1 || !bytes.Equal(out[0].Data, wants[i])) {
					err = fmt.Errorf("case %d: outputs %v; want the oracle's %v", i, out, wants[i])
				}
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			t.Errorf("Infer under load = %v", err)
		}
	}
	fake := delegateLine(t, a, "person_detect", "fake-tpu")
	cpu := delegateLine(t, a, "person_detect", "cpu")
	if failed != 0 || fake.Served != 5 || fake.Served+cpu.Served != workers*each {
		t.Errorf("%d failed, fake-tpu served %d, cpu %d; want 0 failed, 5 and %d", failed, fake.Served, cpu.Served, workers*each-5)
	}
}

// TestDelegateAuto: with prefer: auto the model's chain times the fake
// accelerator and the CPU on it, and /v1/status shows the figures; one
// of them is chosen, and the backends that are not on this host are
// listed as left out.
func TestDelegateAuto(t *testing.T) {
	model, _, _ := personDetectGolden(t)
	_, base := startDelegateAgent(t, fmt.Sprintf(`models:
  - name: person_detect
    path: %s
delegates:
  prefer: auto
  fake: {enabled: true}
`, model))
	var st struct {
		Models []struct {
			Delegates []status.Delegate `json:"delegates"`
		} `json:"models"`
	}
	if err := json.Unmarshal([]byte(get(t, base+"/v1/status")), &st); err != nil {
		t.Fatal(err)
	}
	chosen := 0
	var names []string
	for _, d := range st.Models[0].Delegates {
		names = append(names, d.Delegate+":"+d.State)
		if d.Delegate != "fake-tpu" && d.Delegate != "cpu" {
			continue
		}
		if d.Auto == nil || d.Auto.Runs < 3 || !(d.Auto.MedianMS > 0) || !d.Auto.Agrees {
			t.Errorf("%s auto figures %+v; want >= 3 timed runs, agreeing", d.Delegate, d.Auto)
		} else if d.Auto.Chosen {
			chosen++
		}
	}
	if chosen != 1 {
		t.Errorf("%d backends chosen; want 1", chosen)
	}
	if want := "fake-tpu:healthy cpu:healthy gpu:absent xnnpack:absent"; strings.Join(names, " ") != want {
		t.Errorf("delegates %q; want %s", names, want)
	}
	if _, page, _ := do(t, "GET", base+"/", "", nil); !strings.Contains(string(page), "auto: median") {
		t.Errorf("status page lacks the auto figures:\n%s", page)
	}
}
