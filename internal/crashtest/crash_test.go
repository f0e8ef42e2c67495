package crashtest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/fleettest"
	"github.com/edged-dev/edged/fleet/outbox"
	"github.com/edged-dev/edged/internal/mosquittotest"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/sign/signtest"
	"github.com/edged-dev/edged/ota/store"
	"github.com/edged-dev/edged/ota/transfer"
)

var (
	iterations = flag.Int("crash.iterations", 20, "kill-and-restart iterations")
	seedFlag   = flag.Uint64("crash.seed", 0, "RNG seed of the kill delays and requests; 0 = from the clock (logged)")
	maxDelay   = flag.Duration("crash.max-delay", 3*time.Second, "longest run before the SIGKILL")
)

const device = "crash"

// killTargets are the deploy states after which a kill may be aimed.
var killTargets = []string{"downloading", "verified", "staged", "active"}

// ota models: each iteration deploys a new version of one of them, the
// big one (3.6 MB, killed mid-transfer) every other time.
var otaModels = []struct{ name, config string }{
	{"big", "mobilenet_v1_0.25_128_quant.tflite"},
	{"small", "hello_world_int8.tflite"},
}

// payloads deployed to each ota model in turn.
var deployFiles = map[string][]string{
	"big":   {"mobilenet_v2_1.0_224_quant.tflite", "mobilenet_v1_0.25_128_quant.tflite"},
	"small": {"hello_world_float.tflite", "hello_world_int8.tflite"},
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds edged and kills it repeatedly")
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		goleak.VerifyNone(t, ignore)
	})
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -crash.seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	root, _ := filepath.Abs("../..")
	models := filepath.Join(root, "testdata", "models")
	bin := testenv.Build(t, t.TempDir(), "./cmd/edged")

	brokerAddr := startBroker(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")

	// Keys.
	keys := signtest.New(t)
	signing := keys.Model
	keys.WriteRoot(t, dir)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, _ := fleettest.Connect(t, fleet.Options{Broker: "tcp://" + brokerAddr, MaxBackoff: time.Second})
	rec := newRecorder()
	for _, f := range []string{fleet.EventsTopic("+"), fleet.DriftTopic("+")} {
		must(t, c.Subscribe(ctx, f, 1, rec.handle))
	}
	// The deploy statuses say where in a deployment each kill fell.
	var stMu sync.Mutex
	statuses := map[string]string{}
	must(t, c.Subscribe(ctx, fleet.Prefix+"/dev/+/cmd/"+fleet.OpDeploy+"/+/status", 1, func(topic string, p []byte) {
		tp, err := fleet.ParseTopic(topic)
		var st fleet.CommandStatus
		if err != nil || len(p) == 0 || fleet.Decode(p, &st) != nil {
			return
		}
		stMu.Lock()
		statuses[tp.CmdID] = st.State
		stMu.Unlock()
	}))
	killedIn := map[string]int{}
	var inferOK, inferAll int
	// Blobs are content-addressed: publish each once, retained.
	published := map[string]bool{}
	for _, files := range deployFiles {
		for _, f := range files {
			if published[f] {
				continue
			}
			published[f] = true
			data, err := os.ReadFile(filepath.Join(models, f))
			must(t, err)
			if _, err := transfer.Publish(ctx, c, bytes.NewReader(data), int64(len(data)), nil); err != nil {
				t.Fatalf("transfer.Publish(%s): %v", f, err)
			}
		}
	}

	listen := testenv.FreeAddr(t)
	writeConfig := func(withSource bool) string {
		var b strings.Builder
		fmt.Fprintf(&b, `version: 1
state_dir: %s
device: {id: %s}
http: {listen: %q}
fleet: {broker: "tcp://%s", min_backoff: 50ms, max_backoff: 500ms}
telemetry: {interval: 1h}
ota: {root_key: %s}
drift:
  window: {max_samples: 20, min_samples: 20}
models:
  - name: iris
    path: %s
    cache: {enabled: true, max_entries: 200}
    drift: {profile: %s}
`, state, device, listen, brokerAddr, filepath.Join(dir, "root.pub"),
			filepath.Join(models, "iris.tflite"), filepath.Join(root, "examples", "iris_noise.profile.json"))
		for _, m := range otaModels {
			fmt.Fprintf(&b, "  - {name: %s, version: \"1\", path: %s}\n", m.name, filepath.Join(models, m.config))
		}
		if withSource {
			b.WriteString("sources:\n  - {type: synthetic, model: iris, pattern: noise, interval: 3ms, shift: {after: 200, mean: 0.7}}\n")
		}
		p := filepath.Join(dir, "edged.yaml")
		must(t, os.WriteFile(p, []byte(b.String()), 0o644))
		return p
	}
	base := "http://" + listen
	cfg := writeConfig(true)

	var lastCmd string
	version := uint64(1)
	var perIter []time.Duration
	for it := 0; it < *iterations; it++ {
		start := time.Now()
		// A new version of one model, its command retained before the start.
		m := otaModels[it%2]
		files := deployFiles[m.name]
		file := files[(it/2)%len(files)]
		version++
		if lastCmd != "" {
			must(t, c.Publish(ctx, lastCmd, nil, 1, true))
		}
		lastCmd = deploy(ctx, t, c, signing, filepath.Join(dir, "bundles"), m.name, version, filepath.Join(models, file))

		// Half the kills at a uniformly random time, half a few
		// milliseconds after the deploy reached a chosen state, so that
		// each step of a deployment is hit.
		delay := time.Duration(rng.Int64N(int64(*maxDelay)))
		target := ""
		if rng.IntN(2) == 0 {
			target = killTargets[rng.IntN(len(killTargets))]
			delay = time.Duration(rng.Int64N(int64(30 * time.Millisecond)))
		}
		t.Logf("iteration %d: deploy %s v%d (%s), SIGKILL %v after %q", it, m.name, version, file, delay, cmp.Or(target, "the start"))
		e := startEdged(t, bin, cfg)
		stopReq := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		var ok, all int
		go func() { defer wg.Done(); ok, all = inferLoop(base, rand.New(rand.NewPCG(seed, uint64(it)+1)), stopReq) }()
		if target != "" {
			id := path.Base(lastCmd)
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				stMu.Lock()
				st := statuses[id]
				stMu.Unlock()
				if st == target || st == "active" || st == "rolled_back" || st == fleet.StatusFailed || st == fleet.StatusRejected {
					break
				}
			}
		}
		time.Sleep(delay)
		e.kill()
		close(stopReq)
		wg.Wait()
		inferOK, inferAll = inferOK+ok, inferAll+all
		stMu.Lock()
		phase := statuses[path.Base(lastCmd)]
		stMu.Unlock()
		if phase == "" {
			phase = "not started"
		}
		killedIn[phase]++
		t.Logf("iteration %d: killed with the deploy %s; %d of %d inferences answered 200", it, phase, ok, all)

		if problems := checkOffline(state, models, otaModels); len(problems) > 0 {
			t.Fatalf("iteration %d (seed %d, delay %v): after SIGKILL:\n  %s\nedged log:\n%s", it, seed, delay,
				strings.Join(problems, "\n  "), e.log.String())
		}
		// Restart and check it becomes ready serving a verified version.
		e = startEdged(t, bin, cfg)
		if err := waitReady(base, 60*time.Second); err != nil {
			e.kill()
			t.Fatalf("iteration %d (seed %d, delay %v): restart: %v\nedged log:\n%s", it, seed, delay, err, e.log.String())
		}
		for _, om := range otaModels {
			if v, err := served(base, om.name); err != nil || v == "" {
				e.kill()
				t.Fatalf("iteration %d: restart: GET /v2/models/%s = %q, %v; want a version\n%s", it, om.name, v, err, e.log.String())
			}
		}
		e.kill()
		if problems := checkOffline(state, models, otaModels); len(problems) > 0 {
			t.Fatalf("iteration %d (seed %d): after the restart:\n  %s", it, seed, strings.Join(problems, "\n  "))
		}
		if errs := rec.errors(); len(errs) > 0 {
			t.Fatalf("iteration %d (seed %d, delay %v): event sequence:\n  %s", it, seed, delay, strings.Join(errs, "\n  "))
		}
		perIter = append(perIter, time.Since(start))
	}
	if lastCmd != "" {
		must(t, c.Publish(ctx, lastCmd, nil, 1, true))
	}

	// A clean run without the source drains the outbox.
	e := startEdged(t, bin, writeConfig(false))
	if err := waitReady(base, 60*time.Second); err != nil {
		e.kill()
		t.Fatalf("final run: %v\n%s", err, e.log.String())
	}
	for quiet := rec.count(); ; {
		time.Sleep(2 * time.Second)
		n := rec.count()
		if n == quiet {
			break
		}
		quiet = n
	}
	e.stop(t)
	ob, err := outbox.Open(filepath.Join(state, "outbox.db"), nil)
	must(t, err)
	pending := ob.Pending()
	ob.Close()
	if pending != 0 {
		t.Errorf("outbox holds %d messages after a clean run that drained it; want 0", pending)
	}
	if errs := rec.errors(); len(errs) > 0 {
		t.Fatalf("event sequence:\n  %s", strings.Join(errs, "\n  "))
	}
	first, last, missing := rec.gaps()
	if len(missing) > 0 {
		t.Errorf("seq %d..%d: %d never received (lost after an acknowledgement?): first %v", first, last, len(missing), missing[:min(10, len(missing))])
	}
	var dbs []string
	filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".db") {
			rel, _ := filepath.Rel(state, p)
			dbs = append(dbs, rel)
		}
		return nil
	})
	t.Logf("bbolt files checked after every kill: %v", dbs)
	var total time.Duration
	for _, d := range perIter {
		total += d
	}
	if len(perIter) > 0 {
		t.Logf("%d iterations, %v each on average; %d messages (seq %d..%d), %d duplicates; inferences %d of %d answered 200; kills by deploy state: %v",
			len(perIter), (total / time.Duration(len(perIter))).Round(time.Millisecond), rec.count(), first, last, rec.dups,
			inferOK, inferAll, killedIn)
	}
}

