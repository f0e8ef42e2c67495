// Package brokertest runs real MQTT brokers on free loopback ports for the
// length of a test: mosquitto (one process), a NATS cluster with
// JetStream and MQTT (three nodes, retained messages replicated) and
// RabbitMQ with its MQTT plugin. Each keeps its configuration and data in
// the test's temp dir and is stopped when the test ends. It is imported
// only by tests and load scripts.
//
// When a broker is not installed the test is skipped, or fails where
// EDGED_REQUIRE_TOOLS is set (see internal/testenv).
package brokertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Broker is a running MQTT broker, a single process or a cluster.
type Broker interface {
	// Kind is "mosquitto", "nats" or "rabbitmq".
	Kind() string
	// URL is the broker's MQTT URL; for a cluster, every node's URL
	// separated by commas, in the nodes' order (clients try them in
	// turn).
	URL() string
	// Stop ends every process (gracefully, so that stored state is
	// saved); Start runs them again on the same ports and data and
	// returns once MQTT clients are served.
	Stop()
	Start()
	// Caps says what the broker does differently from the MQTT 3.1.1
	// specification.
	Caps() Caps
}

// Caps are a broker's deviations from MQTT 3.1.1 that edged meets.
type Caps struct {
	// RetainedWildcard is false when a subscription whose filter has a
	// wildcard gets no retained messages (RabbitMQ): a retained command
	// then reaches only devices connected when it was published.
	RetainedWildcard bool
	// ReplicatedRetained is true when retained messages survive the loss
	// of the node that stored them (NATS JetStream with replicas).
	ReplicatedRetained bool
}

// Start runs the broker of kind ("mosquitto", "nats" or "rabbitmq").
func Start(t testing.TB, kind string) Broker {
	t.Helper()
	switch kind {
	case "mosquitto":
		return StartMosquitto(t)
	case "nats":
		return StartNATS(t, 3)
	case "rabbitmq":
		return StartRabbitMQ(t)
	}
	t.Fatalf("brokertest: unknown broker %q; want mosquitto, nats or rabbitmq", kind)
	return nil
}

// Kinds are the brokers Start knows.
var Kinds = []string{"mosquitto", "nats", "rabbitmq"}

// lookPath finds a program on PATH or in the sbin directories Debian puts
// daemons in (often not on a user's PATH).
func lookPath(t testing.TB, name, pkg string) string {
	t.Helper()
	if bin, err := exec.LookPath(name); err == nil {
		return bin
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/lib/rabbitmq/bin"} {
		if _, err := os.Stat(dir + "/" + name); err == nil {
			return dir + "/" + name
		}
	}
	missing(t, "%s is not installed (apt-get install %s)", name, pkg)
	return ""
}

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("EDGED_REQUIRE_TOOLS") != "" {
		t.Fatalf("EDGED_REQUIRE_TOOLS is set, but: "+format, args...)
	}
	t.Skipf(format, args...)
}

// freePort is a loopback port nobody listens on (yet).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("brokertest: find a free loopback port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is one broker process: started with Start, ended with Stop
// (SIGTERM, then SIGKILL after its grace), its output appended to log.
type proc struct {
	name  string
	args  []string
	env   []string
	dir   string
	log   string
	grace time.Duration

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s is already running", p.name)
	}
	// A file, not a buffer: the child writes it directly, so there is no
	// copying goroutine and it can be read at any time.
	log, err := os.OpenFile(p.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env, cmd.Dir = p.env, p.dir
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so that Stop reaches what it forks.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	log.Close()
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

// exited reports whether the process has ended since start.
func (p *proc) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	pg := -p.cmd.Process.Pid
	syscall.Kill(pg, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(p.grace):
		syscall.Kill(pg, syscall.SIGKILL)
		<-p.done
	}
	// Whatever the group still holds (a helper the broker forked).
	syscall.Kill(pg, syscall.SIGKILL)
	p.cmd, p.done = nil, nil
}

func (p *proc) output() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(no output: %v)", err)
	}
	return string(b)
}

// Pid is the process id, 0 when not running (for load scripts reading
// /proc).
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// waitMQTT waits until the broker at addr takes a QoS 1 publish from a
// fresh client, the moment a clustered broker has elected its leaders and
// made its streams; exited says the process died meanwhile.
func waitMQTT(addr string, timeout time.Duration, exited func() bool) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if exited() {
			return fmt.Errorf("exited before serving MQTT on %s", addr)
		}
		if last = probe(addr); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no MQTT service on %s within %v: %v", addr, timeout, last)
}

func probe(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	c.Close()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("brokertest-probe-%d", time.Now().UnixNano())).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	cl := mqtt.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	if tok := cl.Publish("brokertest/probe", 1, false, "up"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("publish: %v", tok.Error())
	}
	return nil
}

func joinURLs(addrs []string) string {
	u := make([]string, len(addrs))
	for i, a := range addrs {
		u[i] = "tcp://" + a
	}
	return strings.Join(u, ",")
}
