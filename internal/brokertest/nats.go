package brokertest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// natsStartTimeout bounds a node's start: a cluster elects its JetStream
// leaders in seconds, but the test machines are shared and slow.
const natsStartTimeout = 60 * time.Second

// NATS is a cluster of nats-server nodes with JetStream and MQTT. The
// MQTT layer keeps retained messages and sessions in JetStream streams
// replicated on every node (stream_replicas), so a retained chunk
// survives the loss of the node that took it. NATS speaks MQTT 3.1.1 with
// QoS 0 and 1 only.
type NATS struct {
	t       testing.TB
	nodes   []*proc
	mqtt    []string // per node, host:port
	monitor []string // per node, the monitoring endpoint's host:port
}

// StartNATS runs an n-node cluster (n >= 1; 3 for replication that
// survives one node) and returns once every node serves MQTT.
func StartNATS(t testing.TB, n int) *NATS {
	t.Helper()
	bin := lookPath(t, "nats-server", "nats-server")
	dir := t.TempDir()
	c := &NATS{t: t}
	routes := make([]string, n)
	cluster := make([]int, n)
	for i := range n {
		cluster[i] = freePort(t)
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", cluster[i])
	}
	for i := range n {
		name := fmt.Sprintf("n%d", i+1)
		mq := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		c.mqtt = append(c.mqtt, mq)
		mon := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		c.monitor = append(c.monitor, mon)
		replicas := min(n, 3)
		conf := []string{
			"server_name: " + name,
			fmt.Sprintf("listen: 127.0.0.1:%d", freePort(t)),
			fmt.Sprintf("jetstream { store_dir: %q, max_mem: 64MB, max_file: 4GB }", filepath.Join(dir, name)),
			fmt.Sprintf("mqtt { listen: %q, stream_replicas: %d, consumer_replicas: %d }", mq, replicas, replicas),
			// Chunks of up to 1 MiB plus the MQTT header.
			"max_payload: 2MB",
			fmt.Sprintf("http: %q", mon),
		}
		if n > 1 {
			conf = append(conf, fmt.Sprintf("cluster { name: edged, listen: \"127.0.0.1:%d\", routes: [%s] }",
				cluster[i], strings.Join(routes, ", ")))
		}
		path := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
			t.Fatalf("brokertest: write NATS config: %v", err)
		}
		c.nodes = append(c.nodes, &proc{name: "nats-server " + name, args: []string{bin, "-c", path},
			log: filepath.Join(dir, name+".log"), grace: 10 * time.Second})
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			for _, p := range c.nodes {
				t.Logf("%s output (last 4 KiB):\n%s", p.name, tail(p.output(), 4096))
			}
		}
	})
	c.Start()
	return c
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (*NATS) Kind() string { return "nats" }

func (*NATS) Caps() Caps { return Caps{RetainedWildcard: true, ReplicatedRetained: true} }

// URL lists every node.
func (c *NATS) URL() string { return joinURLs(c.mqtt) }

// NodeURL is node i's MQTT URL alone.
func (c *NATS) NodeURL(i int) string { return "tcp://" + c.mqtt[i] }

// Nodes is the number of nodes.
func (c *NATS) Nodes() int { return len(c.nodes) }

// Pids are the nodes' process ids (0 for a stopped node).
func (c *NATS) Pids() []int {
	p := make([]int, len(c.nodes))
	for i, n := range c.nodes {
		p[i] = n.pid()
	}
	return p
}

// Start runs every stopped node and waits until each serves MQTT.
func (c *NATS) Start() {
	c.t.Helper()
	for i := range c.nodes {
		if err := c.nodes[i].start(); err != nil && !strings.Contains(err.Error(), "already running") {
			c.t.Fatalf("brokertest: %v", err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = waitMQTT(c.mqtt[i], natsStartTimeout, c.nodes[i].exited)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			c.t.Fatalf("brokertest: %s: %v; its output is logged at the end of the test", c.nodes[i].name, err)
		}
	}
	c.WaitHealthy()
}

// WaitHealthy waits until every running node's /healthz says ok: its
// JetStream streams and consumers are current.
func (c *NATS) WaitHealthy() {
	c.t.Helper()
	if err := c.waitHealthy(natsStartTimeout); err != nil {
		c.t.Fatalf("brokertest: %v", err)
	}
}

func (c *NATS) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for i, n := range c.nodes {
		if n.exited() {
			continue
		}
		for {
			last := c.health(i)
			if last == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not healthy within %v: %v", n.name, timeout, last)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func (c *NATS) health(i int) error {
	resp, err := http.Get("http://" + c.monitor[i] + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz: %s %s", resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// Stop ends every node.
func (c *NATS) Stop() {
	for _, n := range c.nodes {
		n.stop()
	}
}

// StopNode ends node i (SIGTERM): the cluster loses it, its clients
// reconnect to the others.
func (c *NATS) StopNode(i int) { c.nodes[i].stop() }

// KillNode ends node i with SIGKILL, as a crash or power loss would.
func (c *NATS) KillNode(i int) {
	n := c.nodes[i]
	g := n.grace
	n.grace = 0
	n.stop()
	n.grace = g
}

// StartNode runs node i again and waits until it serves MQTT, failing t
// (the calling test) if it does not. It waits up to 30 s more for the
// cluster's health and only logs if that does not come: a node back from
// a crash may keep a consumer of a session that ended meanwhile "not
// current" for minutes, which clients do not notice.
func (c *NATS) StartNode(t testing.TB, i int) {
	t.Helper()
	if err := c.nodes[i].start(); err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	if err := waitMQTT(c.mqtt[i], natsStartTimeout, c.nodes[i].exited); err != nil {
		t.Fatalf("brokertest: %s: %v", c.nodes[i].name, err)
	}
	if err := c.waitHealthy(30 * time.Second); err != nil {
		t.Logf("brokertest: %v", err)
	}
}
