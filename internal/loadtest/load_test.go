package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"

	"github.com/edged-dev/edged/agent"
	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/source"
	"github.com/edged-dev/edged/internal/mosquittotest"
	"github.com/edged-dev/edged/runtime/tflite/tflitetest"
)

var (
	fullLoad     = flag.Bool("load", false, "run the full load test: rate search, 50%/90% runs, overload at 2x, MQTT steps (minutes)")
	soak         = flag.Duration("soak", 0, "run a soak of the real edged at 50% of its sustainable rate for this long, sampling its RSS every 10s")
	soakProfiles = flag.String("soak.profiles", "", "directory for the soak's heap profiles of edged (after the warm-up and at the end)")
)

// mlpSizes is the fully-connected model: 64 inputs, two hidden layers of
// 256, 10 outputs (about 84k multiply-adds).
var mlpSizes = []int{64, 256, 256, 10}

// searchLimit bounds the rate search: the client shares the process and
// the cores with the agent, and past this it measures itself.
const searchLimit = 10000

// target is one model and encoding under load.
type target struct {
	name  string // report label
	model string
	shape []int
	json  bool
	dtype string // "" means INT8
}

func (tg target) body() ([]byte, map[string]string) {
	n := 1
	for _, d := range tg.shape {
		n *= d
	}
	raw := make([]byte, n)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	dt := tg.dtype
	if dt == "" {
		dt = "INT8"
	}
	if tg.json {
		vals := make([]string, n)
		for i, b := range raw {
			if dt == "UINT8" {
				vals[i] = strconv.Itoa(int(b))
			} else {
				vals[i] = strconv.Itoa(int(int8(b)))
			}
		}
		shape, _ := json.Marshal(tg.shape)
		doc := fmt.Sprintf(`{"inputs":[{"name":"input","shape":%s,"datatype":%q,"data":[%s]}]}`, shape, dt, strings.Join(vals, ","))
		return []byte(doc), map[string]string{"Content-Type": "application/json"}
	}
	hdr, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{
		"name": "input", "shape": tg.shape, "datatype": dt,
		"parameters": map[string]any{"binary_data_size": n},
	}}})
	return append(hdr, raw...), map[string]string{
		"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": strconv.Itoa(len(hdr)),
	}
}

// env is a running agent and a client for it.
type env struct {
	base   string
	a      *agent.Agent
	client *http.Client
	tr     *http.Transport
}

func (e *env) do(tg target) Do {
	body, hdr := tg.body()
	url := e.base + "/v2/models/" + tg.model + "/infer"
	return func(ctx context.Context) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := e.client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, err
	}
}

// startEnv runs an agent on loopback serving person_detect ("pd"), the
// MLP ("mlp"), and with one interpreter and a queue of 4 that rejects,
// person_detect ("pd_small") and mobilenet_v2 ("mnv2_small").
func startEnv(t *testing.T) *env {
	t.Helper()
	pd, err := filepath.Abs("../../testdata/models/person_detect.tflite")
	if err != nil {
		t.Fatal(err)
	}
	mnv2, err := filepath.Abs("../../testdata/models/mobilenet_v2_1.0_224_quant.tflite")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := tflitetest.Int8MLP(1, mlpSizes...)
	if err != nil {
		t.Fatal(err)
	}
	mlp := filepath.Join(t.TempDir(), "mlp.tflite")
	if err := os.WriteFile(mlp, mb, 0o644); err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`version: 1
state_dir: %s
http:
  listen: 127.0.0.1:0
models:
  - name: pd
    path: %s
  - name: mlp
    path: %s
  - name: pd_small
    path: %s
    instances: 1
    batch:
      max_batch: 1
      queue_capacity: 4
      overload: reject
  - name: mnv2_small
    path: %s
    instances: 1
    batch:
      max_batch: 1
      queue_capacity: 4
      overload: reject
`, t.TempDir(), pd, mlp, pd, mnv2)
	cfg, err := config.Parse([]byte(doc), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	addr, err := a.Addr(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}
	e := &env{a: a, base: "http://" + addr.String(), tr: tr, client: &http.Client{Transport: tr}}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent Run = %v after cancel; want nil", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("agent Run did not return 15s after cancel")
		}
	})
	return e
}

var (
	pdShape  = []int{1, 96, 96, 1}
	mlpShape = []int{1, 64}
)

