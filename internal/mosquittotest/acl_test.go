package mosquittotest_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/mosquittotest"
	"github.com/edged-dev/edged/internal/testenv"
)

// exampleDir holds the broker configuration the documentation points to.
const exampleDir = "../../examples/mosquitto"

// aclBroker runs mosquitto with the example ACL and credentials made the
// documented way: the operator with mosquitto_passwd, devices d1 (group
// cams) and d2 (group doors) with add-device.sh. It returns the broker and
// the devices' passwords.
func aclBroker(t *testing.T) (*mosquittotest.Broker, map[string]string) {
	t.Helper()
	pwTool, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		testenv.Missing(t, "mosquitto_passwd is not installed (apt-get install mosquitto)")
	}
	dir := t.TempDir()
	passwd, acl := filepath.Join(dir, "passwd"), filepath.Join(dir, "acl")
	example, err := os.ReadFile(filepath.Join(exampleDir, "acl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(acl, example, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(pwTool, "-c", "-b", passwd, "operator", "op-secret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	pws := map[string]string{}
	for _, d := range []struct{ id, group string }{{"d1", "cams"}, {"d2", "doors"}} {
		out, err := exec.Command("sh", filepath.Join(exampleDir, "add-device.sh"), passwd, acl, d.id, d.group).Output()
		if err != nil {
			t.Fatalf("add-device.sh %s: %v", d.id, err)
		}
		pws[d.id] = strings.TrimSpace(string(out))
		if len(pws[d.id]) < 16 {
			t.Fatalf("add-device.sh printed password %q; want at least 16 characters", pws[d.id])
		}
	}
	// add-device.sh refuses a device twice and the operator's name.
	for _, id := range []string{"d1", "operator", "a/b", "a+"} {
		if err := exec.Command("sh", filepath.Join(exampleDir, "add-device.sh"), passwd, acl, id).Run(); err == nil {
			t.Errorf("add-device.sh %q succeeded; want refused", id)
		}
	}
	// The example's settings, less the paths and the listener.
	conf, err := os.ReadFile(filepath.Join(exampleDir, "mosquitto.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(conf), "\n") {
		if k, _, _ := strings.Cut(l, " "); slices.Contains([]string{"max_packet_size"}, k) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("example mosquitto.conf: max_packet_size lines %q; want one", lines)
	}
	b := mosquittotest.Start(t, &mosquittotest.Options{PasswordFile: passwd, ACLFile: acl, Conf: lines})
	return b, pws
}

// client is a raw MQTT client recording what it receives, in order.
type client struct {
	c    mqtt.Client
	mu   sync.Mutex
	got  []string // "topic payload"
	seen chan string
}

func connect(b *mosquittotest.Broker, user, password string) (*client, error) {
	cl := &client{seen: make(chan string, 256)}
	o := mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID(fmt.Sprintf("%s-%d", user, time.Now().UnixNano())).
		SetUsername(user).SetPassword(password).SetAutoReconnect(false).SetConnectRetry(false).SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			s := m.Topic() + " " + string(m.Payload())
			cl.mu.Lock()
			cl.got = append(cl.got, s)
			cl.mu.Unlock()
			cl.seen <- s
		})
	cl.c = mqtt.NewClient(o)
	tok := cl.c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect as %s: timeout", user)
	}
	return cl, tok.Error()
}

func mustConnect(t *testing.T, b *mosquittotest.Broker, user, password string) *client {
	t.Helper()
	cl, err := connect(b, user, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.c.Disconnect(100) })
	return cl
}

func (cl *client) publish(t *testing.T, topic, payload string, retained bool) {
	t.Helper()
	tok := cl.c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func (cl *client) subscribe(t *testing.T, filter string) {
	t.Helper()
	tok := cl.c.Subscribe(filter, 1, nil)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
}

// until returns what arrived up to and including the message want.
func (cl *client) until(t *testing.T, want string) []string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case s := <-cl.seen:
			if s == want {
				cl.mu.Lock()
				defer cl.mu.Unlock()
				return slices.Clone(cl.got)
			}
		case <-timeout:
			t.Fatalf("%q did not arrive within 10s", want)
		}
	}
}

const p = "edged/v1/"

