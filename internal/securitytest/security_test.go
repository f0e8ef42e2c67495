// Package securitytest attacks the real edged, built from this tree and
// run as its own process, through a real mosquitto, as a client of the
// broker and of the local HTTP endpoint would: forged, unsigned,
// replayed, expired and misaddressed commands; damage to the state files
// and the stored models; clean and unclean restarts.
package securitytest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/fleettest"
	"github.com/edged-dev/edged/internal/mosquittotest"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/sign/signtest"
	"github.com/edged-dev/edged/ota/transfer"
)

const device = "d1"

// env is a broker, the operator's keys and client, and one device.
type env struct {
	t      *testing.T
	root   string // repository root
	bin    string // edged
	dir    string
	cfg    string
	store  string // the device's model store
	listen string
	broker *mosquittotest.Broker
	keys   *signtest.Keys
	evil   *sign.SigningKey // a command key certified by another root
	op     *fleet.Client
	dev    *fleettest.Device // what the operator has seen of the device

	proc   *exec.Cmd
	exited chan error
	log    *testenv.SyncBuffer
}

// newEnv builds edged and sets up the broker, the keys and the device's
// configuration; models adds configured models (YAML list items).
func newEnv(t *testing.T, models ...string) *env {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, root: root, dir: t.TempDir()}
	e.bin = buildEdged(t, root)
	e.broker = mosquittotest.Start(t, &mosquittotest.Options{Persistent: true})
	e.keys = signtest.New(t)
	e.evil = signtest.New(t).Command
	e.keys.WriteRoot(t, e.dir)
	e.listen = testenv.FreeAddr(t)
	state := filepath.Join(e.dir, "state")
	e.store = filepath.Join(state, "models")
	e.cfg = filepath.Join(e.dir, "edged.yaml")
	doc := fmt.Sprintf(`version: 1
state_dir: %s
log: {level: debug}
device: {id: %s, group: cams}
http: {listen: %q, read_timeout: 3s}
models:
  - name: person
    version: "1"
    path: %s
%sfleet:
  broker: %s
  min_backoff: 50ms
  max_backoff: 500ms
telemetry: {interval: 1h}
ota:
  root_key: root.pub
  crash_loop: {starts: 3, window: 10m}
`, state, device, e.listen, filepath.Join(root, "testdata", "models", "person_detect.tflite"), strings.Join(models, ""), e.broker.URL())
	must(t, os.WriteFile(e.cfg, []byte(doc), 0o644))

	e.op, _ = fleettest.Connect(t, fleet.Options{Broker: e.broker.URL()})
	e.dev = fleettest.Watch(t, e.op, device)
	t.Cleanup(func() { e.stop(syscall.SIGTERM) })
	return e
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// buildEdged builds edged from this tree once per test run.
func buildEdged(t *testing.T, root string) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "edged-securitytest-")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "edged")
		cmd := exec.Command(testenv.GoTool(t), "build", "-o", built, "./cmd/edged")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/edged: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// start runs edged and waits until its endpoint answers and it is
