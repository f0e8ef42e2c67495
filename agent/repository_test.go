package agent

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/inferstats"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tensor"
)

// The model repository extension on a real agent (Triton's
// extension_model_repository.md): load and unload answer 200 with an empty
// body, failures 400 with {"error"}; an unloaded model is UNAVAILABLE in
// the index with the reason "unloaded", its requests get Triton's
// answers for a model without a ready version ("has no available
// versions", not found, or "not at ready state" for a named version),
// and the server stays ready (unloaded models do not count, as with
// Triton's strict readiness). Loading serves it again, with the official
// runtime's outputs.

type indexEntry struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	State   string `json:"state"`
	Reason  string `json:"reason"`
}

func repositoryIndex(t *testing.T, base string) []indexEntry {
	t.Helper()
	code, body, _ := do(t, "POST", base+"/v2/repository/index", "", nil)
	var list []indexEntry
	if err := json.Unmarshal(body, &list); err != nil || code != 200 {
		t.Fatalf("index: %d %s %v", code, body, err)
	}
	return list
}

const helloInfer = `{"inputs":[{"name":"serving_default_dense_input:0","shape":[1,1],"datatype":"INT8","data":[-96]}]}`

func TestRepositoryLoadUnload(t *testing.T) {
	a, base := startAgent(t)
	want := float64(refOutput(t, -96))
	errorOf := func(body []byte) string {
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
			t.Errorf("error body %q: want {\"error\": message}", body)
		}
		return e.Error
	}
	inferOK := func() {
		t.Helper()
		code, body, _ := do(t, "POST", base+"/v2/models/hello/infer", helloInfer, nil)
		var r v2Response
		if err := json.Unmarshal(body, &r); err != nil || code != 200 || len(r.Outputs) != 1 || len(r.Outputs[0].Data) != 1 || r.Outputs[0].Data[0] != want {
			t.Fatalf("infer: %d %s; want 200 with [%g]", code, body, want)
		}
	}

	code, body, _ := do(t, "GET", base+"/v2", "", nil)
	if code != 200 || !strings.Contains(string(body), `"model_repository"`) || !strings.Contains(string(body), `"model_repository(unload_dependents)"`) {
		t.Errorf("server metadata %d %s; want model_repository and model_repository(unload_dependents) among the extensions", code, body)
	}
	inferOK()

	code, body, _ = do(t, "POST", base+"/v2/repository/models/hello/unload", "", nil)
	if code != 200 || len(body) != 0 {
		t.Fatalf("unload: %d %q; want 200 with an empty body", code, body)
	}
	if got := repositoryIndex(t, base); len(got) != 1 || got[0] != (indexEntry{"hello", "7", "UNAVAILABLE", "unloaded"}) {
		t.Errorf("index after unload %+v; want hello 7 UNAVAILABLE unloaded", got)
	}
	code, body, _ = do(t, "POST", base+"/v2/repository/index", `{"ready":true}`, nil)
	if code != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("index of ready models after unload: %d %s; want []", code, body)
	}
	code, body, _ = do(t, "POST", base+"/v2/models/hello/infer", helloInfer, nil)
	if msg := errorOf(body); code != http.StatusNotFound || !strings.Contains(msg, "Request for unknown model: 'hello' has no available versions") {
		t.Errorf("infer after unload: %d %s; want 404, has no available versions", code, body)
	}
	code, body, _ = do(t, "POST", base+"/v2/models/hello/versions/7/infer", helloInfer, nil)
	if msg := errorOf(body); code != http.StatusServiceUnavailable || !strings.Contains(msg, "'hello' version 7 is not at ready state") {
		t.Errorf("versioned infer after unload: %d %s; want 503, not at ready state", code, body)
	}
	code, body, _ = do(t, "GET", base+"/v2/models/hello/ready", "", nil)
	var ready struct {
		Ready  *bool  `json:"ready"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &ready); code != http.StatusServiceUnavailable || ready.Ready == nil || *ready.Ready || ready.Reason != "unloaded" {
		t.Errorf("model ready after unload: %d %s; want 503, ready false, reason unloaded", code, body)
	}
	if code, body, _ := do(t, "GET", base+"/v2/health/ready", "", nil); code != 200 {
		t.Errorf("server ready after unload: %d %s; want 200 (an unloaded model does not count)", code, body)
	}
	// Unloading again changes nothing and succeeds.
	if code, body, _ := do(t, "POST", base+"/v2/repository/models/hello/unload", `{"parameters":{"unload_dependents":false}}`, nil); code != 200 || len(body) != 0 {
		t.Errorf("second unload: %d %q; want 200, empty", code, body)
	}

	// Refused loads: the model stays unloaded.
	for _, tc := range []struct{ body, want string }{
		{`{"parameters":{"file:1/model.tflite":"VEZMMw=="}}`, `parameter "file:1/model.tflite" refused`},
		{`{"parameters":{"config":"{\"backend\":\"tflite\"}"}}`, `parameter "config" refused`},
		{`{"parameters":{"colour":"red"}}`, `unknown parameter "colour"`},
		{`{"parameters":`, "malformed JSON request"},
		{`{"model":"hello"}`, "malformed JSON request"},
	} {
		code, body, _ := do(t, "POST", base+"/v2/repository/models/hello/load", tc.body, nil)
		if msg := errorOf(body); code != http.StatusBadRequest || !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "failed to load 'hello': ") {
			t.Errorf("load with %s: %d %s; want 400, failed to load 'hello': …%s…", tc.body, code, body, tc.want)
		}
	}
	if got := repositoryIndex(t, base); len(got) != 1 || got[0].State != "UNAVAILABLE" {
		t.Errorf("index after refused loads %+v; want hello still UNAVAILABLE", got)
	}
	for _, path := range []string{"/v2/repository/models/nosuch/load", "/v2/repository/models/nosuch/unload"} {
		code, body, _ := do(t, "POST", base+path, "", nil)
		if msg := errorOf(body); code != http.StatusBadRequest || !strings.Contains(msg, `no model "nosuch" on this device`) {
			t.Errorf("POST %s: %d %s; want 400, no such model", path, code, body)
		}
	}
	if code, _, hdr := do(t, "GET", base+"/v2/repository/models/hello/load", "", nil); code != http.StatusMethodNotAllowed || hdr.Get("Allow") != "POST" {
		t.Errorf("GET load: %d Allow %q; want 405, Allow POST", code, hdr.Get("Allow"))
	}

	code, body, _ = do(t, "POST", base+"/v2/repository/models/hello/load", `{"parameters":{}}`, nil)
	if code != 200 || len(body) != 0 {
		t.Fatalf("load: %d %q; want 200 with an empty body", code, body)
	}
	if got := repositoryIndex(t, base); len(got) != 1 || got[0] != (indexEntry{"hello", "7", "READY", ""}) {
		t.Errorf("index after load %+v; want hello 7 READY", got)
	}
	inferOK()
	// Loading a model that serves reloads it.
	if code, body, _ := do(t, "POST", base+"/v2/repository/models/hello/load", "", nil); code != 200 || len(body) != 0 {
		t.Errorf("reload: %d %q; want 200, empty", code, body)
	}
	inferOK()

	// Each load and unload is an event on the status page (newest first).
	var ops []string
	for _, ev := range a.Status().Events {
		var d map[string]any
		if ev.Kind == "model" && ev.Model == "hello" && json.Unmarshal(ev.Detail, &d) == nil {
			ops = append(ops, fmt.Sprint(d["op"]))
		}
	}
	if got := strings.Join(ops, ","); got != "load,load,unload" {
		t.Errorf("model events %q; want load,load,unload (the second unload changed nothing)", got)
	}
}

// TestRepositoryUnloadInFlight: unloading and loading while clients send
// requests: every request is answered, with the official runtime's output
// or the unloaded model's 404, and nothing else.
func TestRepositoryUnloadInFlight(t *testing.T) {
	_, base := startAgent(t)
	want := refOutput(t, -96)
	var ok, unloaded atomic.Int64
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 20 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(base+"/v2/models/hello/infer", "application/json", strings.NewReader(helloInfer))
				if err != nil {
					errs <- err
					return
				}
				var r struct {
					v2Response
					Error string `json:"error"`
				}
				err = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
				switch {
				case err != nil:
					errs <- fmt.Errorf("status %d, body: %v", resp.StatusCode, err)
					return
				case resp.StatusCode == 200 && len(r.Outputs) == 1 && len(r.Outputs[0].Data) == 1 && r.Outputs[0].Data[0] == float64(want):
					ok.Add(1)
				case resp.StatusCode == 404 && strings.Contains(r.Error, "has no available versions"):
					unloaded.Add(1)
				default:
					errs <- fmt.Errorf("status %d, %+v", resp.StatusCode, r)
					return
				}
			}
		}()
	}
	for i := 0; i < 10; i++ {
		for _, op := range []string{"unload", "load"} {
			if code, body, _ := do(t, "POST", base+"/v2/repository/models/hello/"+op, "", nil); code != 200 {
				t.Fatalf("%s: %d %s", op, code, body)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ok.Load() == 0 {
		t.Error("no request answered while loading and unloading")
	}
	t.Logf("%d answered, %d unloaded", ok.Load(), unloaded.Load())
}

// TestRepositoryOTA: on a device taking deployments, an unloaded model
// keeps its deployment state, deployments and rollbacks still apply to
// it (the store's active version changes, nothing serves), and loading
// serves the version the store names active: never the configured file
// once a version was deployed, never one a rollback left.
func TestRepositoryOTA(t *testing.T) {
	e := newOTAEnv(t)
	ra := e.start()
	e.deploy("v2", e.bundleOf(2, "person_detect.tflite", nil))
	if sts := e.final("v2"); sts[len(sts)-1].State != statusActive {
		t.Fatalf("deploy v2: %+v; want active", sts[len(sts)-1])
	}
	e.clear(fleet.OpDeploy, "v2")
	if code, body, _ := do(t, "POST", ra.url+"/v2/repository/models/person/unload", "", nil); code != 200 {
		t.Fatalf("unload: %d %s", code, body)
	}
	entry := func() indexEntry {
		t.Helper()
		l := repositoryIndex(t, ra.url)
		if len(l) != 1 {
			t.Fatalf("index %+v; want person alone", l)
		}
		return l[0]
	}
	if got := entry(); got != (indexEntry{"person", "2", "UNAVAILABLE", "unloaded"}) {
		t.Errorf("index after unload %+v; want person 2 UNAVAILABLE unloaded", got)
	}

	// A deployment while unloaded becomes active in the store; nothing
	// serves.
	e.deploy("v3", e.bundleOf(3, "person_detect.tflite", nil))
	if sts := e.final("v3"); sts[len(sts)-1].State != statusActive {
		t.Fatalf("deploy v3 while unloaded: %+v; want active", sts[len(sts)-1])
	}
	e.clear(fleet.OpDeploy, "v3")
	if got := entry(); got != (indexEntry{"person", "3", "UNAVAILABLE", "unloaded"}) {
		t.Errorf("index after deploy v3 %+v; want person 3 UNAVAILABLE unloaded", got)
	}
	// The device's state still names the model with its active version.
	testenv.WaitFor(t, "the state to show version 3 active", 10*time.Second, func() bool {
		st := e.dev.State()
		return len(st.Models) == 1 && st.Models[0].Name == "person" && st.Models[0].Active == "3"
	})
	if code, _, _ := do(t, "GET", ra.url+"/v2/models/person", "", nil); code != http.StatusNotFound {
		t.Errorf("metadata while unloaded: %d; want 404", code)
	}
	// A rollback while unloaded too: back to 2.
	e.operator(fleet.OpRollback, "rb", rollbackOf(3, 2))
	if sts := e.final("rb"); sts[len(sts)-1].State != fleet.StatusDone {
		t.Fatalf("rollback while unloaded: %+v; want done", sts[len(sts)-1])
	}
	if got := entry(); got != (indexEntry{"person", "2", "UNAVAILABLE", "unloaded"}) {
		t.Errorf("index after rollback %+v; want person 2 UNAVAILABLE unloaded", got)
	}

	if code, body, _ := do(t, "POST", ra.url+"/v2/repository/models/person/load", "", nil); code != 200 {
		t.Fatalf("load: %d %s", code, body)
	}
	if v := servedVersion(t, ra.url); v != "2" {
		t.Errorf("after load: version %q; want 2 (the store's active, not 3 which was rolled back nor the config's 1)", v)
	}
	checkPerson(t, ra.a)
	// The fleet sees each load and unload as an event.
	testenv.WaitFor(t, "the load and unload events", 10*time.Second, func() bool {
		var ops []string
		for _, ev := range e.dev.Events() {
			var d map[string]any
			if ev.Kind == "model" && json.Unmarshal(ev.Detail, &d) == nil {
				ops = append(ops, fmt.Sprint(d["op"], " ", d["version"]))
			}
		}
		return strings.Join(ops, ",") == "unload 2,load 2"
	})
	// A restart serves the store's version: an unload does not survive it.
	ra.stop()
	ra = e.start()
	if v := servedVersion(t, ra.url); v != "2" {
		t.Errorf("after a restart: version %q; want 2", v)
	}
}

// TestRepositoryUnloadStatus: the status says which models are unloaded
// and since when, without counting them as failures.
func TestRepositoryUnloadStatus(t *testing.T) {
	a, _ := startAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := time.Now()
	if err := a.RepositoryUnload(ctx, "hello", false); err != nil {
		t.Fatal(err)
	}
	st := a.Status()
	if !st.Ready || len(st.Missing) != 1 {
		t.Fatalf("status ready %v missing %+v; want ready, hello unloaded", st.Ready, st.Missing)
	}
	m := st.Missing[0]
	if want := (status.Missing{Model: "hello", Version: "7", Reason: "unloaded", Unloaded: m.Unloaded}); m != want || m.Unloaded.Before(before) {
		t.Errorf("missing %+v; want %+v at or after %v", m, want, before)
	}
	if len(st.Models) != 0 {
		t.Errorf("models %+v; want none serving", st.Models)
	}
}

// TestRepositoryEnsemble: a member of a serving ensemble is not unloaded
// under it; unload_dependents unloads the ensemble with its members, and
// loading the members then the ensemble serves the oracle's output again.
func TestRepositoryEnsemble(t *testing.T) {
	model, _ := filepath.Abs("../testdata/models/iris.tflite")
	in, err := os.ReadFile("../testdata/golden/iris/row_1/input_0.bin")
	must(t, err)
	want, err := os.ReadFile("../testdata/golden/iris/row_1/output_0.bin")
	must(t, err)
	a, base, stop := newTestAgent(t, t.TempDir(), fmt.Sprintf("  - name: a\n    path: %[1]s\n  - name: b\n    path: %[1]s\n  - name: mean\n    ensemble: {members: [a, b], combine: mean}\n", model))
	defer stop()
	code, body, _ := do(t, "POST", base+"/v2/repository/models/a/unload", "", nil)
	if code != http.StatusBadRequest || !strings.Contains(string(body), `model \"a\" is a member of ensemble \"mean\"`) {
		t.Errorf("unload of a member: %d %s; want 400, member of ensemble mean", code, body)
	}
	if code, body, _ := do(t, "POST", base+"/v2/repository/models/mean/unload", `{"parameters":{"unload_dependents":true}}`, nil); code != 200 {
		t.Fatalf("unload with dependents: %d %s", code, body)
	}
	var states []string
	for _, e := range repositoryIndex(t, base) {
		states = append(states, e.Name+" "+e.State)
	}
	if got := strings.Join(states, ","); got != "a UNAVAILABLE,b UNAVAILABLE,mean UNAVAILABLE" {
		t.Errorf("index %s; want all three unavailable", got)
	}
	if code, _, _ := do(t, "POST", base+"/v2/repository/models/mean/load", "", nil); code != http.StatusBadRequest {
		t.Errorf("load of the ensemble before its members: %d; want 400", code)
	}
	for _, n := range []string{"a", "b", "mean"} {
		if code, body, _ := do(t, "POST", base+"/v2/repository/models/"+n+"/load", "", nil); code != 200 {
			t.Fatalf("load %s: %d %s", n, code, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := a.Infer(ctx, "mean", "", []infer.Tensor{{DType: tensor.Float32, Shape: []int{1, 4}, Data: in}})
	if err != nil {
		t.Fatalf("mean after reloading: %v", err)
	}
	// The mean of two copies is the member's output: the oracle's, within
	// the float tolerance TestEnsemble allows.
	for i := 0; i < 3; i++ {
		got := float64(math.Float32frombits(binary.LittleEndian.Uint32(out[0].Data[4*i:])))
		w := float64(math.Float32frombits(binary.LittleEndian.Uint32(want[4*i:])))
		if math.Abs(got-w) > 1e-4+1e-4*math.Abs(w) {
			t.Errorf("mean after reloading, class %d: %g; want the oracle's %g", i, got, w)
		}
	}
}

// TestRepositoryCanary: unloading a model whose candidate is in shadow
// keeps the rollout (the candidate stays loaded, gets no requests), and
// loading it resumes the routing: the shadow comparisons count again.
func TestRepositoryCanary(t *testing.T) {
	e := newOTAEnv(t)
	ra := e.start()
	dr := &driver{t: t, a: ra.a, g: loadGolden(t), check: true}
	e.deploy("s1", e.bundleOf(2, "person_detect.tflite", withPolicy(`{"min_samples": 1000, "sample_rate": 1, "canary_fraction": 0.5}`)))
	e.waitState("s1", statusShadow, 30*time.Second, nil)
	if code, body, _ := do(t, "POST", ra.url+"/v2/repository/models/person/unload", "", nil); code != 200 {
		t.Fatalf("unload: %d %s", code, body)
	}
	if got := repositoryIndex(t, ra.url); len(got) != 1 || got[0] != (indexEntry{"person", "1", "UNAVAILABLE", "unloaded"}) {
		t.Errorf("index in shadow after unload %+v; want person 1 (the active version) UNAVAILABLE unloaded", got)
	}
	// The status shows the kept evaluation beside the unloaded model.
	if m := ra.a.Status().Missing; len(m) != 1 || m[0].Canary == nil || m[0].Canary.Candidate != "2" || m[0].Canary.Phase != "shadow" {
		t.Errorf("status of the unloaded model %+v; want its candidate 2 in shadow", m)
	}
	if code, body, _ := do(t, "POST", ra.url+"/v2/repository/models/person/load", "", nil); code != 200 {
		t.Fatalf("load: %d %s", code, body)
	}
	if v := servedVersion(t, ra.url); v != "1" {
		t.Errorf("after load: version %q; want 1 (the candidate is not promoted by a load)", v)
	}
	cs := canaryOf(t, ra.a)
	if cs == nil || cs.Phase != "shadow" || cs.Candidate != "2" {
		t.Fatalf("after load: canary %+v; want candidate 2 still in shadow", cs)
	}
	before := cs.Figures.Shadow.Samples
	testenv.WaitFor(t, "shadow comparisons after the load", 20*time.Second, func() bool {
		dr.batch()
		cs := canaryOf(t, ra.a)
		return cs != nil && cs.Figures.Shadow.Samples > before
	})
}

// TestStatisticsCache: with the result cache, the first request misses
// (cache_miss counts it, with the time the lookup and the insertion
// took) and runs the model; the same request again is a hit and runs
// nothing (Triton's statistics extension).
func TestStatisticsCache(t *testing.T) {
	model, _ := filepath.Abs("../testdata/models/hello_world_int8.tflite")
	_, base, stop := newTestAgent(t, t.TempDir(), fmt.Sprintf("  - name: hello\n    path: %s\n    cache:\n      enabled: true\n      max_entries: 100\n", model))
	defer stop()
	for range 2 {
		if code, body, _ := do(t, "POST", base+"/v2/models/hello/infer", helloInfer, nil); code != 200 {
			t.Fatalf("infer: %d %s", code, body)
		}
	}
	code, body, _ := do(t, "GET", base+"/v2/models/hello/stats", "", nil)
	var st struct {
		ModelStats []struct {
			ExecutionCount uint64                         `json:"execution_count"`
			InferenceStats map[string]inferstats.Duration `json:"inference_stats"`
		} `json:"model_stats"`
	}
	if err := json.Unmarshal(body, &st); err != nil || code != 200 || len(st.ModelStats) != 1 {
		t.Fatalf("stats: %d %s %v", code, body, err)
	}
	m := st.ModelStats[0]
	hit, miss := m.InferenceStats["cache_hit"], m.InferenceStats["cache_miss"]
	if m.ExecutionCount != 1 || hit.Count != 1 || miss.Count != 1 || miss.NS == 0 || hit.NS == 0 {
		t.Errorf("stats %s; want 1 execution, 1 hit and 1 miss, both timed", body)
	}
}