// deploy writes a signed bundle and publishes its retained deploy command;
// it returns the command topic.
func deploy(ctx context.Context, t *testing.T, c *fleet.Client, key *sign.SigningKey, dir, name string, v uint64, model string) string {
	t.Helper()
	data, err := os.ReadFile(model)
	must(t, err)
	out := filepath.Join(dir, fmt.Sprintf("%s-v%d", name, v))
	b, err := bundle.Write(out, bundle.Spec{Name: name, Version: v, Models: []bundle.Model{{Variant: bundle.VariantCPU, Data: data}}}, key)
	if err != nil {
		t.Fatalf("bundle.Write %s v%d: %v", name, v, err)
	}
	os.RemoveAll(out) // the blobs are on the broker already
	id := fmt.Sprintf("%s-v%d", name, v)
	cmd := fleet.Command{Op: fleet.OpDeploy, ID: id, Payload: json.RawMessage(b.Raw), Issued: time.Now().UTC()}
	p, err := fleet.Encode(&cmd)
	must(t, err)
	topic := fleet.CommandTopic(device, fleet.OpDeploy, id)
	must(t, c.Publish(ctx, topic, p, 1, true))
	return topic
}

// checkOffline checks what a killed edged left in its state directory.
func checkOffline(state, models string, oms []struct{ name, config string }) []string {
	var problems []string
	filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".db") {
			return nil
		}
		if err := checkBolt(path); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", path, err))
		}
		return nil
	})
	sdir := filepath.Join(state, "models")
	if _, err := os.Stat(filepath.Join(sdir, "state.db")); err != nil {
		return problems // no deployment took place yet
	}
	st, err := store.Open(sdir, &store.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return append(problems, fmt.Sprintf("store.Open: %v", err))
	}
	defer st.Close()
	for _, om := range oms {
		m, ok, err := st.Model(om.name)
		if err != nil {
			problems = append(problems, fmt.Sprintf("store model %s: %v", om.name, err))
			continue
		}
		if !ok {
			continue
		}
		for _, v := range []uint64{m.Active, m.Previous, m.Staged} {
			if v == 0 {
				continue
			}
			if err := checkVersion(st, om.name, v, filepath.Join(models, om.config)); err != nil {
				problems = append(problems, fmt.Sprintf("store model %s (active %d, previous %d, staged %d): version %d: %v",
					om.name, m.Active, m.Previous, m.Staged, v, err))
			}
		}
	}
	return problems
}

