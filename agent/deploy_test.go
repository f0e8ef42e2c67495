package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/deploy"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/fleettest"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/sign/signtest"
	"github.com/edged-dev/edged/ota/store"
	"github.com/edged-dev/edged/ota/transfer"
	"github.com/edged-dev/edged/runtime/tensor"
)

const otaDevice = "dev1"

// otaEnv is a broker, an operator's client and a device's config with a
// root key, as a deployed device has.
type otaEnv struct {
	t       *testing.T
	broker  string
	keys    *signtest.Keys
	cfgPath string
	op      *fleet.Client
	dev     *fleettest.Device // what the operator has seen of the device
}

func modelPath(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs("../testdata/models/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newOTAEnv(t *testing.T) *otaEnv {
	t.Helper()
	e := &otaEnv{t: t, broker: startBroker(t)}
	e.keys = signtest.New(t)
	dir := t.TempDir()
	e.keys.WriteRoot(t, dir)
	doc := fmt.Sprintf(`
version: 1
state_dir: %s
device: {id: %s}
http: {listen: "127.0.0.1:0"}
models:
  - name: person
    version: "1"
    path: %s
fleet:
  broker: tcp://%s
  min_backoff: 50ms
  max_backoff: 500ms
telemetry: {interval: 1h}
ota:
  root_key: root.pub
  smoke_timeout: 20s
`, filepath.Join(dir, "state"), otaDevice, modelPath(t, "person_detect.tflite"), e.broker)
	e.cfgPath = filepath.Join(dir, "edged.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}

	e.op, _ = fleettest.Connect(t, fleet.Options{Broker: "tcp://" + e.broker})
	e.dev = fleettest.Watch(t, e.op, otaDevice)
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runningAgent is an agent whose Run goroutine the test controls.
type runningAgent struct {
	a    *Agent
	url  string
	stop func()
}

func (e *otaEnv) start() *runningAgent {
	e.t.Helper()
	cfg, err := config.Load(e.cfgPath)
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.run(a)
}

func (e *otaEnv) run(a *Agent) *runningAgent {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("Run = %v after cancel; want nil", err)
				}
			case <-time.After(20 * time.Second):
				e.t.Error("Run did not return 20s after cancel")
			}
		})
	}
	e.t.Cleanup(stop)
	addr, err := a.Addr(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	// Wait for the device's birth, so that it receives what comes next.
	testenv.WaitFor(e.t, "device connected", 10*time.Second, func() bool { return a.Link().Client().Stats().Connected })
	return &runningAgent{a: a, url: "http://" + addr.String(), stop: stop}
}

