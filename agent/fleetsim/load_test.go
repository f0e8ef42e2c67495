package fleetsim_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/fleetsim"
	"github.com/edged-dev/edged/internal/brokertest"
	"github.com/edged-dev/edged/internal/testenv"
)

// The load runs (make fleet-load): not timed tests, measurements. They
// log their figures and check only correctness (every device on the new
// version; on an abort, who got the rollback).
var (
	loadRun    = flag.Bool("fleetsim.load", false, "run the fleet load measurements")
	loadN      = flag.Int("fleetsim.n", 1000, "simulated devices")
	loadFail   = flag.Float64("fleetsim.fail", 0, "share of devices failing the load")
	loadBroker = flag.String("fleetsim.broker", "mosquitto", "mosquitto, nats (3 nodes) or rabbitmq")
	loadWaves  = flag.String("fleetsim.waves", "1%,10%,50%,100%", "rollout waves")
	loadModel  = flag.String("fleetsim.model", "mobilenet_v2_1.0_224_quant.tflite", "model of testdata/models to deploy")
	loadTele   = flag.Duration("fleetsim.telemetry", 0, "instead of a rollout: telemetry at this interval, measured over -fleetsim.for")
	loadFor    = flag.Duration("fleetsim.for", 3*time.Minute, "how long the telemetry run lasts")
)