// checkBolt opens a bbolt file read-only and runs bbolt's consistency check.
func checkBolt(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// checkVersion: the version's model file is complete and matches its
// manifest's cpu blob (a version adopted from the config has no manifest
// and must equal the config's file).
func checkVersion(st *store.Store, name string, v uint64, configFile string) error {
	data, err := os.ReadFile(st.Path(name, v, "model.tflite"))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	raw, err := os.ReadFile(st.Path(name, v, "manifest.json"))
	if errors.Is(err, fs.ErrNotExist) {
		want, err := os.ReadFile(configFile)
		if err != nil {
			return err
		}
		if !bytes.Equal(data, want) {
			return fmt.Errorf("model.tflite without manifest.json: %d bytes sha256 %s; want the config's %s (%d bytes)", len(data), got, configFile, len(want))
		}
		return nil
	}
	if err != nil {
		return err
	}
	var m sign.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("manifest.json: %w", err)
	}
	for _, b := range m.Blobs {
		if b.Variant == bundle.VariantCPU {
			if b.SHA256 != got || b.Size != int64(len(data)) {
				return fmt.Errorf("model.tflite: %d bytes sha256 %s; manifest wants %d bytes sha256 %s", len(data), got, b.Size, b.SHA256)
			}
			return nil
		}
	}
	return errors.New("manifest.json has no cpu blob")
}

