package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/agent/deploy"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/runtime/tensor"
	"github.com/edged-dev/edged/runtime/tflite"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

// goldenCases are person_detect's golden inputs and the top-1 of the
// official runtime's outputs, which the agent's default (LiteRT)
// arithmetic reproduces (testdata/golden/person_detect/*/output_0.bin:
// no_person [60 -60], person [-113 113], random_0 [95 -95], random_1
// [101 -101]).
var goldenCases = []struct {
	name string
	top1 int
}{{"no_person", 0}, {"person", 1}, {"random_0", 0}, {"random_1", 0}}

type goldenIO struct {
	in, out []byte
}

func loadGolden(t *testing.T) []goldenIO {
	t.Helper()
	var g []goldenIO
	for _, c := range goldenCases {
		dir := "../testdata/golden/person_detect/" + c.name
		g = append(g, goldenIO{in: mustRead(t, dir+"/input_0.bin"), out: mustRead(t, dir+"/output_0.bin")})
	}
	return g
}

// testPolicy decides after 50 samples; the latency bound is loose since
// tests share two cores with other work.
const testPolicy = `{"min_samples": 50, "sample_rate": 1, "canary_fraction": 0.5, "max_latency_ratio": 20}`

// untilPhase drives requests only until the model's machine itself is in
// phase ph, then idles: the status message lags behind the machine, and
// an identical candidate given min_samples canary requests would be
// promoted before the test looks at its canary.
func untilPhase(a *Agent, name string, ph canary.Phase, drive func()) func() {
	return func() {
		if r := a.ota.Rollout(name); r != nil {
			if r.Phase() == ph {
				time.Sleep(10 * time.Millisecond)
				return
			}
		}
		drive()
	}
}

// withPolicy sets a bundle's canary policy.
func withPolicy(p string) func(*bundle.Spec) {
	return func(s *bundle.Spec) { s.Policy = json.RawMessage(p) }
}