// TestExampleACL: under the example ACL a device reads only its own and
// its groups' commands and the blobs, writes only its own state,
// telemetry, drift, events and command statuses, and cannot command any
// device; clients without the right password are refused.
func TestExampleACL(t *testing.T) {
	b, pws := aclBroker(t)

	for _, c := range []struct{ user, pw string }{{"d1", pws["d2"]}, {"d1", ""}, {"", ""}, {"operator", pws["d1"]}, {"d3", "x"}} {
		if cl, err := connect(b, c.user, c.pw); err == nil {
			cl.c.Disconnect(0)
			t.Errorf("connect as %q with password %q: accepted; want refused", c.user, c.pw)
		}
	}

	op := mustConnect(t, b, "operator", "op-secret")
	sum := strings.Repeat("ab", 32)
	retained := []string{
		p + "dev/d1/cmd/rollback/r1", p + "dev/d2/cmd/rollback/r2", p + "group/cams/cmd/promote/g1",
		p + "group/doors/cmd/promote/g2", p + "blob/" + sum + "/meta", p + "blob/" + sum + "/0",
		p + "dev/d2/state", p + "dev/d2/cmd/rollback/r2/status",
	}
	for _, topic := range retained {
		op.publish(t, topic, "op", true)
	}

	t.Run("reads", func(t *testing.T) {
		d1 := mustConnect(t, b, "d1", pws["d1"])
		d1.subscribe(t, "edged/v1/#")
		d1.subscribe(t, "#")
		// Retained messages are queued at subscribing, before anything
		// published later: once the flush arrives, all have.
		op.publish(t, p+"dev/d1/cmd/ping/flush", "flush", false)
		got := d1.until(t, p+"dev/d1/cmd/ping/flush flush")
		slices.Sort(got)
		got = slices.Compact(got) // "#" and "edged/v1/#" both match
		want := []string{
			p + "blob/" + sum + "/0 op", p + "blob/" + sum + "/meta op",
			p + "dev/d1/cmd/ping/flush flush", p + "dev/d1/cmd/rollback/r1 op", p + "group/cams/cmd/promote/g1 op",
		}
		if !slices.Equal(got, want) {
			t.Errorf("d1 received\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("writes", func(t *testing.T) {
		watch := mustConnect(t, b, "operator", "op-secret")
		watch.subscribe(t, "edged/v1/#")
		watch.until(t, p+"dev/d1/cmd/rollback/r1 op") // the retained ones, then live traffic
		d1 := mustConnect(t, b, "d1", pws["d1"])
		allowed := []string{
			p + "dev/d1/state", p + "dev/d1/telemetry", p + "dev/d1/drift", p + "dev/d1/events",
			p + "dev/d1/cmd/rollback/r1/status",
		}
		denied := []string{
			p + "dev/d2/cmd/rollback/forged", // command another device
			p + "dev/d1/cmd/rollback/self",   // command itself
			p + "group/cams/cmd/rollback/g",  // command its group
			p + "group/doors/cmd/rollback/g", // or another
			p + "dev/d2/state", p + "dev/d2/telemetry", p + "dev/d2/events",
			p + "dev/d2/cmd/rollback/r2/status", // forge another device's status
			p + "blob/" + sum + "/meta", p + "blob/" + sum + "/0",
			p + "dev/d1/feedback", p + "other/topic",
		}
		for _, topic := range denied {
			d1.publish(t, topic, "d1", true)
		}
		for _, topic := range allowed {
			d1.publish(t, topic, "d1", false)
		}
		d1.publish(t, p+"dev/d1/events", "flush", false)
		got := watch.until(t, p+"dev/d1/events flush")
		var live []string
		for _, s := range got {
			if strings.HasSuffix(s, " d1") {
				live = append(live, strings.TrimSuffix(s, " d1"))
			}
		}
		if !slices.Equal(live, allowed) {
			t.Errorf("the operator saw d1 publish\n%s\nwant\n%s", strings.Join(live, "\n"), strings.Join(allowed, "\n"))
		}
		// Nothing forged was retained either: a new subscriber gets the
		// operator's retained messages only.
		fresh := mustConnect(t, b, "operator", "op-secret")
		fresh.subscribe(t, "edged/v1/#")
		op.publish(t, p+"dev/d9/cmd/ping/flush", "flush", false)
		for _, s := range fresh.until(t, p+"dev/d9/cmd/ping/flush flush") {
			if strings.HasSuffix(s, " d1") {
				t.Errorf("forged retained message kept: %s", s)
			}
		}
	})
}

// TestExampleACLFleetClient: edged's own fleet client works under the
// example ACL with a device's credentials (birth, will, commands of the
// device and its group), and never sees another device's commands.
func TestExampleACLFleetClient(t *testing.T) {
	b, pws := aclBroker(t)
	op := mustConnect(t, b, "operator", "op-secret")
	op.subscribe(t, p+"dev/d1/state")
	cmd := func(id string) string {
		payload, err := fleet.Encode(&fleet.Command{Op: fleet.OpPing, ID: id, Issued: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return string(payload)
	}
	op.publish(t, p+"dev/d1/cmd/ping/own", cmd("own"), true)
	op.publish(t, p+"dev/d2/cmd/ping/other", cmd("other"), true)
	op.publish(t, p+"group/cams/cmd/ping/grp", cmd("grp"), true)
	op.publish(t, p+"group/doors/cmd/ping/othergrp", cmd("othergrp"), true)

	var mu sync.Mutex
	var ids []string
	c, err := fleet.New(fleet.Options{
		Broker: b.URL(), DeviceID: "d1", Groups: []string{"cams", "doors"}, Username: "d1", Password: pws["d1"],
		Log: slog.New(slog.DiscardHandler), MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		OnCommand: func(_ context.Context, _ fleet.Topic, c fleet.Command) {
			mu.Lock()
			ids = append(ids, c.ID)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// d1 configured in "doors" too (its own mistake or an attacker's
	// edit of its config): the broker still withholds doors' commands.
	testenv.WaitFor(t, "the birth and d1's two commands", 15*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ids) >= 2
	})
	op.publish(t, p+"dev/d1/cmd/ping/last", cmd("last"), false)
	testenv.WaitFor(t, "the last command", 15*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(ids, "last")
	})
	mu.Lock()
	got := slices.Clone(ids)
	mu.Unlock()
	slices.Sort(got)
	if want := []string{"grp", "last", "own"}; !slices.Equal(got, want) {
		t.Errorf("d1's fleet client received commands %v; want %v", got, want)
	}
	testenv.WaitFor(t, "d1's birth", 15*time.Second, func() bool {
		op.mu.Lock()
		defer op.mu.Unlock()
		return slices.ContainsFunc(op.got, func(s string) bool {
			return strings.HasPrefix(s, p+"dev/d1/state ") && strings.Contains(s, `"state":"online"`)
		})
	})
}