// recorder checks the outbox sequence as a receiver sees it.
type recorder struct {
	mu   sync.Mutex
	seen map[uint64][]byte
	// bodies maps a topic and payload without its seq to the seq it came
	// with: the same message under a new seq is a duplicate the receiver
	// cannot detect.
	bodies map[string]uint64
	last   uint64
	dups   int
	errs   []string
}

func newRecorder() *recorder {
	return &recorder{seen: map[uint64][]byte{}, bodies: map[string]uint64{}}
}

func (r *recorder) handle(topic string, p []byte) {
	var env struct {
		Seq uint64 `json:"seq"`
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := json.Unmarshal(p, &env); err != nil || env.Seq == 0 {
		r.errs = append(r.errs, fmt.Sprintf("%s: payload without a seq: %.200s", topic, p))
		return
	}
	key := append([]byte(topic+"\x00"), p...)
	if old, ok := r.seen[env.Seq]; ok {
		r.dups++
		if !bytes.Equal(old, key) {
			r.errs = append(r.errs, fmt.Sprintf("seq %d delivered twice with different content:\n    %.300s\n    %.300s", env.Seq, old, key))
		}
		return
	}
	if env.Seq < r.last {
		r.errs = append(r.errs, fmt.Sprintf("seq %d on %s after %d, and never received before", env.Seq, topic, r.last))
	}
	// The outbox sends {"seq":N,REST; REST identifies the message.
	if _, rest, ok := bytes.Cut(p, []byte(",")); ok {
		body := topic + "\x00" + string(rest)
		if old, ok := r.bodies[body]; ok {
			r.errs = append(r.errs, fmt.Sprintf("%s: the same message under seq %d and %d: %.200s", topic, old, env.Seq, p))
		}
		r.bodies[body] = env.Seq
	}
	r.seen[env.Seq] = key
	r.last = max(r.last, env.Seq)
}

func (r *recorder) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) gaps() (first, last uint64, missing []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.seen {
		if first == 0 || s < first {
			first = s
		}
		last = max(last, s)
	}
	for s := first; s != 0 && s <= last && len(missing) < 1000; s++ {
		if _, ok := r.seen[s]; !ok {
			missing = append(missing, s)
		}
	}
	return first, last, missing
}

// inferLoop sends cacheable iris requests until stop is closed and counts
// them.
func inferLoop(base string, rng *rand.Rand, stop <-chan struct{}) (ok, all int) {
	cl := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-stop:
			return ok, all
		default:
		}
		x := make([]float32, 4)
		for i := range x {
			x[i] = float32(rng.IntN(4)) / 4 // few distinct inputs: hits and misses
		}
		body, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "dense_input", "shape": []int{1, 4}, "datatype": "FP32", "data": x}}})
		resp, err := cl.Post(base+"/v2/models/iris/infer", "application/json", bytes.NewReader(body))
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		all++
		if resp.StatusCode == http.StatusOK {
			ok++
		}
	}
}

func waitReady(base string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/v2/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("GET /v2/health/ready not 200 within %v (last: %s)", d, last)
}

func served(base, name string) (string, error) {
	resp, err := http.Get(base + "/v2/models/" + name)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var md struct{ Versions []string }
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		return "", err
	}
	if len(md.Versions) != 1 {
		return "", fmt.Errorf("versions %q; want one", md.Versions)
	}
	if _, err := strconv.ParseUint(md.Versions[0], 10, 64); err != nil {
		return "", fmt.Errorf("version %q: %w", md.Versions[0], err)
	}
	return md.Versions[0], nil
}

type edged struct {
	cmd    *exec.Cmd
	log    *testenv.SyncBuffer
	exited chan error
}

func startEdged(t *testing.T, bin, cfg string) *edged {
	t.Helper()
	e := &edged{cmd: exec.Command(bin, "-config", cfg), log: &testenv.SyncBuffer{}, exited: make(chan error, 1)}
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	must(t, e.cmd.Start())
	go func() { e.exited <- e.cmd.Wait() }()
	return e
}

func (e *edged) kill() {
	e.cmd.Process.Signal(syscall.SIGKILL)
	<-e.exited
}

func (e *edged) stop(t *testing.T) {
	e.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-e.exited:
		if err != nil {
			t.Errorf("edged exited with %v after SIGINT\n%s", err, e.log.String())
		}
	case <-time.After(20 * time.Second):
		e.kill()
		t.Errorf("edged did not stop within 20s of SIGINT")
	}
}

func startBroker(t *testing.T) string {
	t.Helper()
	return mosquittotest.Start(t, &mosquittotest.Options{Conf: []string{"max_queued_messages 0", "max_inflight_messages 0"}}).Addr()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