func targets() []target {
	return []target{
		{name: "person_detect/binary", model: "pd", shape: pdShape},
		{name: "person_detect/json", model: "pd", shape: pdShape, json: true},
		{name: "mlp/binary", model: "mlp", shape: mlpShape},
		{name: "mlp/json", model: "mlp", shape: mlpShape, json: true},
	}
}

// settleGoroutines waits up to 10s for the goroutine count to come back to
// at most want and returns the last count seen.
func settleGoroutines(e *env, want int) int {
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.tr.CloseIdleConnections()
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// overload drives pd_small at rate for dur and checks the behaviour the
// issue asks for: only 200, 429 or 503; some rejected; memory bounded; no
// goroutine growth; full recovery at a low rate afterwards.
//
// Rejections are required only when mustReject: the full run's 2x of a
// rate measured earlier on a shared machine may not be past capacity if
// the machine has become quieter since.
func overload(t *testing.T, e *env, tg target, rate float64, dur time.Duration, mustReject bool) {
	t.Helper()
	do := e.do(tg)
	// Warm the connection pool and the interpreter, then take the baselines.
	base := Run(context.Background(), 5, time.Second, do, nil)
	if base.Codes[200] != base.Sent || base.Skipped != 0 {
		t.Fatalf("baseline %s: %v; want every request 200", tg.name, base)
	}
	e.tr.CloseIdleConnections()
	time.Sleep(300 * time.Millisecond)
	g0 := runtime.NumGoroutine()
	runtime.GC()
	rss0, err := RSS()
	if err != nil {
		t.Fatal(err)
	}
	peak := rss0
	r := Run(context.Background(), rate, dur, do, &Options{OnTick: func() {
		if v, err := RSS(); err == nil && v > peak {
			peak = v
		}
	}})
	t.Logf("overload %s: %v", tg.name, r)
	t.Logf("overload: rejections answered p50 %v p99 %v after the request was sent (p99 %v after it was due)",
		Percentile(r.RejectedSent, 50), Percentile(r.RejectedSent, 99), Percentile(r.Rejected, 99))
	t.Logf("overload RSS: before %.1f MiB, peak %.1f MiB", float64(rss0)/(1<<20), float64(peak)/(1<<20))
	for code, n := range r.Codes {
		if code != 200 && code != 429 && code != 503 {
			t.Errorf("overload: %d answers with status %d; want only 200, 429 or 503", n, code)
		}
	}
	if r.Codes[429]+r.Codes[503] == 0 && mustReject {
		t.Errorf("overload at %.0f/s with queue 4: no 429 or 503 among %v; want some rejected", rate, r.Codes)
	}
	// The queue holds 4 requests, and the client at most MaxInFlight (512)
	// bodies: memory growth beyond that is a leak. 256 MiB is far above
	// both (inputs: person_detect 9 KiB, mobilenet_v2 147 KiB).
	if grow := peak - rss0; grow > 256<<20 {
		t.Errorf("overload: RSS grew by %d MiB (from %d to %d MiB); want < 256 MiB", grow>>20, rss0>>20, peak>>20)
	}
	// Keep-alive connections and their server goroutines go with
	// CloseIdleConnections; a small slack covers runtime helpers.
	if g1 := settleGoroutines(e, g0+4); g1 > g0+4 {
		t.Errorf("overload: %d goroutines 10s after the load stopped; want at most %d (before: %d)", g1, g0+4, g0)
	}
	rec := Run(context.Background(), 5, 2*time.Second, do, nil)
	t.Logf("recovery %s: %v (baseline p50 %v)", tg.name, rec, Percentile(base.OK, 50))
	if rec.Codes[200] != rec.Sent || rec.Skipped != 0 || rec.Sent == 0 {
		t.Errorf("recovery after overload: %v; want every request 200", rec)
	}
}

// TestLoadQuick is the CI variant (a few seconds): every target answers
// 200 at a low fixed rate; a burst far past what one mobilenet_v2
// interpreter serves is rejected cleanly (only 429/503, memory bounded, no
// goroutine growth) and recovered from; the MQTT source answers at 50/s.
func TestLoadQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	e := startEnv(t)
	for _, tg := range targets() {
		r := Run(context.Background(), 20, time.Second, e.do(tg), nil)
		t.Logf("%s: %v", tg.name, r)
		if r.Codes[200] != r.Sent || r.Skipped != 0 || r.Sent != 20 {
			t.Errorf("%s at 20/s for 1s: %v; want 20 requests, all 200", tg.name, r)
		}
	}
	// 400 requests in 0.2s against one mobilenet_v2 interpreter (300M
	// multiply-adds an inference) with a queue of 4: rejections are
	// certain on any machine where an inference takes longer than 0.5ms.
	// person_detect is too fast for that on a quiet x86 core.
	overload(t, e, target{name: "mobilenet_v2/binary (queue 4, reject)", model: "mnv2_small", shape: []int{1, 224, 224, 3}, dtype: "UINT8"}, 2000, 200*time.Millisecond, true)
	mqttLoad(t, e, []float64{50}, time.Second)
}

