package brokertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rabbitStartTimeout bounds RabbitMQ's start: about 10 s on an idle
// machine, a minute on a loaded 2-core one.
const rabbitStartTimeout = 3 * time.Minute

// RabbitMQ is one RabbitMQ node with the MQTT plugin, with its own Erlang
// port mapper (epmd) on a free port. Its retained messages live in a
// node-local store (not replicated in a cluster), and a subscription
// with a wildcard gets none of them (Caps.RetainedWildcard is false).
// It speaks MQTT 3.1.1 with QoS 0 and 1; QoS 2 is taken as 1.
type RabbitMQ struct {
	t    testing.TB
	epmd *proc
	node *proc
	addr string
}

// StartRabbitMQ runs the node and returns once it serves MQTT.
func StartRabbitMQ(t testing.TB) *RabbitMQ {
	t.Helper()
	server := lookPath(t, "rabbitmq-server", "rabbitmq-server")
	// The Debian wrapper in /usr/sbin switches to the rabbitmq user, who
	// cannot write the test's temp dir: run the real script.
	if real := "/usr/lib/rabbitmq/bin/rabbitmq-server"; fileExists(real) {
		server = real
	}
	epmdBin := lookPath(t, "epmd", "erlang-base")
	dir := t.TempDir()
	r := &RabbitMQ{t: t, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	epmdPort, dist, amqp := freePort(t), freePort(t), freePort(t)
	conf := []string{
		"listeners.tcp.default = " + fmt.Sprintf("127.0.0.1:%d", amqp),
		"mqtt.listeners.tcp.default = " + r.addr,
		"mqtt.allow_anonymous = true",
		"loopback_users = none",
		// Retained chunks: the default store keeps them on disk (dets).
		"mqtt.retained_message_store = rabbit_mqtt_retained_msg_store_dets",
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatalf("brokertest: write %s: %v", name, err)
		}
		return p
	}
	confPath := write("rabbitmq.conf", strings.Join(conf, "\n")+"\n")
	plugins := write("enabled_plugins", "[rabbitmq_mqtt].\n")
	env := append(os.Environ(),
		"HOME="+dir, // the Erlang cookie
		fmt.Sprintf("RABBITMQ_NODENAME=edgedtest%d@localhost", amqp),
		"RABBITMQ_CONFIG_FILE="+confPath,
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+plugins,
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_LOGS=-",
		fmt.Sprintf("RABBITMQ_NODE_PORT=%d", amqp),
		fmt.Sprintf("RABBITMQ_DIST_PORT=%d", dist),
		fmt.Sprintf("ERL_EPMD_PORT=%d", epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
	)
	// Our own epmd in the foreground, so that the node does not start a
	// daemon that outlives the test.
	r.epmd = &proc{name: "epmd", args: []string{epmdBin, "-port", fmt.Sprint(epmdPort)}, env: env, dir: dir,
		log: filepath.Join(dir, "epmd.log"), grace: 5 * time.Second}
	r.node = &proc{name: "rabbitmq-server", args: []string{server}, env: env, dir: dir,
		log: filepath.Join(dir, "rabbitmq.log"), grace: 60 * time.Second}
	t.Cleanup(func() {
		r.Stop()
		r.epmd.stop()
		if t.Failed() {
			t.Logf("rabbitmq-server output (last 8 KiB):\n%s", tail(r.node.output(), 8192))
		}
	})
	if err := r.epmd.start(); err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	r.Start()
	return r
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (*RabbitMQ) Kind() string { return "rabbitmq" }

func (*RabbitMQ) Caps() Caps { return Caps{} }

func (r *RabbitMQ) URL() string { return "tcp://" + r.addr }

// Pid is the node's process id (0 when stopped).
func (r *RabbitMQ) Pid() int { return r.node.pid() }

// Start runs the node and waits until it serves MQTT.
func (r *RabbitMQ) Start() {
	r.t.Helper()
	if err := r.node.start(); err != nil {
		r.t.Fatalf("brokertest: %v", err)
	}
	if err := waitMQTT(r.addr, rabbitStartTimeout, r.node.exited); err != nil {
		r.t.Fatalf("brokertest: rabbitmq-server: %v; its output is logged at the end of the test", err)
	}
}

// Stop ends the node (SIGTERM: a clean shutdown that saves the retained
// store).
func (r *RabbitMQ) Stop() { r.node.stop() }