// waitState waits until command id's status has reached want and returns
// the distinct states seen.
func (e *otaEnv) waitState(id, want string, d time.Duration, drive func()) []string {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for {
		sts := states(e.dev.Statuses(id))
		if slices.Contains(sts, want) {
			return sts
		}
		if len(sts) > 0 && isFinal(sts[len(sts)-1]) {
			e.t.Fatalf("command %s: states %v; want %s before a final state", id, sts, want)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("command %s: states %v after %v; want %s", id, sts, d, want)
		}
		if drive != nil {
			drive()
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// driver sends golden inputs with request ids and checks every answer
// against the active model's golden output when check is set.
type driver struct {
	t     *testing.T
	a     *Agent
	g     []goldenIO
	n     int
	check bool
}

func (dr *driver) one() (string, int) {
	dr.t.Helper()
	k := dr.n % len(dr.g)
	id := fmt.Sprintf("req-%d", dr.n)
	dr.n++
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := dr.a.Handle(ctx, &infer.Request{Model: "person", ID: id, Inputs: []infer.Tensor{{DType: tensor.Int8, Data: dr.g[k].in}}})
	if err != nil {
		dr.t.Fatalf("Infer(person, %s) = %v", id, err)
	}
	out := resp.Outputs
	if dr.check && string(out[0].Data) != string(dr.g[k].out) {
		dr.t.Fatalf("Infer(person, %s) output %v; want %v (the active model's golden output)", id, out[0].Data, dr.g[k].out)
	}
	return id, k
}

func (dr *driver) batch() {
	for range 10 {
		dr.one()
	}
}

func canaryOf(t *testing.T, a *Agent) *status.Canary {
	t.Helper()
	st := a.Status()
	for _, m := range st.Models {
		if m.Name == "person" {
			return m.Canary
		}
	}
	return nil
}

// TestCanaryPromote: a candidate identical to the active model goes
// through shadow and canary and is promoted.
func TestCanaryPromote(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	ra := e.start()
	dr := &driver{t: t, a: ra.a, g: loadGolden(t), check: true}
	e.deploy("c1", e.bundleOf(2, "person_detect.tflite", withPolicy(testPolicy)))
	e.waitState("c1", statusShadow, 30*time.Second, nil)
	if v := servedVersion(t, ra.url); v != "1" {
		t.Errorf("in shadow: served version %q; want 1", v)
	}
	if cs := canaryOf(t, ra.a); cs == nil || cs.Phase != "shadow" || cs.Candidate != "2" {
		t.Fatalf("in shadow: /v1/status canary %+v; want phase shadow, candidate 2", cs)
	}
	e.waitState("c1", statusCanary, 30*time.Second, untilPhase(ra.a, "person", canary.PhaseCanary, dr.batch))
	cs := canaryOf(t, ra.a)
	if cs == nil || cs.Figures.Shadow.Samples < 50 || cs.Agreement != 1 || cs.Last == nil || !strings.Contains(cs.Last.Reason, "shadow passed") {
		t.Fatalf("in canary: /v1/status canary %+v; want >= 50 shadow samples, agreement 1 and the reason of the advance", cs)
	}
	code, page, _ := do(t, "GET", ra.url+"/", "", nil)
	if code != 200 || !strings.Contains(string(page), "<b>Canary</b>: version 2 in canary") {
		t.Errorf("status page: %d, no canary line:\n%s", code, page)
	}
	dr.check = false // the candidate serves too (identical outputs, but not checked per arm here)
	sts := e.waitState("c1", statusActive, 60*time.Second, dr.batch)
	var seq []string
	for _, s := range sts {
		if s == statusShadow || s == statusCanary || s == statusActive {
			seq = append(seq, s)
		}
	}
	if want := []string{statusShadow, statusCanary, statusActive}; !slices.Equal(seq, want) {
		t.Errorf("states %v; want %v in that order", sts, want)
	}
	if v := servedVersion(t, ra.url); v != "2" {
		t.Errorf("after promotion: served version %q; want 2", v)
	}
	if cs := canaryOf(t, ra.a); cs != nil {
		t.Errorf("after promotion: canary %+v; want none", cs)
	}
	checkPerson(t, ra.a)
	ra.stop()
}

// sliceModel takes person_detect's input and outputs its first two
// pixels as the two classes: a model of the same input whose top-1
// is 1 exactly when pixel 1 > pixel 0.
func sliceModel(t *testing.T) []byte {
	t.Helper()
	m, err := tflite.LoadFile(modelPath(t, "person_detect.tflite"))
	must(t, err)
	it, err := tflite.NewInterpreter(m, nil)
	must(t, err)
	q := it.Input(0).Quant
	b := tflitetest.NewBuilder()
	in := b.Tensor("input", tensor.Int8, []int{1, 96, 96, 1}, q, nil)
	begin := b.Const("begin", tensor.Int32, []int{4}, nil, tflitetest.Int32Bytes([]int32{0, 0, 0, 0}))
	size := b.Const("size", tensor.Int32, []int{4}, nil, tflitetest.Int32Bytes([]int32{1, 1, 2, 1}))
	mid := b.Tensor("slice", tensor.Int8, []int{1, 1, 2, 1}, q, nil)
	out := b.Tensor("output", tensor.Int8, []int{1, 2}, q, nil)
	// The schema's package is internal to runtime/tflite: the builtin
	// codes of TFLite's schema.fbs, SLICE 65 and RESHAPE 22.
	const opSlice, opReshape = 65, 22
	b.Op(opSlice, 1, []int{in, begin, size}, []int{mid}, nil)
	b.Op(opReshape, 1, []int{mid}, []int{out}, tflitetest.ReshapeOptions([]int{1, 2}))
	b.Inputs(in)
	b.Outputs(out)
	data, err := b.Bytes()
	must(t, err)
	return data
}

// TestCanaryDisagreement: a candidate that disagrees with the active
// model is rolled back in shadow, and the active model answers every
// request. On the golden inputs the slice model's top-1 (first two
// pixels: no_person 10,10 -> 0; person 11,16 -> 1; random_0 -115,96 -> 1;
// random_1 -67,47 -> 1) differs from person_detect's (0, 1, 0, 0) on 2
// of 4, 50% > the default max_disagreement 5%.
func TestCanaryDisagreement(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	ra := e.start()
	dr := &driver{t: t, a: ra.a, g: loadGolden(t), check: true}
	cand := sliceModel(t)
	e.deploy("d1", e.bundleOf(2, "person_detect.tflite", func(s *bundle.Spec) {
		s.Models[0].Data = cand
		withPolicy(testPolicy)(s)
	}))
	e.waitState("d1", statusShadow, 30*time.Second, nil)
	sts := e.waitState("d1", statusRolledBack, 30*time.Second, dr.batch)
	if slices.Contains(sts, statusCanary) || slices.Contains(sts, statusActive) {
		t.Errorf("states %v; want rolled_back straight from shadow", sts)
	}
	all := e.dev.Statuses("d1")
	last := all[len(all)-1]
	if last.State != statusRolledBack || !strings.Contains(last.Reason, "disagreement") {
		t.Errorf("final status %+v; want rolled_back with a reason naming the disagreement", last)
	}
	dr.batch() // still the active model
	if v := servedVersion(t, ra.url); v != "1" {
		t.Errorf("after rollback: served version %q; want 1", v)
	}
	if cs := canaryOf(t, ra.a); cs != nil {
		t.Errorf("after rollback: canary %+v; want none", cs)
	}
	ra.stop()
}

// inferHTTP posts one JSON inference with a request id.
func inferHTTP(t *testing.T, base, id string, in []byte) {
	t.Helper()
	vals := make([]string, len(in))
	for i, b := range in {
		vals[i] = fmt.Sprint(int8(b))
	}
	body := fmt.Sprintf(`{"id":%q,"inputs":[{"name":"input","datatype":"INT8","shape":[1,96,96,1],"data":[%s]}]}`, id, strings.Join(vals, ","))
	if code, resp, _ := do(t, "POST", base+"/v2/models/person/infer", body, nil); code != 200 {
		t.Fatalf("POST infer %s = %d %s", id, code, resp)
	}
}

// TestCanaryFeedback: in canary, feedback posted to /v1/feedback says
// the candidate's answers are wrong and the active model's right; the
// A/B test rolls the candidate back.
func TestCanaryFeedback(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	ra := e.start()
	g := loadGolden(t)
	dr := &driver{t: t, a: ra.a, g: g, check: true}

	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"no canary", `{"id":"x","correct":true}`, 404},
		{"bad json", `{"id":`, 400},
		{"unknown field", `{"id":"x","correct":true,"extra":1}`, 400},
		{"no outcome", `{"id":"x"}`, 400},
		{"two outcomes", `{"id":"x","correct":true,"score":1}`, 400},
		{"no id", `{"label":1}`, 400},
		{"oversized", `{"id":"` + strings.Repeat("a", 5000) + `","correct":true}`, 413},
	} {
		if code, body, _ := do(t, "POST", ra.url+"/v1/feedback", tc.body, nil); code != tc.want {
			t.Errorf("%s: POST /v1/feedback = %d %s; want %d", tc.name, code, body, tc.want)
		}
	}

	e.deploy("f1", e.bundleOf(2, "person_detect.tflite", withPolicy(testPolicy)))
	e.waitState("f1", statusCanary, 60*time.Second, untilPhase(ra.a, "person", canary.PhaseCanary, dr.batch))

	// The arm of a request id, as the rollout's sampler assigns it (seed:
	// the candidate's sha256 prefix).
	r := ra.a.ota.Rollout("person")
	if r == nil {
		t.Fatal("no rollout in canary")
	}
	arm := r.ArmOf
	// Feedback published on the broker is not taken (anyone who can
	// publish could forge it): only the local API's counts.
	for i := range 50 {
		must(t, e.op.Publish(context.Background(), fleet.Prefix+"/dev/"+otaDevice+"/feedback", fmt.Appendf(nil, `{"id":"mq-%d","correct":false}`, i), 1, false))
	}
	inferHTTP(t, ra.url, "http-1", g[0].in)
	if code, resp, _ := do(t, "POST", ra.url+"/v1/feedback", `{"id":"http-1","correct":true}`, nil); code != http.StatusAccepted {
		t.Fatalf("POST /v1/feedback = %d %s; want 202", code, resp)
	}
	if cs := canaryOf(t, ra.a); cs == nil || cs.Figures.Active.Labeled+cs.Figures.Candidate.Labeled != 1 {
		t.Fatalf("labeled after 50 MQTT and 1 HTTP feedback: %+v; want 1", cs)
	}
	deadline := time.Now().Add(60 * time.Second)
	for n := 0; ; n++ {
		sts := states(e.dev.Statuses("f1"))
		if isFinal(sts[len(sts)-1]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("states %v after 60s; want rolled_back", sts)
		}
		id := fmt.Sprintf("fb-%d", n)
		k := n % len(g)
		inferHTTP(t, ra.url, id, g[k].in)
		// The true label is the golden top-1 for the active arm (right)
		// and the other class for the candidate (wrong), as an
		// application that found the candidate's answers wrong reports.
		label := goldenCases[k].top1
		if arm(id) == canary.ArmCandidate {
			label = 1 - label
		}
		body := fmt.Sprintf(`{"id":%q,"label":%d}`, id, label)
		code, resp, _ := do(t, "POST", ra.url+"/v1/feedback", body, nil)
		if code != http.StatusAccepted && code != http.StatusOK { // 200, not counted, once decided
			t.Fatalf("POST /v1/feedback %s = %d %s; want 202", body, code, resp)
		}
	}
	all := e.dev.Statuses("f1")
	last := all[len(all)-1]
	if last.State != statusRolledBack || !strings.Contains(last.Reason, "accuracy") {
		t.Errorf("final status %+v; want rolled_back on the accuracy test", last)
	}
	if v := servedVersion(t, ra.url); v != "1" {
		t.Errorf("after rollback: served version %q; want 1", v)
	}
	// An application's late outcome is answered, not refused: the
	// evaluation ended, and it counts for nothing.
	code, resp, _ := do(t, "POST", ra.url+"/v1/feedback", `{"model":"person","id":"fb-0","correct":true}`, nil)
	if code != http.StatusOK || !strings.Contains(string(resp), `"accepted":false`) || !strings.Contains(string(resp), `evaluation of model \"person\" version 2 ended`) {
		t.Errorf("feedback after the evaluation ended: %d %s; want 200, not accepted, saying the evaluation of version 2 ended", code, resp)
	}
	ra.stop()
}

// TestCanaryRestart: a restart in canary resumes the same phase with its
// counters, and the evaluation then completes.
func TestCanaryRestart(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	ra := e.start()
	g := loadGolden(t)
	dr := &driver{t: t, a: ra.a, g: g, check: true}
	e.deploy("r1", e.bundleOf(2, "person_detect.tflite", withPolicy(testPolicy)))
	e.waitState("r1", statusCanary, 60*time.Second, untilPhase(ra.a, "person", canary.PhaseCanary, dr.batch))
	dr.check = false
	for range 20 { // fewer than min_samples on the candidate arm
		dr.one()
	}
	before := canaryOf(t, ra.a)
	if before == nil || before.Phase != "canary" || before.Figures.Active.Requests+before.Figures.Candidate.Requests < 20 || before.Figures.Candidate.Requests >= 50 {
		t.Fatalf("before the restart: %+v; want canary with at least 20 requests, under 50 on the candidate", before)
	}
	ra.stop()

	ra = e.start()
	after := canaryOf(t, ra.a)
	if after == nil {
		t.Fatal("after the restart: no canary; want the evaluation resumed")
	}
	if after.Phase != "canary" || after.Figures.Active.Requests != before.Figures.Active.Requests ||
		after.Figures.Candidate.Requests != before.Figures.Candidate.Requests || after.Figures.Shadow.Samples != before.Figures.Shadow.Samples {
		t.Errorf("after the restart: phase %s, requests %d/%d, shadow %d; want canary, %d/%d, %d", after.Phase,
			after.Figures.Active.Requests, after.Figures.Candidate.Requests, after.Figures.Shadow.Samples,
			before.Figures.Active.Requests, before.Figures.Candidate.Requests, before.Figures.Shadow.Samples)
	}
	if v := servedVersion(t, ra.url); v != "1" {
		t.Errorf("after the restart: served version %q; want 1 (the candidate is not promoted yet)", v)
	}
	checkCanaryTelemetry(t, ra, after)
	dr.a = ra.a
	e.waitState("r1", statusActive, 60*time.Second, dr.batch)
	if v := servedVersion(t, ra.url); v != "2" {
		t.Errorf("after promotion: served version %q; want 2", v)
	}
	ra.stop()
}

// TestCanaryOperator: a signed rollback of the candidate's version ends an
// evaluation; hold and resume pause and continue one; a signed promote of
// the candidate's version promotes it, while a deploy repeating its
// manifest, an unsigned promote or a promote of another version do not.
func TestCanaryOperator(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	ra := e.start()
	dr := &driver{t: t, a: ra.a, g: loadGolden(t), check: true}
	slow := withPolicy(`{"min_samples": 1000, "sample_rate": 1, "canary_fraction": 0.5}`)
	e.deploy("o1", e.bundleOf(2, "person_detect.tflite", slow))
	e.waitState("o1", statusShadow, 30*time.Second, nil)
	e.operator(fleet.OpRollback, "rb1", rollbackOf(2, 1))
	if sts := e.final("rb1"); sts[len(sts)-1].State != fleet.StatusDone {
		t.Fatalf("rollback command: %+v; want done", sts[len(sts)-1])
	}
	if sts := e.final("o1"); sts[len(sts)-1].State != statusRolledBack || !strings.Contains(sts[len(sts)-1].Reason, "operator") {
		t.Errorf("deploy after the rollback command: %+v; want rolled_back by the operator", sts[len(sts)-1])
	}
	dr.batch()

	b := e.bundleOf(3, "person_detect.tflite", slow)
	e.deploy("o2", b)
	e.waitState("o2", statusShadow, 30*time.Second, nil)
	e.operator(fleet.OpHold, "h1", targetOf(3))
	if sts := e.final("h1"); sts[len(sts)-1].State != fleet.StatusDone {
		t.Fatalf("hold: %+v; want done", sts[len(sts)-1])
	}
	if cs := canaryOf(t, ra.a); cs == nil || cs.Phase != "hold" {
		t.Fatalf("after the hold: canary %+v; want hold", cs)
	}
	e.operator(fleet.OpResume, "r1", targetOf(3))
	if sts := e.final("r1"); sts[len(sts)-1].State != fleet.StatusDone {
		t.Fatalf("resume: %+v; want done", sts[len(sts)-1])
	}
	if cs := canaryOf(t, ra.a); cs == nil || cs.Phase != "shadow" {
		t.Fatalf("after the resume: canary %+v; want shadow", cs)
	}
	// A hold issued before the resume, delivered after it (as after the
	// command record was lost: its nonce is new to the device), changes
	// nothing.
	older := func(c *sign.Command) { c.Issued = c.Issued.Add(-time.Minute) }
	e.command(fleet.OpHold, "h0", e.signedCommand(fleet.OpHold, "h0", targetOf(3), older), time.Now().Add(time.Hour))
	if sts := e.final("h0"); sts[len(sts)-1].State != deploy.StatusSkipped || !strings.Contains(sts[len(sts)-1].Reason, "after this one") {
		t.Errorf("hold issued before the resume: %+v; want skipped", sts[len(sts)-1])
	}
	if cs := canaryOf(t, ra.a); cs == nil || cs.Phase != "shadow" {
		t.Fatalf("after the older hold: canary %+v; want shadow still", cs)
	}
	for _, c := range []struct {
		id, want string
		payload  []byte
	}{
		{"p-unsigned", fleet.StatusRejected, []byte(`{"model":"person"}`)},
		{"p-other", deploy.StatusSkipped, e.signedCommand(fleet.OpPromote, "p-other", targetOf(4), nil)},
	} {
		e.command(fleet.OpPromote, c.id, c.payload, time.Now().Add(time.Hour))
		if sts := e.final(c.id); sts[len(sts)-1].State != c.want {
			t.Errorf("promote %s: %+v; want %s", c.id, sts[len(sts)-1], c.want)
		}
	}
	e.command(fleet.OpDeploy, "o3", b.Raw, b.Manifest.Expires)
	if sts := e.final("o3"); sts[len(sts)-1].State != deploy.StatusSkipped {
		t.Fatalf("repeated deploy: %+v; want skipped", sts[len(sts)-1])
	}
	if cs := canaryOf(t, ra.a); cs == nil || cs.Phase != "shadow" {
		t.Fatalf("after the refused promotes: canary %+v; want shadow still", cs)
	}
	e.operator(fleet.OpPromote, "p1", targetOf(3))
	if sts := e.final("p1"); sts[len(sts)-1].State != fleet.StatusDone {
		t.Fatalf("promote: %+v; want done", sts[len(sts)-1])
	}
	if sts := e.final("o2"); sts[len(sts)-1].State != statusActive {
		t.Errorf("the candidate's deploy: %+v; want active", sts[len(sts)-1])
	}
	if v := servedVersion(t, ra.url); v != "3" {
		t.Errorf("after the promotion: served version %q; want 3", v)
	}
	dr.batch() // identical model: the same golden outputs
	ra.stop()
}

// TestCanaryCrashLoop: the third start after a crash within
// crash_loop_window (the deploy counts as one) while a candidate is in
// shadow rolls it back before it loads; starts after clean stops do not
// count.
func TestCanaryCrashLoop(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	ra := e.start()
	e.deploy("k1", e.bundleOf(2, "person_detect.tflite", withPolicy(`{"min_samples": 1000, "crash_loop_starts": 3, "crash_loop_window": "10m"}`)))
	e.waitState("k1", statusShadow, 30*time.Second, nil)
	for range 3 { // maintenance restarts
		ra.stop()
		ra = e.start()
		if cs := canaryOf(t, ra.a); cs == nil || cs.Phase != "shadow" {
			t.Fatalf("start after a clean stop: canary %+v; want shadow resumed", cs)
		}
	}
	ra.stop()
	crashed(t, e.storeDir())
	ra = e.start()
	if cs := canaryOf(t, ra.a); cs == nil || cs.Phase != "shadow" {
		t.Fatalf("second start after a crash: canary %+v; want shadow resumed", cs)
	}
	ra.stop()
	crashed(t, e.storeDir())
	ra = e.start()
	sts := e.final("k1")
	if last := sts[len(sts)-1]; last.State != statusRolledBack || !strings.Contains(last.Reason, "crash loop") {
		t.Errorf("third start: %+v; want rolled_back naming the crash loop", last)
	}
	if cs := canaryOf(t, ra.a); cs != nil {
		t.Errorf("third start: canary %+v; want none", cs)
	}
	if v := servedVersion(t, ra.url); v != "1" {
		t.Errorf("third start: served version %q; want 1", v)
	}
	ra.stop()
}

// checkCanaryTelemetry checks that the telemetry snapshot's and /metrics'
// canary figures carry the status' counts, and its latencies in ms and
// seconds.
func checkCanaryTelemetry(t *testing.T, ra *runningAgent, cs *status.Canary) {
	t.Helper()
	ct := ra.a.CanaryTelemetry()
	if len(ct) != 1 {
		t.Fatalf("canary telemetry %+v; want one candidate", ct)
	}
	c, f := ct[0], cs.Figures
	if c.Model != "person" || c.Candidate != "2" || c.Phase != "canary" || c.Active == nil || c.Cand == nil ||
		c.Active.N != f.Active.Requests || c.Cand.N != f.Candidate.Requests || c.Shadow != nil {
		t.Fatalf("canary telemetry %+v; want person, candidate 2 in canary, requests %d/%d, no shadow figures",
			c, f.Active.Requests, f.Candidate.Requests)
	}
	if d := c.Active.P50*1e6 - float64(f.Active.P50); math.Abs(d) > 1e3 {
		t.Errorf("active p50 %g ms; want %v", c.Active.P50, f.Active.P50)
	}
	for series, want := range map[string]float64{
		`edged_canary_phase{candidate="2",model="person",phase="canary"}`: 1,
		`edged_canary_requests_total{arm="active",model="person"}`:        float64(f.Active.Requests),
		`edged_canary_requests_total{arm="candidate",model="person"}`:     float64(f.Candidate.Requests),
		`edged_canary_latency_seconds_count{arm="active",model="person"}`: float64(f.Active.Requests - f.Active.Errors),
	} {
		if got := metricValue(t, ra.url, series); got != want {
			t.Errorf("/metrics %s = %g; want %g", series, got, want)
		}
	}
	q := metricValue(t, ra.url, `edged_canary_latency_seconds{arm="active",model="person",quantile="0.5"}`)
	if d := q*1e9 - float64(f.Active.P50); math.Abs(d) > 1e3 {
		t.Errorf("/metrics active median %g s; want %v", q, f.Active.P50)
	}
}