// TestLoad is the full load test (-load): the sustainable rate of each
// target, p50/p99 at 50% and 90% of it, overload at twice person_detect's
// rate, and the MQTT source at stepped rates.
func TestLoad(t *testing.T) {
	if !*fullLoad {
		t.Skip("full load test runs with -load (make load)")
	}
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	e := startEnv(t)
	var pdRate float64
	for _, tg := range targets() {
		do := e.do(tg)
		Run(context.Background(), 10, time.Second, do, nil) // warm-up
		rate, steps := Search(context.Background(), 10, 1.5, searchLimit, 3*time.Second, Criteria{}, do, nil)
		for _, s := range steps {
			t.Logf("%s search: %v", tg.name, s)
		}
		capped := ""
		if rate*1.5 > searchLimit {
			capped = fmt.Sprintf(" (search limit %d/s reached: a lower bound)", searchLimit)
		}
		t.Logf("%s: sustainable rate %.0f/s%s", tg.name, rate, capped)
		if rate == 0 {
			t.Errorf("%s: not even 10/s sustained", tg.name)
			continue
		}
		if tg.name == "person_detect/binary" {
			pdRate = rate
		}
		for _, pct := range []float64{50, 90} {
			r := Run(context.Background(), rate*pct/100, 10*time.Second, do, nil)
			t.Logf("%s at %.0f%% (%.0f/s): p50 %v p99 %v codes %v skipped %d", tg.name, pct, r.Rate, Percentile(r.OK, 50), Percentile(r.OK, 99), r.Codes, r.Skipped)
			// Timing on a shared machine varies: a stall may cost a few
			// 429s even below the sustainable rate. They are reported;
			// only answers other than 200, 429 and 503 fail.
			for code, n := range r.Codes {
				if code != 200 && code != 429 && code != 503 {
					t.Errorf("%s at %.0f%% of sustainable: %d answers with status %d; want 200, 429 or 503", tg.name, pct, n, code)
				}
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	if pdRate > 0 {
		overload(t, e, target{name: "person_detect/binary (queue 4, reject)", model: "pd_small", shape: pdShape}, 2*pdRate, 10*time.Second, false)
	}
	mqttLoad(t, e, []float64{50, 100, 200, 400, 800, 1600, 3200}, 3*time.Second)
}

// TestSoak (-soak 30m) runs person_detect/binary at 50% of its sustainable
// rate against the real edged in its own process and samples the daemon's
// resident memory, goroutines and open files every 10s and its live heap
// every minute. Memory is flat when the median of the second half of the
// samples (after a warm-up) is not above the first half's by more than
// noise; goroutines and files must come back to where they started.
func TestSoak(t *testing.T) {
	if *soak <= 0 {
		t.Skip("soak runs with -soak DURATION")
	}
	if *soakProfiles != "" {
		if err := os.MkdirAll(*soakProfiles, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := startDaemon(t)
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	e := &env{base: d.base, tr: tr, client: &http.Client{Transport: tr}}
	tg := targets()[0]
	do := e.do(tg)
	Run(context.Background(), 10, time.Second, do, nil)
	rate, _ := Search(context.Background(), 10, 1.5, searchLimit, 3*time.Second, Criteria{}, do, nil)
	if rate == 0 {
		t.Fatalf("%s: not even 10/s sustained", tg.name)
	}
	time.Sleep(time.Second)
	tr.CloseIdleConnections()
	idle, err := d.sample(true)
	if err != nil {
		t.Fatal(err)
	}
	// The first tenth of the run (at most 2 minutes) is warm-up: pools,
	// connections and the collector's pacing settle.
	warmup := min(*soak/10, 2*time.Minute)
	ctx, stop := context.WithCancel(context.Background())
	samples := make(chan []usage, 1)
	go func() { samples <- d.monitor(ctx, t, warmup, *soakProfiles) }()
	r := Run(context.Background(), rate/2, *soak, do, nil)
	stop()
	us := <-samples
	t.Logf("soak %s at %.0f/s for %v: %v", tg.name, rate/2, *soak, r)

	var (
		ts          []time.Duration
		rss, heap   []float64
		heapTs      []time.Duration
		series, hse strings.Builder
	)
	for i, u := range us {
		if i%6 == 5 {
			fmt.Fprintf(&series, " %.0f", u.rss)
		}
		if u.liveHeap >= 0 {
			fmt.Fprintf(&hse, " %.1f", u.liveHeap)
		}
		if u.at < warmup {
			continue
		}
		ts, rss = append(ts, u.at), append(rss, u.rss)
		if u.liveHeap >= 0 {
			heapTs, heap = append(heapTs, u.at), append(heap, u.liveHeap)
		}
	}
	t.Logf("edged idle before the soak: RSS %.1f MiB, live heap %.1f MiB, %d goroutines, %d open files", idle.rss, idle.liveHeap, idle.goroutines, idle.fds)
	t.Logf("edged RSS MiB, one sample a minute:%s", series.String())
	t.Logf("edged live heap MiB (after a forced collection), one a minute:%s", hse.String())
	// Where the resident memory is, once a minute: the kernel's split and
	// the runtime's.
	t.Logf("edged memory by minute (MiB): RSS = anon + file; runtime: live heap, heap spans in use, free spans held, stacks, span descriptors, GC metadata, profiling buckets, other; sys")
	for _, u := range us {
		if u.liveHeap >= 0 {
			t.Logf("  %5.1f min: RSS %5.1f = %5.1f + %5.1f; live %4.1f inuse %4.1f held %4.1f stacks %4.1f mspan %4.2f gc %4.1f buckets %4.1f other %4.1f; sys %5.1f; goroutines %d fds %d",
				u.at.Minutes(), u.rss, u.anon, u.file, u.liveHeap, u.heapInuse, u.heapHeld, u.stacks, u.mspan, u.gcsys, u.buckets, u.other, u.sys, u.goroutines, u.fds)
		}
	}
	if len(rss) < 4 || len(heap) < 2 {
		t.Fatalf("soak: %d RSS and %d heap samples after the warm-up; run it longer (-soak 5m or more)", len(rss), len(heap))
	}
	r1, r2 := Halves(rss)
	h1, h2 := Halves(heap)
	t.Logf("edged RSS after warm-up: min %.1f max %.1f MiB, slope %.3f MiB/min, median first half %.1f second half %.1f MiB",
		slices.Min(rss), slices.Max(rss), Slope(ts, rss)*60, r1, r2)
	t.Logf("edged live heap after warm-up: min %.2f max %.2f MiB, slope %.4f MiB/min, median first half %.2f second half %.2f MiB",
		slices.Min(heap), slices.Max(heap), Slope(heapTs, heap)*60, h1, h2)
	// Noise: the collector lets the heap reach twice the live heap and the
	// scavenger returns pages lazily, so RSS moves by several MiB between
	// samples; the live heap moves with the requests in flight.
	if r2 > r1*1.10+4 {
		t.Errorf("soak: edged RSS median rose from %.1f MiB (first half) to %.1f MiB (second half); want flat within 10%% + 4 MiB", r1, r2)
	}
	if h2 > h1*1.10+1 {
		t.Errorf("soak: edged live heap median rose from %.2f MiB to %.2f MiB; want flat within 10%% + 1 MiB", h1, h2)
	}

	// After the load: connections closed, goroutines and files must be
	// back near the idle figures.
	tr.CloseIdleConnections()
	var after usage
	for deadline := time.Now().Add(15 * time.Second); ; {
		if after, err = d.sample(true); err != nil {
			t.Fatal(err)
		}
		if (after.goroutines <= idle.goroutines+4 && after.fds <= idle.fds+4) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	gmax, fmax := 0, 0
	for _, u := range us {
		gmax, fmax = max(gmax, u.goroutines), max(fmax, u.fds)
	}
	t.Logf("edged after the soak: RSS %.1f MiB, live heap %.1f MiB, %d goroutines (max under load %d), %d open files (max %d)",
		after.rss, after.liveHeap, after.goroutines, gmax, after.fds, fmax)
	if after.goroutines > idle.goroutines+4 {
		t.Errorf("soak: edged has %d goroutines after the load; %d before it", after.goroutines, idle.goroutines)
	}
	if after.fds > idle.fds+4 {
		t.Errorf("soak: edged has %d open files after the load; %d before it", after.fds, idle.fds)
	}
	// At half the sustainable rate nothing should be refused; a shared
	// machine's stall may cost a few 429s, which are reported. Anything
	// else is an error.
	for code, n := range r.Codes {
		if code != 200 && code != 429 && code != 503 {
			t.Errorf("soak: %d answers with status %d", n, code)
		}
	}
	if rej := r.Codes[429] + r.Codes[503] + r.Skipped; float64(rej) > 0.005*float64(r.Sent+r.Skipped) {
		t.Errorf("soak: %d of %d requests refused or skipped at 50%% of the sustainable rate; want at most 0.5%%", rej, r.Sent+r.Skipped)
	}
}

// startMosquitto runs a broker on a free loopback port until the test
// ends; its queues hold a whole load run.
func startMosquitto(t *testing.T) string {
	t.Helper()
	return mosquittotest.Start(t, &mosquittotest.Options{Conf: []string{"max_queued_messages 100000"}}).URL()
}

// mqttLoad publishes MLP sensor readings (JSON, QoS 0) to an MQTT source
// at each rate for dur and reports results per second and the source's
// drop count. It checks that every input is accounted for: answered,
// dropped by the source, or lost at QoS 0 (reported, not asserted).
func mqttLoad(t *testing.T, e *env, rates []float64, dur time.Duration) {
	t.Helper()
	broker := startMosquitto(t)
	// The source is built here, as the agent builds one from a sources
	// entry, so that the test can read its counters.
	m, err := source.NewMQTT(source.MQTTOptions{
		Broker: broker, ClientID: "load-src", Topic: "load/+/in", ResultTopic: "load/results",
		Encoding: "json", Model: "mlp", Queue: 16,
	}, e.a, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("mqtt source Run = %v; want nil", err)
		}
	}()
	var results atomic.Int64
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID("load-peer").SetAutoReconnect(false)
	peer := mqtt.NewClient(o)
	if tok := peer.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("peer connect %s: %v", broker, tok.Error())
	}
	defer peer.Disconnect(100)
	if tok := peer.Subscribe("load/results", 0, func(mqtt.Client, mqtt.Message) { results.Add(1) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("peer subscribe: %v", tok.Error())
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.Stats().Subscribed == 0 {
		if time.Now().After(deadline) {
			t.Fatal("mqtt source not subscribed within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	vals := make([]string, mlpSizes[0])
	for i := range vals {
		vals[i] = strconv.FormatFloat(float64(i%9)*0.05, 'f', 2, 64)
	}
	payload := []byte("[" + strings.Join(vals, ",") + "]")
	publish := func(context.Context) (int, error) {
		peer.Publish("load/s1/in", 0, false, payload)
		return 200, nil
	}
	for _, rate := range rates {
		before, res0 := m.Stats(), results.Load()
		r := Run(context.Background(), rate, dur, publish, nil)
		// Let the queue drain: 16 inputs at most wait.
		time.Sleep(time.Second)
		after, res1 := m.Stats(), results.Load()
		got := res1 - res0
		recv := after.Received - before.Received
		dropped := after.Dropped - before.Dropped
		t.Logf("mqtt at %.0f/s: published %d, source received %d, results %d (%.1f/s), dropped %d, infer errors %d",
			rate, r.Sent, recv, got, float64(got)/dur.Seconds(), dropped, after.InferErrors-before.InferErrors)
		if got == 0 {
			t.Errorf("mqtt at %.0f/s: no results", rate)
		}
		if ie := after.InferErrors - before.InferErrors; ie != 0 {
			t.Errorf("mqtt at %.0f/s: %d inference errors; want 0", rate, ie)
		}
	}
}