// bundleOf writes a signed bundle of one cpu model.
func (e *otaEnv) bundleOf(version uint64, model string, mod func(*bundle.Spec)) *bundle.Bundle {
	e.t.Helper()
	data, err := os.ReadFile(modelPath(e.t, model))
	if err != nil {
		e.t.Fatal(err)
	}
	spec := bundle.Spec{Name: "person", Version: version, Models: []bundle.Model{{Variant: bundle.VariantCPU, Data: data}}}
	if mod != nil {
		mod(&spec)
	}
	b, err := bundle.Write(filepath.Join(e.t.TempDir(), "b"), spec, e.keys.Model)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// publishBlob publishes data as retained chunks, as edgectl push does.
func (e *otaEnv) publishBlob(data []byte, chunk int) fleet.BlobMeta {
	e.t.Helper()
	meta, err := transfer.Publish(context.Background(), e.op, bytes.NewReader(data), int64(len(data)), &transfer.PublishOptions{ChunkSize: chunk})
	if err != nil {
		e.t.Fatal(err)
	}
	return meta
}

// command publishes a deploy command carrying raw, as edgectl deploy
// does: retained, expiring with the manifest.
func (e *otaEnv) command(op, id string, payload []byte, expires time.Time) {
	e.t.Helper()
	now := time.Now().UTC()
	cmd := fleet.Command{Op: op, ID: id, Payload: json.RawMessage(payload), Issued: now}
	if expires.After(now) {
		cmd.Expires = expires
	}
	b, err := fleet.Encode(&cmd)
	if err != nil {
		e.t.Fatal(err)
	}
	must(e.t, e.op.Publish(context.Background(), fleet.CommandTopic(otaDevice, op, id), b, 1, true))
}

// signedCommand is an operator command for the env's device carrying
// payload, valid for an hour, signed with the command key (after edit).
func (e *otaEnv) signedCommand(op, id string, payload any, edit func(*sign.Command)) []byte {
	e.t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	c := &sign.Command{V: 1, Op: op, ID: id, Device: otaDevice, Issued: now, Expires: now.Add(time.Hour), Payload: raw}
	if edit != nil {
		edit(c)
	}
	if err := sign.SignCommand(c, e.keys.Command); err != nil {
		e.t.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// operator publishes a signed operator command, as edgectl does.
func (e *otaEnv) operator(op, id string, payload any) {
	e.t.Helper()
	e.command(op, id, e.signedCommand(op, id, payload, nil), time.Now().Add(time.Hour))
}

// rollbackOf is a rollback payload of model person.
func rollbackOf(from, to uint64) sign.Rollback {
	return sign.Rollback{V: sign.CommandProtocol, Model: "person", From: from, To: to}
}

// targetOf is a promote, hold or resume payload of model person.
func targetOf(version uint64) sign.Target {
	return sign.Target{V: sign.CommandProtocol, Model: "person", Version: version}
}

// storeDir is the device's model store.
func (e *otaEnv) storeDir() string {
	e.t.Helper()
	cfg, err := config.Load(e.cfgPath)
	must(e.t, err)
	return cfg.OTA.StoreDir
}

// crashed makes the store in dir look as if the agent that stopped last
// had crashed: the next start counts towards a crash loop.
func crashed(t *testing.T, dir string) {
	t.Helper()
	s, err := store.Open(dir, nil)
	must(t, err)
	must(t, s.RecordStart()) // a run that starts and never reaches RecordStop
	must(t, s.Close())
}

// clear empties a command and its status, as edgectl deploy --wait does
// when it is done.
func (e *otaEnv) clear(op, id string) {
	e.t.Helper()
	must(e.t, e.op.Publish(context.Background(), fleet.CommandTopic(otaDevice, op, id), nil, 1, true))
	must(e.t, e.op.Publish(context.Background(), fleet.StatusTopic(otaDevice, op, id), nil, 1, true))
}

// deploy pushes a bundle's blobs and its deploy command.
func (e *otaEnv) deploy(id string, b *bundle.Bundle) {
	e.t.Helper()
	for _, blob := range b.Manifest.Blobs {
		data, err := os.ReadFile(b.BlobPath(blob))
		if err != nil {
			e.t.Fatal(err)
		}
		e.publishBlob(data, transfer.DefaultChunkSize)
	}
	e.command(fleet.OpDeploy, id, b.Raw, b.Manifest.Expires)
}

var finalStates = []string{statusActive, fleet.StatusDone, statusRolledBack, fleet.StatusFailed, fleet.StatusRejected, fleet.StatusExpired, deploy.StatusSkipped}

// final waits for a command's final status and returns every status seen.
func (e *otaEnv) final(id string) []fleet.CommandStatus {
	e.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		sts := e.dev.Statuses(id)
		if n := len(sts); n > 0 && isFinal(sts[n-1].State) {
			return sts
		}
		select {
		case <-e.dev.Changed():
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			e.t.Fatalf("command %s: no final status within 30s; seen %+v", id, sts)
		}
	}
}

func isFinal(s string) bool {
	for _, f := range finalStates {
		if s == f {
			return true
		}
	}
	return false
}

// event waits for the update event of a command.
func (e *otaEnv) event(id string) map[string]any {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for _, ev := range e.dev.Events() {
			var d map[string]any
			if ev.Kind == "update" && json.Unmarshal(ev.Detail, &d) == nil && d["cmd"] == id {
				return d
			}
		}
		select {
		case <-e.dev.Changed():
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			e.t.Fatalf("command %s: no update event within 10s", id)
		}
	}
}

func states(sts []fleet.CommandStatus) []string {
	var out []string
	for _, s := range sts {
		if len(out) == 0 || out[len(out)-1] != s.State {
			out = append(out, s.State)
		}
	}
	return out
}

// servedVersion is the version GET /v2/models/person reports.
func servedVersion(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/v2/models/person")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md struct {
		Versions []string `json:"versions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil || resp.StatusCode != 200 || len(md.Versions) != 1 {
		t.Fatalf("GET /v2/models/person: status %d, %+v, %v; want 200 and one version", resp.StatusCode, md, err)
	}
	return md.Versions[0]
}

// checkPerson runs the golden "person" case of person_detect and compares
// with the oracle's output (bit-identical for int8).
func checkPerson(t *testing.T, a *Agent) {
	t.Helper()
	in, err := os.ReadFile("../testdata/golden/person_detect/person/input_0.bin")
	must(t, err)
	want, err := os.ReadFile("../testdata/golden/person_detect/person/output_0.bin")
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := a.Infer(ctx, "person", "", []infer.Tensor{{DType: tensor.Int8, Data: in}})
	if err != nil {
		t.Fatalf("Infer(person) = %v", err)
	}
	if !bytes.Equal(out[0].Data, want) {
		t.Errorf("Infer(person) output 0 = %v; want %v (oracle)", out[0].Data, want)
	}
}

// failingStore fails every Stage, as a full disk would.
type failingStore struct{ deploy.Store }

func (failingStore) Stage(name string, version uint64, _ []store.File) error {
	return fmt.Errorf("store.Stage %s version %d: write model.tflite: %w", name, version, errors.New("no space left on device"))
}

// TestDeploy is the device-side story on one agent: a deploy that
// becomes active, each kind of bad deploy refused with the old version
// serving, idempotent redelivery, rollback, and a restart that serves
// the deployed version from the store.
func TestDeploy(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	ra := e.start()
	if v := servedVersion(t, ra.url); v != "1" {
		t.Fatalf("before any deploy: version %q; want 1 (the config's)", v)
	}

	// v2 with labels: downloading -> verified -> staged -> active.
	b2 := e.bundleOf(2, "person_detect.tflite", func(s *bundle.Spec) { s.Labels = []string{"unused", "person", "not_person"} })
	e.deploy("v2", b2)
	sts := e.final("v2")
	if got, want := strings.Join(states(sts), ","), "downloading,verified,staged,active"; got != want {
		t.Errorf("deploy v2 states %s; want %s", got, want)
	}
	if v := servedVersion(t, ra.url); v != "2" {
		t.Fatalf("after deploy v2: version %q; want 2", v)
	}
	testenv.WaitFor(t, "the state to show version 2 active", 10*time.Second, func() bool {
		st := e.dev.State()
		return len(st.Models) == 1 && st.Models[0].Active == "2"
	})
	if mi, _ := ra.a.Model("person", ""); len(mi.Labels) != 3 || mi.Labels[1] != "person" {
		t.Errorf("labels %q; want the bundle's [unused person not_person]", mi.Labels)
	}
	checkPerson(t, ra.a)
	// The config's file was kept as the version to roll back to.
	if m, _, _ := ra.a.ota.StoredModel("person"); m.Active != 2 || m.Previous != 1 {
		t.Errorf("store after v2: active %d, previous %d; want 2 and 1 (the config's)", m.Active, m.Previous)
	}
	if ev := e.event("v2"); ev["state"] != statusActive || ev["version"] != 2.0 || ev["from"] != 1.0 {
		t.Errorf("event of v2 = %v; want state active, version 2, from 1", ev)
	}
	checkOTA(t, ra, fleet.ModelOTA{Name: "person", Version: "2", Previous: "1", Op: fleet.OpDeploy, Outcome: statusActive}, 0)
	e.clear(fleet.OpDeploy, "v2")

	hello, err := os.ReadFile(modelPath(t, "hello_world_int8.tflite"))
	must(t, err)
	garbage := bytes.Repeat([]byte("not a tflite model "), 400)
	tests := []struct {
		name      string
		payload   func() ([]byte, time.Time)
		fail      bool // the store fails writes
		wantState string
		wantCheck string
	}{
		{
			// The manifest names hello_world's sha256, but the chunks
			// published under it are other bytes.
			name: "tampered blob", wantState: fleet.StatusFailed,
			payload: func() ([]byte, time.Time) {
				m := e.signed(3, hello)
				publishUnder(e, m.Blobs[0].SHA256, garbage[:len(hello)])
				return encode(t, m), m.Expires
			},
		},
		{
			name: "tampered manifest", wantState: fleet.StatusRejected, wantCheck: "bad_signature",
			payload: func() ([]byte, time.Time) {
				b := e.bundleOf(3, "person_detect.tflite", nil)
				return bytes.Replace(b.Raw, []byte(`"version": 3`), []byte(`"version": 4`), 1), b.Manifest.Expires
			},
		},
		{
			name: "unsigned", wantState: fleet.StatusRejected, wantCheck: "unsigned",
			payload: func() ([]byte, time.Time) {
				m := e.bundleOf(3, "person_detect.tflite", nil).Manifest
				m.Signatures = nil
				return encode(t, m), m.Expires
			},
		},
		{
			name: "expired", wantState: fleet.StatusRejected, wantCheck: "expired",
			payload: func() ([]byte, time.Time) {
				b := e.bundleOf(3, "person_detect.tflite", func(s *bundle.Spec) {
					s.Created, s.Expires = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
				})
				return b.Raw, b.Manifest.Expires
			},
		},
		{
			name: "replayed", wantState: fleet.StatusRejected, wantCheck: "replayed",
			payload: func() ([]byte, time.Time) {
				b := e.bundleOf(1, "person_detect.tflite", nil)
				return b.Raw, b.Manifest.Expires
			},
		},
		{
			name: "fails to load", wantState: statusRolledBack,
			payload: func() ([]byte, time.Time) {
				m := e.signed(3, garbage)
				e.publishBlob(garbage, transfer.DefaultChunkSize)
				return encode(t, m), m.Expires
			},
		},
		{
			name: "disk full", wantState: fleet.StatusFailed, fail: true,
			payload: func() ([]byte, time.Time) {
				b := e.bundleOf(4, "person_detect.tflite", nil)
				e.publishBlob(mustRead(t, b.BlobPath(b.Manifest.Blobs[0])), transfer.DefaultChunkSize)
				return b.Raw, b.Manifest.Expires
			},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("bad%d", i)
			payload, expires := tc.payload()
			if tc.fail {
				restore := ra.a.ota.WrapStore(func(st deploy.Store) deploy.Store { return failingStore{st} })
				defer restore()
			}
			e.command(fleet.OpDeploy, id, payload, expires)
			sts := e.final(id)
			last := sts[len(sts)-1]
			t.Logf("%s: %s", last.State, last.Reason)
			if last.State != tc.wantState {
				t.Errorf("deploy(%s) state %s (%s); want %s", tc.name, last.State, last.Reason, tc.wantState)
			}
			ev := e.event(id)
			if ev["state"] != tc.wantState || (tc.wantCheck != "" && ev["check"] != tc.wantCheck) {
				t.Errorf("deploy(%s) event %v; want state %s, check %q", tc.name, ev, tc.wantState, tc.wantCheck)
			}
			if v := servedVersion(t, ra.url); v != "2" {
				t.Errorf("after deploy(%s): version %q; want 2 still serving", tc.name, v)
			}
			e.clear(fleet.OpDeploy, id)
		})
	}
	checkPerson(t, ra.a)
	if m, _, _ := ra.a.ota.StoredModel("person"); m.Active != 2 {
		t.Errorf("store: active %d; want 2", m.Active)
	}

	// A retained command delivered again is not deployed again: its
	// recorded status is repeated (not "rejected" as a replay).
	e.dev.Forget("v2")
	e.command(fleet.OpDeploy, "v2", b2.Raw, b2.Manifest.Expires)
	if sts := e.final("v2"); len(sts) != 1 || sts[0].State != statusActive {
		t.Errorf("redelivered v2: statuses %+v; want one, active", sts)
	}
	e.clear(fleet.OpDeploy, "v2")

	// v5 then a rollback command: back to v2.
	e.deploy("v5", e.bundleOf(5, "person_detect.tflite", nil))
	if sts := e.final("v5"); sts[len(sts)-1].State != statusActive {
		t.Fatalf("deploy v5: %+v; want active", sts[len(sts)-1])
	}
	e.clear(fleet.OpDeploy, "v5")
	e.operator(fleet.OpRollback, "rb1", rollbackOf(5, 2))
	if sts := e.final("rb1"); sts[len(sts)-1].State != fleet.StatusDone {
		t.Errorf("rollback: %+v; want done", sts[len(sts)-1])
	}
	if ev := e.event("rb1"); ev["from"] != 5.0 || ev["to"] != 2.0 {
		t.Errorf("rollback event %v; want from 5 to 2", ev)
	}
	if v := servedVersion(t, ra.url); v != "2" {
		t.Errorf("after rollback: version %q; want 2", v)
	}
	// Two rollbacks: the version that failed to load, and rb1; the store
	// keeps no version to return to after a rollback.
	checkOTA(t, ra, fleet.ModelOTA{Name: "person", Version: "2", Op: fleet.OpRollback, Outcome: fleet.StatusDone}, 2)
	// The retained birth follows the change without a reconnection.
	testenv.WaitFor(t, "the state to show version 2 active", 10*time.Second, func() bool {
		st := e.dev.State()
		return len(st.Models) == 1 && st.Models[0].Active == "2" && st.State == fleet.Online
	})
	e.clear(fleet.OpRollback, "rb1")

	// A restart serves the deployed version from the store.
	ra.stop()
	ra = e.start()
	if v := servedVersion(t, ra.url); v != "2" {
		t.Errorf("after restart: version %q; want 2 (from the store)", v)
	}
	checkPerson(t, ra.a)
	ra.stop()
}

// signed returns a manifest for model data signed by the env's key,
// without the runtime check bundle.Write makes.
func (e *otaEnv) signed(version uint64, data []byte) *sign.Manifest {
	e.t.Helper()
	sum := sha256.Sum256(data)
	now := time.Now().UTC().Truncate(time.Second)
	m := &sign.Manifest{V: 1, Kind: sign.KindModel, Name: "person", Version: version, Created: now, Expires: now.Add(time.Hour),
		Blobs: []sign.Blob{{Variant: bundle.VariantCPU, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}}}
	must(e.t, sign.Sign(m, e.keys.Model))
	return m
}

// publishUnder publishes data as the chunks of a blob named sum.
func publishUnder(e *otaEnv, sum string, data []byte) {
	e.t.Helper()
	meta := transfer.Meta(sum, int64(len(data)), transfer.DefaultChunkSize)
	ctx := context.Background()
	for i := 0; i < meta.Count; i++ {
		end := min(len(data), (i+1)*meta.ChunkSize)
		must(e.t, e.op.Publish(ctx, fleet.BlobChunkTopic(sum, i), data[i*meta.ChunkSize:end], 1, true))
	}
	b, err := fleet.Encode(&meta)
	must(e.t, err)
	must(e.t, e.op.Publish(ctx, fleet.BlobMetaTopic(sum), b, 1, true))
}

func encode(t *testing.T, m *sign.Manifest) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	must(t, err)
	return b
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return b
}

// TestDeployResume stops the agent in the middle of a download; started
// again, it takes the retained command again and resumes from what it
// holds.
func TestDeployResume(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	// A larger model than the config's, hence another interface.
	b := e.bundleOf(2, "mobilenet_v1_0.25_128_quant.tflite", func(s *bundle.Spec) { s.InterfaceChange = true })
	blob := b.Manifest.Blobs[0]
	// Small chunks: enough of them to stop in the middle.
	e.publishBlob(mustRead(t, b.BlobPath(blob)), 8<<10)

	cfg, err := config.Load(e.cfgPath)
	must(t, err)
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	must(t, err)
	stopped := make(chan struct{})
	var once sync.Once
	a.ota.OnProgress(func(ctx context.Context, p transfer.Progress) {
		if p.Bytes >= p.Size*4/10 {
			once.Do(func() { close(stopped) })
			// Hold the download until the agent stops.
			<-ctx.Done()
		}
	})
	ra := e.run(a)
	e.command(fleet.OpDeploy, "mnet", b.Raw, b.Manifest.Expires)
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("the download did not reach 40%")
	}
	// The download shows in /metrics; the status answers while the
	// deployment holds the model store.
	if o := a.OTATelemetry(); len(o.Downloads) != 1 || o.Downloads[0].Model != "person" || o.Downloads[0].Version != "2" ||
		o.Downloads[0].Size != blob.Size || o.Downloads[0].Bytes < blob.Size*4/10 || o.Downloads[0].Bytes >= blob.Size {
		t.Errorf("downloads %+v; want person version 2, at least 40%% of %d bytes", o.Downloads, blob.Size)
	}
	if v := metricValue(t, ra.url, `edged_ota_download_size_bytes{model="person",version="2"}`); v != float64(blob.Size) {
		t.Errorf("/metrics: download size of person version 2 = %g; want %d", v, blob.Size)
	}
	if v := metricValue(t, ra.url, `edged_ota_download_bytes{model="person",version="2"}`); v < float64(blob.Size*4/10) {
		t.Errorf("/metrics: bytes held of person version 2 = %g; want at least 40%% of %d", v, blob.Size)
	}
	sc := &http.Client{Timeout: 5 * time.Second}
	if resp, err := sc.Get(ra.url + "/v1/status"); err != nil {
		t.Errorf("GET /v1/status during a download: %v", err)
	} else {
		var st struct {
			OTA *fleet.OTATelemetry `json:"ota"`
		}
		err := json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil || st.OTA == nil || len(st.OTA.Downloads) != 1 || st.OTA.Downloads[0].Model != "person" || st.OTA.Downloads[0].Size != blob.Size {
			t.Errorf("/v1/status during a download: ota %+v, %v; want the download of person (%d bytes)", st.OTA, err, blob.Size)
		}
	}
	ra.stop()
	if o := a.OTATelemetry(); len(o.Downloads) != 0 {
		t.Errorf("after the stop: downloads %+v; want none", o.Downloads)
	}
	if _, err := os.Stat(filepath.Join(cfg.OTA.StoreDir, "downloads", blob.SHA256+".bitmap")); err != nil {
		t.Fatalf("after the stop: %v; want the download's bitmap kept", err)
	}

	a, err = New(cfg, slog.New(slog.DiscardHandler))
	must(t, err)
	var mu sync.Mutex
	var first *transfer.Progress
	a.ota.OnProgress(func(_ context.Context, p transfer.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = &p
		}
	})
	ra = e.run(a)
	sts := e.final("mnet")
	if last := sts[len(sts)-1]; last.State != statusActive {
		t.Fatalf("resumed deploy: %+v; want active", last)
	}
	mu.Lock()
	defer mu.Unlock()
	if first == nil || first.Bytes < blob.Size*3/10 || first.Bytes >= blob.Size {
		t.Errorf("resumed download started with %+v; want at least 30%% of %d bytes held from the first run", first, blob.Size)
	}
	if v := servedVersion(t, ra.url); v != "2" {
		t.Errorf("after the resumed deploy: version %q; want 2", v)
	}
	ra.stop()
}

// TestDeployCorruptStore: a store whose state cannot be read is moved
// aside; the agent serves the config's models and says so.
func TestDeployCorruptStore(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	cfg, err := config.Load(e.cfgPath)
	must(t, err)
	must(t, os.MkdirAll(cfg.OTA.StoreDir, 0o755))
	must(t, os.WriteFile(filepath.Join(cfg.OTA.StoreDir, "state.db"), bytes.Repeat([]byte{0xee}, 8192), 0o600))
	ra := e.start()
	if v := servedVersion(t, ra.url); v != "1" {
		t.Errorf("version %q; want 1 (the config's)", v)
	}
	aside, _ := filepath.Glob(filepath.Join(cfg.OTA.StoreDir, "state.db.corrupt-*"))
	if len(aside) != 1 {
		t.Errorf("files moved aside: %q; want one state.db.corrupt-*", aside)
	}
	testenv.WaitFor(t, "the store's error event", 10*time.Second, func() bool {
		for _, ev := range e.dev.Events() {
			if ev.Kind == "error" && strings.Contains(string(ev.Detail), "state file corrupt") {
				return true
			}
		}
		return false
	})
	ra.stop()
}

// TestDeployCrashLoop: a version promoted and not yet good, with the agent
// starting crash_loop.starts (3) times after crashes within the window, is
// rolled back on the third start; any number of starts after clean stops
// (a systemctl restart) keep it.
func TestDeployCrashLoop(t *testing.T) {
	checkAgentLeaks(t)
	dir := t.TempDir()
	signtest.New(t).WriteRoot(t, dir)
	doc := fmt.Sprintf("version: 1\nstate_dir: %s\ndevice: {id: d}\nfleet: {broker: \"tcp://127.0.0.1:1\"}\nota: {root_key: root.pub}\n", filepath.Join(dir, "state"))
	cfg, err := config.Parse([]byte(doc), dir)
	must(t, err)
	model := mustRead(t, modelPath(t, "person_detect.tflite"))
	s, err := store.Open(cfg.OTA.StoreDir, nil)
	must(t, err)
	must(t, s.RecordStart()) // the run that promotes version 2
	for v := uint64(1); v <= 2; v++ {
		must(t, s.Stage("person", v, []store.File{{Name: fileModel, Data: bytes.NewReader(model)}}))
		_, err := s.Promote("person")
		must(t, err)
		if v == 1 {
			must(t, s.MarkGood("person"))
		}
	}
	must(t, s.RecordStop())
	must(t, s.Close())

	start := func(n int, crash bool, want string) {
		t.Helper()
		if crash {
			crashed(t, cfg.OTA.StoreDir)
		}
		a, err := New(cfg, slog.New(slog.DiscardHandler))
		must(t, err)
		mi, err := a.Model("person", "")
		a.Close() // a clean stop
		if err != nil || mi.Version != want {
			t.Errorf("start %d (crash before: %v): person version %q (%v); want %s", n, crash, mi.Version, err, want)
		}
	}
	for n := 1; n <= 5; n++ {
		start(n, false, "2")
	}
	start(6, true, "2")
	start(7, true, "2")
	start(8, true, "1")
}

// TestDeployProfile: a bundle's drift profile watches the deployed version.
func TestDeployProfile(t *testing.T) {
	checkAgentLeaks(t)
	profile := mustRead(t, irisProfile(t))
	e := newOTAEnv(t)
	ra := e.start()
	if got := ra.a.Drift(); len(got) != 0 {
		t.Fatalf("before the deploy: %d models watched; want 0", len(got))
	}
	e.deploy("iris", e.bundleOf(2, "iris.tflite", func(s *bundle.Spec) { s.Profile, s.InterfaceChange = profile, true }))
	if sts := e.final("iris"); sts[len(sts)-1].State != statusActive {
		t.Fatalf("deploy: %+v; want active", sts[len(sts)-1])
	}
	if got := ra.a.Drift(); len(got) != 1 || got[0].Model != "person" {
		t.Errorf("after the deploy: drift of %+v; want model person watched with the bundle's profile", got)
	}
	ra.stop()
}

// TestDeployInterfaceChange: a version whose inputs or outputs differ in
// type or shape from the version serving is refused, unless its bundle
// says the change is meant.
func TestDeployInterfaceChange(t *testing.T) {
	checkAgentLeaks(t)
	e := newOTAEnv(t)
	ra := e.start()

	// iris takes float32[1,4] and gives float32[1,3]; person_detect takes
	// int8[1,96,96,1] and gives int8[1,2] (tflite inspect of both files).
	e.deploy("iris2", e.bundleOf(2, "iris.tflite", nil))
	sts := e.final("iris2")
	last := sts[len(sts)-1]
	if last.State != fleet.StatusRejected {
		t.Fatalf("deploy of iris over person_detect: %s (%s); want rejected", last.State, last.Reason)
	}
	for _, want := range []string{"float32[1,4]", "float32[1,3]", "int8[1,96,96,1]", "int8[1,2]", "--interface-change"} {
		if !strings.Contains(last.Reason, want) {
			t.Errorf("reason %q does not name %s", last.Reason, want)
		}
	}
	if ev := e.event("iris2"); ev["check"] != "interface" {
		t.Errorf("event %v; want check interface", ev)
	}
	if v := servedVersion(t, ra.url); v != "1" {
		t.Errorf("after the refused deploy: version %q; want 1 still serving", v)
	}
	e.clear(fleet.OpDeploy, "iris2")

	// The same model version 2 (same interface) installs.
	e.deploy("pd2", e.bundleOf(2, "person_detect.tflite", nil))
	if sts := e.final("pd2"); sts[len(sts)-1].State != statusActive {
		t.Fatalf("deploy of person_detect v2: %+v; want active", sts[len(sts)-1])
	}
	e.clear(fleet.OpDeploy, "pd2")

	// Bundled with the change allowed, iris replaces it.
	e.deploy("iris3", e.bundleOf(3, "iris.tflite", func(s *bundle.Spec) { s.InterfaceChange = true }))
	if sts := e.final("iris3"); sts[len(sts)-1].State != statusActive {
		t.Fatalf("deploy of iris with the interface change allowed: %+v; want active", sts[len(sts)-1])
	}
	if v := servedVersion(t, ra.url); v != "3" {
		t.Errorf("after the allowed change: version %q; want 3", v)
	}
	e.clear(fleet.OpDeploy, "iris3")
	ra.stop()
}

// checkOTA checks what the console says of the model store: want (At is
// checked to be within the last minute) and the rollbacks, in the OTA
// telemetry and in /metrics.
func checkOTA(t *testing.T, ra *runningAgent, want fleet.ModelOTA, rollbacks uint64) {
	t.Helper()
	o := ra.a.OTATelemetry()
	if len(o.Models) != 1 || o.Rollbacks != rollbacks {
		t.Fatalf("OTA telemetry %+v; want one model and %d rollbacks", o, rollbacks)
	}
	got := o.Models[0]
	if age := time.Now().Unix() - got.At; age < 0 || age > 60 {
		t.Errorf("last outcome at %d, %d s ago; want within the last minute", got.At, age)
	}
	want.At = got.At
	if got != want {
		t.Errorf("OTA telemetry of the model %+v; want %+v", got, want)
	}
	version, _ := strconv.ParseFloat(want.Version, 64)
	series := map[string]float64{
		`edged_ota_active_version{model="person"}`: version,
		fmt.Sprintf(`edged_ota_last_outcome_timestamp_seconds{model="person",op=%q,outcome=%q}`, want.Op, want.Outcome): float64(got.At),
		`edged_ota_rollbacks_total`: float64(rollbacks),
	}
	if want.Previous != "" {
		previous, _ := strconv.ParseFloat(want.Previous, 64)
		series[`edged_ota_previous_version{model="person"}`] = previous
	} else if m := get(t, ra.url+"/metrics"); strings.Contains(m, "edged_ota_previous_version{") {
		t.Errorf("/metrics has a previous version; want none:\n%s", m)
	}
	for s, v := range series {
		if got := metricValue(t, ra.url, s); got != v {
			t.Errorf("/metrics %s = %g; want %g", s, got, v)
		}
	}
}