// connected to the broker.
func (e *env) start() {
	e.t.Helper()
	e.log = &testenv.SyncBuffer{}
	e.proc = exec.Command(e.bin, "-config", e.cfg)
	e.proc.Stdout, e.proc.Stderr = e.log, e.log
	e.exited = make(chan error, 1)
	must(e.t, e.proc.Start())
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(e.proc, e.exited)
	testenv.WaitFor(e.t, "edged to answer", 30*time.Second, func() bool {
		resp, err := http.Get("http://" + e.listen + "/v2/health/live")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	testenv.WaitFor(e.t, "edged to reach the broker", 30*time.Second, func() bool {
		return strings.Contains(e.log.String(), "fleet: connected")
	})
}

// stop ends edged with sig: SIGTERM is a clean stop, SIGKILL a crash.
func (e *env) stop(sig syscall.Signal) {
	if e.proc == nil {
		return
	}
	e.proc.Process.Signal(sig)
	select {
	case <-e.exited:
	case <-time.After(20 * time.Second):
		e.proc.Process.Kill()
		<-e.exited
		e.t.Errorf("edged did not stop within 20s of %v", sig)
	}
	e.proc = nil
}

// publishCommand publishes a command with a raw payload, retained, as
// anyone on the broker could.
func (e *env) publishCommand(op, id string, payload []byte) {
	e.t.Helper()
	now := time.Now().UTC()
	b, err := fleet.Encode(&fleet.Command{Op: op, ID: id, Payload: payload, Issued: now})
	must(e.t, err)
	must(e.t, e.op.Publish(context.Background(), fleet.CommandTopic(device, op, id), b, 1, true))
}

// signed is an operator command for target (a device id, or "group:" and
// a group), signed by key, valid for an hour unless edit says otherwise.
func (e *env) signed(key *sign.SigningKey, op, id, target string, payload any, edit func(*sign.Command)) []byte {
	e.t.Helper()
	raw, err := json.Marshal(payload)
	must(e.t, err)
	now := time.Now().UTC().Truncate(time.Second)
	c := &sign.Command{V: 1, Op: op, ID: id, Device: target, Issued: now, Expires: now.Add(time.Hour), Payload: raw}
	if g, ok := strings.CutPrefix(target, "group:"); ok {
		c.Device, c.Group = "", g
	}
	if edit != nil {
		edit(c)
	}
	must(e.t, sign.SignCommand(c, key))
	b, err := json.Marshal(c)
	must(e.t, err)
	return b
}

func rollback(from, to uint64) sign.Rollback {
	return sign.Rollback{V: sign.CommandProtocol, Model: "person", From: from, To: to}
}

func target(v uint64) sign.Target {
	return sign.Target{V: sign.CommandProtocol, Model: "person", Version: v}
}

// deploy pushes a signed bundle of person_detect as version v and its
// deploy command, and returns the manifest.
func (e *env) deploy(id string, v uint64, policy string) []byte {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(e.root, "testdata", "models", "person_detect.tflite"))
	must(e.t, err)
	spec := bundle.Spec{Name: "person", Version: v, Models: []bundle.Model{{Variant: bundle.VariantCPU, Data: data}}}
	if policy != "" {
		spec.Policy = json.RawMessage(policy)
	}
	b, err := bundle.Write(filepath.Join(e.t.TempDir(), "b"), spec, e.keys.Model)
	must(e.t, err)
	_, err = transfer.Publish(context.Background(), e.op, bytes.NewReader(data), int64(len(data)), nil)
	must(e.t, err)
	e.publishCommand(fleet.OpDeploy, id, b.Raw)
	return b.Raw
}

var finals = map[string]bool{"active": true, "done": true, "rolled_back": true, "failed": true, "rejected": true, "expired": true, "skipped": true, "shadow": true}

// forget drops the statuses seen of a command, to wait for new ones.
func (e *env) forget(id string) {
	e.dev.Forget(id)
}

// final waits for a command's final status.
func (e *env) final(id string) fleet.CommandStatus {
	e.t.Helper()
	var last fleet.CommandStatus
	testenv.WaitFor(e.t, "a final status of command "+id, 60*time.Second, func() bool {
		sts := e.dev.Statuses(id)
		if len(sts) == 0 {
			return false
		}
		last = sts[len(sts)-1]
		return finals[last.State]
	})
	return last
}

// event waits for the update event of a command and returns its detail.
func (e *env) event(id string) map[string]any {
	e.t.Helper()
	var d map[string]any
	testenv.WaitFor(e.t, "the event of command "+id, 30*time.Second, func() bool {
		for _, ev := range e.dev.Events() {
			var det map[string]any
			if json.Unmarshal(ev.Detail, &det) == nil && det["cmd"] == id {
				d = det
				return true
			}
		}
		return false
	})
	return d
}

// served is the version of person that edged serves, after checking that
// it answers person_detect's golden cases as the reference runtime does.
func (e *env) served() string {
	e.t.Helper()
	var version string
	for _, c := range []string{"person", "no_person"} {
		dir := filepath.Join(e.root, "testdata", "golden", "person_detect", c)
		in, err := os.ReadFile(filepath.Join(dir, "input_0.bin"))
		must(e.t, err)
		want, err := os.ReadFile(filepath.Join(dir, "output_0.bin"))
		must(e.t, err)
		vals := make([]string, len(in))
		for i, b := range in {
			vals[i] = strconv.Itoa(int(int8(b)))
		}
		body := `{"inputs":[{"name":"input","datatype":"INT8","shape":[1,96,96,1],"data":[` + strings.Join(vals, ",") + `]}]}`
		resp, err := http.Post("http://"+e.listen+"/v2/models/person/infer", "application/json", strings.NewReader(body))
		must(e.t, err)
		var r struct {
			ModelVersion string `json:"model_version"`
			Outputs      []struct {
				Data []int `json:"data"`
			} `json:"outputs"`
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(r.Outputs) != 1 {
			e.t.Fatalf("infer %s: %s, %v", c, resp.Status, err)
		}
		got := make([]byte, len(r.Outputs[0].Data))
		for i, v := range r.Outputs[0].Data {
			got[i] = byte(int8(v))
		}
		if !bytes.Equal(got, want) {
			e.t.Errorf("version %s answers case %s with %v; the reference runtime %v", r.ModelVersion, c, got, want)
		}
		version = r.ModelVersion
	}
	return version
}

// status is GET /v1/status.
func (e *env) status() map[string]any {
	e.t.Helper()
	resp, err := http.Get("http://" + e.listen + "/v1/status")
	must(e.t, err)
	defer resp.Body.Close()
	var st map[string]any
	must(e.t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

func (e *env) wantServed(when, want string) {
	e.t.Helper()
	if v := e.served(); v != want {
		e.t.Errorf("%s: edged serves person version %q; want %q", when, v, want)
	}
}

// sealWith signs command JSON (without signatures) with the signing key
// stored in a key file, under the command context, whatever the key is
// certified for: what a thief of that key can do.
func (e *env) sealWith(k *sign.SigningKey, body []byte) []byte {
	e.t.Helper()
	path := filepath.Join(e.t.TempDir(), "key.json")
	must(e.t, sign.WriteSigningKey(path, k))
	raw, err := os.ReadFile(path)
	must(e.t, err)
	var kf struct {
		PrivateKey  []byte          `json:"private_key"`
		Certificate json.RawMessage `json:"certificate"`
	}
	must(e.t, json.Unmarshal(raw, &kf))
	canon, err := sign.Canonical(body, "signatures")
	must(e.t, err)
	sig := ed25519.Sign(ed25519.NewKeyFromSeed(kf.PrivateKey), append([]byte("edged-sign-v1 command\x00"), canon...))
	var obj map[string]json.RawMessage
	must(e.t, json.Unmarshal(body, &obj))
	sigs, err := json.Marshal([]map[string]any{{"key_id": k.ID(), "certificate": kf.Certificate, "sig": sig}})
	must(e.t, err)
	obj["signatures"] = sigs
	out, err := json.Marshal(obj)
	must(e.t, err)
	return out
}

// unsignedBody is a well-formed command without signatures.
func unsignedBody(t *testing.T, op, id string, payload any) []byte {
	raw, err := json.Marshal(payload)
	must(t, err)
	now := time.Now().UTC().Truncate(time.Second)
	b, err := json.Marshal(&sign.Command{V: 1, Op: op, ID: id, Device: device, Issued: now, Expires: now.Add(time.Hour),
		Nonce: strings.Repeat("ab", 16), Payload: raw})
	must(t, err)
	var obj map[string]json.RawMessage
	must(t, json.Unmarshal(b, &obj))
	delete(obj, "signatures")
	b, err = json.Marshal(obj)
	must(t, err)
	return b
}

// TestHostileBrokerClient: a client of the broker that may publish on the
// device's command topics, without the operator's command key, changes
// nothing: every forged, unsigned, tampered, replayed, expired and
// misaddressed command is refused with the check named in its status and
// event, and the device keeps serving the same version with the
// reference answers.
func TestHostileBrokerClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs edged")
	}
	e := newEnv(t)
	e.start()
	for _, v := range []uint64{2, 3} {
		id := fmt.Sprintf("v%d", v)
		e.deploy(id, v, "")
		if st := e.final(id); st.State != "active" {
			t.Fatalf("deploy %s: %+v; want active", id, st)
		}
	}
	e.wantServed("after the deploys", "3")

	past := func(c *sign.Command) { c.Issued, c.Expires = c.Issued.Add(-2*time.Hour), c.Issued.Add(-time.Hour) }
	genuine := e.signed(e.keys.Command, fleet.OpRollback, "tamper", device, rollback(3, 2), nil)
	attacks := []struct {
		name, op, id string
		payload      []byte
		check        string
	}{
		{"unsigned rollback of protocol 1", fleet.OpRollback, "a1", []byte(`{"model":"person"}`), "unsigned"},
		{"unsigned promote of protocol 1", fleet.OpPromote, "a2", []byte(`{"model":"person"}`), "unsigned"},
		{"unsigned command", fleet.OpRollback, "a3", unsignedBody(t, fleet.OpRollback, "a3", rollback(3, 2)), "unsigned"},
		{"signed by another root", fleet.OpRollback, "a4", e.signed(e.evil, fleet.OpRollback, "a4", device, rollback(3, 2), nil), "untrusted_key"},
		{"signed with the model key", fleet.OpRollback, "a5", e.sealWith(e.keys.Model, unsignedBody(t, fleet.OpRollback, "a5", rollback(3, 2))), "wrong_purpose"},
		{"tampered after signing", fleet.OpRollback, "tamper", bytes.Replace(genuine, []byte(`"to":2`), []byte(`"to":1`), 1), "bad_signature"},
		{"expired", fleet.OpRollback, "a6", e.signed(e.keys.Command, fleet.OpRollback, "a6", device, rollback(3, 2), past), "expired"},
		{"for another device", fleet.OpRollback, "a7", e.signed(e.keys.Command, fleet.OpRollback, "a7", "d2", rollback(3, 2), nil), "other_device"},
		{"for another group", fleet.OpRollback, "a8", e.signed(e.keys.Command, fleet.OpRollback, "a8", "group:doors", rollback(3, 2), nil), "other_device"},
		{"under another id", fleet.OpRollback, "a9", e.signed(e.keys.Command, fleet.OpRollback, "a9-signed", device, rollback(3, 2), nil), "mismatch"},
		{"under another op", fleet.OpPromote, "a10", e.signed(e.keys.Command, fleet.OpRollback, "a10", device, rollback(3, 2), nil), "mismatch"},
		{"garbage deploy under a guessable id", fleet.OpDeploy, "person-v4-1", []byte(`{"kind":"model","name":"person","version":4}`), "malformed"},
	}
	for _, a := range attacks {
		e.publishCommand(a.op, a.id, a.payload)
		if st := e.final(a.id); st.State != "rejected" {
			t.Errorf("%s: status %+v; want rejected", a.name, st)
		}
		if d := e.event(a.id); d["check"] != a.check {
			t.Errorf("%s: event %v; want check %q", a.name, d, a.check)
		}
	}
	e.wantServed("after the forged commands", "3")

	// The genuine deploy that later uses the guessed id is not pre-empted.
	e.forget("person-v4-1")
	e.deploy("person-v4-1", 4, "")
	if st := e.final("person-v4-1"); st.State != "active" {
		t.Fatalf("genuine deploy under an id garbage used first: %+v; want active", st)
	}
	e.wantServed("after the genuine deploy", "4")

	// A genuine rollback 4 → 3 runs; replayed it changes nothing.
	rb := e.signed(e.keys.Command, fleet.OpRollback, "rb", device, rollback(4, 3), nil)
	e.publishCommand(fleet.OpRollback, "rb", rb)
	if st := e.final("rb"); st.State != "done" {
		t.Fatalf("genuine rollback: %+v; want done", st)
	}
	e.wantServed("after the genuine rollback", "3")
	e.deploy("v5", 5, "")
	if st := e.final("v5"); st.State != "active" {
		t.Fatalf("deploy v5: %+v; want active", st)
	}
	// Re-encoded (the signature still holds), it is a replay of a nonce
	// already used.
	var obj map[string]any
	must(t, json.Unmarshal(rb, &obj))
	reencoded, err := json.MarshalIndent(obj, "", "  ")
	must(t, err)
	e.forget("rb")
	e.publishCommand(fleet.OpRollback, "rb", reencoded)
	if st := e.final("rb"); st.State != "rejected" || !strings.Contains(st.Reason, "replayed") {
		t.Errorf("replayed rollback: %+v; want rejected as replayed", st)
	}
	e.wantServed("after the replay", "5")

	// A promote: the candidate under evaluation is promoted only by a
	// signed promote naming it; a replayed deploy manifest does not.
	manifest := e.deploy("v6", 6, `{"min_samples": 100000, "sample_rate": 0.1}`)
	if st := e.final("v6"); st.State != "shadow" {
		t.Fatalf("deploy v6 with a policy: %+v; want shadow", st)
	}
	e.publishCommand(fleet.OpPromote, "p1", []byte(`{"model":"person"}`))
	e.publishCommand(fleet.OpDeploy, "v6-again", manifest)
	e.publishCommand(fleet.OpPromote, "p2", e.signed(e.evil, fleet.OpPromote, "p2", device, target(6), nil))
	for id, want := range map[string]string{"p1": "rejected", "v6-again": "skipped", "p2": "rejected"} {
		if st := e.final(id); st.State != want {
			t.Errorf("promote attempt %s: %+v; want %s", id, st, want)
		}
	}
	e.wantServed("after the forged promotes", "5")

	// Feedback published on the broker is not taken.
	for i := range 450 {
		must(t, e.op.Publish(context.Background(), fleet.Prefix+"/dev/"+device+"/feedback", fmt.Appendf(nil, `{"id":"f%d","correct":false}`, i), 0, false))
	}
	// Thousands of garbage commands leave no record. (Sent in batches the
	// device's command queue holds: beyond it they are dropped, to come
	// again at the next connection.)
	for i := range 2000 {
		e.publishCommand(fleet.OpRollback, fmt.Sprintf("junk-%d", i), []byte(`{"model":"person"}`))
		if i%40 == 39 {
			e.final(fmt.Sprintf("junk-%d", i))
		}
	}
	if st, err := os.Stat(filepath.Join(e.store, "cmdlog.db")); err != nil || st.Size() > 1<<20 {
		t.Errorf("command record after 2000 garbage commands: %v, %v; want under 1 MiB", st.Size(), err)
	}
	e.wantServed("after the garbage", "5")
	if st := e.status(); !strings.Contains(fmt.Sprint(st["models"]), "shadow") {
		t.Errorf("status after the attacks: %v; want the candidate still in shadow", st["models"])
	}
}

// flipBytes inverts n bytes in the middle of a file.
func flipBytes(t *testing.T, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	mid := len(b) / 2
	for i := mid; i < mid+n && i < len(b); i++ {
		b[i] ^= 0xff
	}
	must(t, os.WriteFile(path, b, 0o644))
}

// ready is GET /v2/health/ready: its status code and body.
func (e *env) ready() (int, string) {
	e.t.Helper()
	resp, err := http.Get("http://" + e.listen + "/v2/health/ready")
	must(e.t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// TestStateDamage: with the command record lost, the model state file
// corrupted, a stored model's bytes flipped, a configured model
// truncated, or after clean restarts, the device stays on the right
// version and answers as the reference runtime does; only crashes count
// towards a crash loop.
func TestStateDamage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs edged")
	}
	model, err := os.ReadFile(filepath.Join(mustRoot(t), "testdata", "models", "hello_world_int8.tflite"))
	must(t, err)
	truncated := filepath.Join(t.TempDir(), "hello.tflite")
	must(t, os.WriteFile(truncated, model[:len(model)/2], 0o644))
	e := newEnv(t, fmt.Sprintf("  - name: hello\n    path: %s\n", truncated))
	e.start()

	// A configured model that does not load: the others serve, and
	// readiness names it.
	if code, body := e.ready(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"model":"hello"`) {
		t.Errorf("ready with hello truncated: %d %s; want 503 naming hello", code, body)
	}
	e.wantServed("with hello truncated", "1")

	for _, v := range []uint64{2, 3} {
		id := fmt.Sprintf("v%d", v)
		e.deploy(id, v, "")
		if st := e.final(id); st.State != "active" {
			t.Fatalf("deploy %s: %+v; want active", id, st)
		}
	}
	// A genuine rollback 3 → 2, retained, then version 4.
	e.publishCommand(fleet.OpRollback, "rb", e.signed(e.keys.Command, fleet.OpRollback, "rb", device, rollback(3, 2), nil))
	if st := e.final("rb"); st.State != "done" {
		t.Fatalf("rollback: %+v; want done", st)
	}
	e.deploy("v4", 4, "")
	if st := e.final("v4"); st.State != "active" {
		t.Fatalf("deploy v4: %+v; want active", st)
	}
	e.wantServed("after v4", "4")

	// The command record lost: the retained rollback comes again, is
	// still valid, and does nothing: the device no longer serves 3.
	e.stop(syscall.SIGTERM)
	must(t, os.Remove(filepath.Join(e.store, "cmdlog.db")))
	e.forget("rb")
	e.start()
	if st := e.final("rb"); st.State != "skipped" {
		t.Errorf("retained rollback after the command record was lost: %+v; want skipped", st)
	}
	e.wantServed("after the command record was lost", "4")

	// The model state corrupted: the floors and the active version
	// survive in versions.json; an older genuine manifest stays refused.
	e.stop(syscall.SIGTERM)
	junk := make([]byte, 32<<10)
	for i := range junk {
		junk[i] = byte(i*31 + 7)
	}
	must(t, os.WriteFile(filepath.Join(e.store, "state.db"), junk, 0o600))
	// A download left behind by an earlier build: removed at start.
	part := filepath.Join(e.store, "downloads", strings.Repeat("ab", 32)+".part")
	must(t, os.MkdirAll(filepath.Dir(part), 0o755))
	must(t, os.WriteFile(part, []byte("stale"), 0o644))
	e.start()
	e.wantServed("after state.db was corrupted", "4")
	e.deploy("v3-again", 3, "")
	if st := e.final("v3-again"); st.State != "rejected" || !strings.Contains(st.Reason, "replayed") {
		t.Errorf("version 3 again after state.db was corrupted: %+v; want rejected as replayed", st)
	}
	if _, err := os.Stat(part); !os.IsNotExist(err) {
		t.Errorf("stale partial download after a start: %v; want removed", err)
	}

	// Bytes flipped in the stored model: not served; the previous version
	// (2) serves, with an event and a status reason.
	e.stop(syscall.SIGTERM)
	flipBytes(t, filepath.Join(e.store, "models", "person", "4", "model.tflite"), 2000)
	e.start()
	e.wantServed("after version 4's file was damaged", "2")
	if st := e.status(); !strings.Contains(fmt.Sprint(st["models"]), "version 4 cannot serve") {
		t.Errorf("status models %v; want the reason version 4 does not serve", st["models"])
	}
	e.deploy("v4-again", 4, "")
	if st := e.final("v4-again"); st.State != "rejected" {
		t.Errorf("version 4 again after its files were damaged: %+v; want rejected (never installed twice)", st)
	}

	// Clean restarts within the crash-loop window after a deploy keep it.
	e.deploy("v5", 5, "")
	if st := e.final("v5"); st.State != "active" {
		t.Fatalf("deploy v5: %+v; want active", st)
	}
	for range 4 {
		e.stop(syscall.SIGTERM)
		e.start()
	}
	e.wantServed("after four clean restarts", "5")
	// Three crashes within it roll it back.
	for range 3 {
		e.stop(syscall.SIGKILL)
		e.start()
	}
	e.wantServed("after three crashes", "2")

	// Both copies of the model state lost in a crash: the directories of
	// the versions rolled back or dropped (4, 5) still give the floor, so
	// their manifests, replayed, are refused.
	e.stop(syscall.SIGKILL)
	must(t, os.Remove(filepath.Join(e.store, "state.db")))
	must(t, os.Remove(filepath.Join(e.store, "versions.json")))
	e.start()
	e.deploy("v5-again", 5, "")
	if st := e.final("v5-again"); st.State != "rejected" || !strings.Contains(st.Reason, "replayed") {
		t.Errorf("version 5 again after state.db and versions.json were lost: %+v; want rejected as replayed", st)
	}
	if v := e.served(); v == "5" || v == "4" {
		t.Errorf("after state.db and versions.json were lost the device serves %s; want neither 4 nor 5", v)
	}
}

func mustRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	must(t, err)
	return root
}

// hwm is the peak resident memory of edged so far, from /proc.
func (e *env) hwm() int64 {
	e.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.proc.Process.Pid))
	must(e.t, err)
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			must(e.t, err)
			return kb << 10
		}
	}
	e.t.Fatal("no VmHWM")
	return 0
}

// rawHTTP sends req on a new connection and returns the status line, or
// the error that ended the connection.
func rawHTTP(addr, req string, wait time.Duration) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// binaryRequest is an inference request with the binary extension.
func binaryRequest(header, data string) string {
	return fmt.Sprintf("POST /v2/models/person/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nInference-Header-Content-Length: %d\r\nContent-Length: %d\r\n\r\n%s%s",
		len(header), len(header)+len(data), header, data)
}

// TestHostileHTTPClient: requests a local process or a web page could
// send get clear refusals, no panic, no unbounded memory, and slow
// senders are cut off; a huge MQTT message is never read into memory.
func TestHostileHTTPClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs edged")
	}
	e := newEnv(t)
	e.start()
	e.wantServed("at start", "1")
	base := e.listen
	for _, tt := range []struct {
		name, req, want string
	}{
		{"DNS rebinding", "GET /v1/status HTTP/1.1\r\nHost: attacker.example:9410\r\n\r\n", "HTTP/1.1 421"},
		{"binary_data_size 2^63", binaryRequest(`{"inputs":[{"name":"input","shape":[1,96,96,1],"datatype":"INT8","parameters":{"binary_data_size":9223372036854775808}}]}`, "ab"), "HTTP/1.1 400"},
		{"header over 64 KiB", "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + strings.Repeat("a", 80<<10) + "\r\n\r\n", "HTTP/1.1 431"},
		{"body declared over the limit", "POST /v2/models/person/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999999\r\n\r\n", "HTTP/1.1 413"},
	} {
		line, err := rawHTTP(base, tt.req, 10*time.Second)
		if !strings.HasPrefix(line, tt.want) {
			t.Errorf("%s: %q, %v; want %s", tt.name, line, err, tt.want)
		}
	}
	// A body sent slowly is cut off by http.read_timeout (3s here).
	start := time.Now()
	line, err := rawHTTP(base, "POST /v2/models/person/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n{\"inputs\":", 30*time.Second)
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("a body sent slowly held the connection for %v (%q, %v); want it cut off after read_timeout", took, line, err)
	} else {
		t.Logf("a body sent slowly: connection ended after %v (%q, %v)", took.Round(100*time.Millisecond), line, err)
	}
	if strings.Contains(e.log.String(), "panicked") {
		t.Errorf("a handler panicked:\n%s", e.log.String())
	}

	// Bodies of tiny items that decode into many times their size: 4.6
	// million empty inputs, a shape of 7 million dimensions (it came back
	// in the error message). One such request took edged to 1.6 GiB.
	manyInputs := `{"inputs":[` + strings.TrimSuffix(strings.Repeat("{},", 4600000), ",") + `]}`
	hugeShape := `{"inputs":[{"name":"input","shape":[` + strings.TrimSuffix(strings.Repeat("1,", 7000000), ",") + `],"datatype":"INT8","data":[1]}]}`
	before := e.hwm()
	var wg sync.WaitGroup
	for i := range 16 {
		body := manyInputs
		if i%2 == 1 {
			body = hugeShape
		}
		wg.Go(func() {
			resp, err := http.Post("http://"+base+"/v2/models/person/infer", "application/json", strings.NewReader(body))
			if err != nil {
				t.Errorf("inflating body: %v", err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusServiceUnavailable || n > 4096 {
				t.Errorf("inflating body: %s, %d-byte answer; want 400 or 503 and a short answer", resp.Status, n)
			}
		})
	}
	wg.Wait()
	if peak := e.hwm(); peak-before > 192<<20 {
		t.Errorf("peak RSS rose from %d to %d MiB with 16 bodies of tiny items; want under 192 MiB more", before>>20, peak>>20)
	} else {
		t.Logf("16 bodies of tiny items: peak RSS %d → %d MiB", before>>20, peak>>20)
	}

	// Thousands of connections that send part of their headers: each one
	// served costs memory before its request is checked, so only
	// http.max_connections (256) are; the others wait to be accepted.
	before = e.hwm()
	var conns []net.Conn
	for range 4000 {
		c, err := net.DialTimeout("tcp", base, time.Second)
		if err != nil {
			break
		}
		conns = append(conns, c)
		c.Write([]byte("POST /v2/models/person/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
	}
	if len(conns) < 2000 {
		t.Errorf("opened %d connections; the test needs 2000 (raise the open files limit)", len(conns))
	}
	time.Sleep(time.Second)
	held := e.hwm()
	for _, c := range conns {
		c.Close()
	}
	if held-before > 24<<20 {
		t.Errorf("peak RSS rose from %d to %d MiB with %d connections sending headers slowly; want under 24 MiB more", before>>20, held>>20, len(conns))
	}
	t.Logf("%d connections sending headers slowly: peak RSS %d → %d MiB", len(conns), before>>20, held>>20)
	e.wantServed("after the connections", "1")

	// Keep-alive connections that each sent one request and then sit
	// idle, more of them than http.max_connections: a new client is
	// still served within seconds (the connection idle longest makes
	// room), not after the two-minute idle timeout.
	var idle []net.Conn
	for range 300 {
		c, err := net.DialTimeout("tcp", base, time.Second)
		if err != nil {
			break
		}
		idle = append(idle, c)
		c.Write([]byte("GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
	}
	for i, c := range idle[:200] { // the first 200 are accepted at once; read their answers
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Fatalf("idle keep-alive connection %d: %v", i, err)
		} else {
			resp.Body.Close()
		}
	}
	fresh := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := fresh.Get("http://" + base + "/v2/health/live"); err != nil {
		t.Errorf("a new client with %d keep-alive connections open: %v; want it served", len(idle), err)
	} else {
		resp.Body.Close()
	}
	for _, c := range idle {
		c.Close()
	}

	// A 64 MB message on the device's command topic is dropped unread.
	before = e.hwm()
	huge := make([]byte, 64<<20)
	must(t, e.op.Publish(context.Background(), fleet.CommandTopic(device, fleet.OpRollback, "huge"), huge, 1, false))
	e.publishCommand(fleet.OpPing, "after-huge", nil)
	testenv.WaitFor(t, "the oversize message to be logged", 30*time.Second, func() bool {
		return strings.Contains(e.log.String(), "above the size limit")
	})
	if after := e.hwm(); after-before > 32<<20 {
		t.Errorf("peak RSS rose from %d to %d MiB with a 64 MB MQTT message; want under 32 MiB more", before>>20, after>>20)
	}
	e.wantServed("after the attacks", "1")
}