type sampler struct {
	pids func() []int
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

// sample polls the peak resident memory of the processes pids names
// (summed) every 200 ms until end.
func sample(pids func() []int) *sampler {
	s := &sampler{pids: pids, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			var rss int64
			for _, p := range s.pids() {
				if st, err := brokertest.ReadProc(p); err == nil {
					rss += st.RSS
				}
			}
			if rss > s.peak.Load() {
				s.peak.Store(rss)
			}
			select {
			case <-s.stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *sampler) end() int64 { close(s.stop); <-s.done; return s.peak.Load() }

func cpuOf(pids []int) time.Duration {
	var c time.Duration
	for _, p := range pids {
		if st, err := brokertest.ReadProc(p); err == nil {
			c += st.CPU
		}
	}
	return c
}

// tree is pid and its descendants (RabbitMQ's script runs the Erlang VM
// as its child).
func tree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", out[i], out[i]))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// TestLoad runs N simulated devices through one broker and either rolls
// a 3.6 MB model out to them with the edgectl binary or, with
// -fleetsim.telemetry, measures their telemetry.
//
//	go test -run TestLoad -timeout 2h -v ./agent/fleetsim/ -args -fleetsim.load -fleetsim.n 1000
func TestLoad(t *testing.T) {
	if !*loadRun {
		t.Skip("a load run: -args -fleetsim.load (make fleet-load)")
	}
	var b brokertest.Broker
	var pids func() []int
	switch *loadBroker {
	case "mosquitto":
		m := brokertest.StartMosquitto(t)
		b, pids = m, func() []int { return []int{m.Pid()} }
	case "nats":
		c := brokertest.StartNATS(t, 3)
		b, pids = c, c.Pids
	case "rabbitmq":
		// Devices are online before the rollout: RabbitMQ gives their
		// wildcard subscriptions live commands, not retained ones.
		r := brokertest.StartRabbitMQ(t)
		b, pids = r, func() []int { return tree(r.Pid()) }
	default:
		t.Fatalf("-fleetsim.broker %q: want mosquitto, nats or rabbitmq", *loadBroker)
	}
	dir := t.TempDir()
	first := strings.TrimPrefix(strings.Split(b.URL(), ",")[0], "tcp://")
	// Devices and the operator each through their own counting proxy
	// (devices spread over a cluster's nodes).
	var devProxies []*brokertest.Proxy
	var devURLs []string
	for _, u := range strings.Split(b.URL(), ",") {
		p := brokertest.NewProxy(t, strings.TrimPrefix(u, "tcp://"))
		devProxies = append(devProxies, p)
		devURLs = append(devURLs, p.URL())
	}
	opProxy := brokertest.NewProxy(t, first)
	devBytes := func() int64 {
		var n int64
		for _, p := range devProxies {
			n += p.Bytes()
		}
		return n
	}

	model, err := filepath.Abs("../../testdata/models/" + *loadModel)
	if err != nil {
		t.Fatal(err)
	}
	bundle, root, keys := operatorModel(t, dir, model)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	t0 := time.Now()
	cpu0 := cpuOf(pids())
	// Each device lists the nodes starting at its own.
	var sims []*fleetsim.Fleet
	per := *loadN / len(devURLs)
	for i := range devURLs {
		n := per
		if i == len(devURLs)-1 {
			n = *loadN - per*(len(devURLs)-1)
		}
		order := append(slices.Clone(devURLs[i:]), devURLs[:i]...)
		f, err := fleetsim.Start(ctx, fleetsim.Options{Broker: strings.Join(order, ","), N: n, Prefix: fmt.Sprintf("sim%d", i),
			Dir: filepath.Join(dir, "sim", fmt.Sprint(i)), RootKey: root, Model: "hello", Version: 1, FailShare: *loadFail,
			Latency: 200 * time.Millisecond, Telemetry: *loadTele, TelemetryBytes: 600})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sims = append(sims, f)
	}
	t.Logf("%d devices connected in %v; broker CPU %v, %s of traffic", *loadN, time.Since(t0).Round(time.Millisecond),
		cpuOf(pids())-cpu0, mib(devBytes()))
	var ids, failing []string
	for _, f := range sims {
		ids = append(ids, f.IDs()...)
		failing = append(failing, f.Failing()...)
	}

	if *loadTele > 0 {
		bs := sample(pids)
		time.Sleep(*loadTele) // every device has published once
		c0, b0, s0 := cpuOf(pids()), devBytes(), time.Now()
		time.Sleep(*loadFor)
		dt := time.Since(s0)
		bytes := devBytes() - b0
		t.Logf("telemetry of %d devices every %v, over %v: %.1f messages/s expected, %.0f bytes/s at the broker (%s/h), broker CPU %.1f%%, peak RSS %s",
			*loadN, *loadTele, dt.Round(time.Second), float64(*loadN)/loadTele.Seconds(), float64(bytes)/dt.Seconds(),
			mib(int64(float64(bytes)/dt.Seconds()*3600)), 100*float64(cpuOf(pids())-c0)/float64(dt), mib(bs.end()))
		return
	}

	// edgectl as its own process, to read its memory.
	edgectl := testenv.Build(t, dir, "./cmd/edgectl")
	state := filepath.Join(dir, "rollout.json")
	cmd := exec.CommandContext(ctx, edgectl, "rollout", "start", "--broker", opProxy.URL(), "--keys", keys, "--bundle", bundle, "--state", state,
		"--devices", strings.Join(ids, ","), "--waves", *loadWaves, "--device-timeout", "10m")
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	bs := sample(pids)
	cpu1, dev1, op1, r0 := cpuOf(pids()), devBytes(), opProxy.Bytes(), time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	es := sample(func() []int { return []int{cmd.Process.Pid} })
	err = cmd.Wait()
	wall := time.Since(r0)
	ePeak, bPeak := es.end(), bs.end()
	st, _ := os.Stat(state)
	var stateSize int64
	if st != nil {
		stateSize = st.Size()
	}
	fi, _ := os.Stat(model)
	t.Logf("rollout of %s (%s) to %d devices (%s, waves %s, %.0f%% failing): %v; edgectl exit: %v",
		filepath.Base(model), mib(fi.Size()), *loadN, b.Kind(), *loadWaves, 100**loadFail, wall.Round(time.Millisecond), err)
	var eCPU time.Duration
	if ps := cmd.ProcessState; ps != nil {
		eCPU = ps.UserTime() + ps.SystemTime()
	}
	t.Logf("broker CPU %v (%.0f%% of one core), peak RSS %s; bytes devices<->broker %s (%.1f× the model per device), operator->broker %s; edgectl peak RSS %s, CPU %v; state file %d bytes",
		cpuOf(pids())-cpu1, 100*float64(cpuOf(pids())-cpu1)/float64(wall), mib(bPeak), mib(devBytes()-dev1),
		float64(devBytes()-dev1)/float64(fi.Size())/float64(*loadN), mib(opProxy.Bytes()-op1), mib(ePeak), eCPU.Round(10*time.Millisecond), stateSize)
	lines := strings.Split(out.String(), "\n")
	var waves []string
	for _, l := range lines {
		if strings.Contains(l, "start wave") || strings.Contains(l, "ABORT") || strings.Contains(l, "finished:") {
			waves = append(waves, l)
		}
	}
	t.Logf("edgectl's decisions:\n%s", strings.Join(waves, "\n"))
	t.Logf("edgectl's last lines:\n%s", strings.Join(lines[max(0, len(lines)-25):], "\n"))
	versions := map[uint64]int{}
	var rolledBack []string
	for _, f := range sims {
		for v, n := range f.Versions() {
			versions[v] += n
		}
		rolledBack = append(rolledBack, f.RolledBack()...)
	}
	t.Logf("versions %v; failing devices %d; rollback reached %d devices", versions, len(failing), len(rolledBack))
	if *loadFail == 0 {
		if err != nil || versions[2] != *loadN {
			t.Errorf("rollout: %v, versions %v; want every device on 2", err, versions)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "exit status") {
		t.Errorf("rollout with %.0f%% failing: %v; want it aborted", 100**loadFail, err)
	}
	if versions[2] != 0 {
		t.Errorf("versions after the abort %v; want none left on 2", versions)
	}
}
