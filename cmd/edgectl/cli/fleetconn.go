package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/edged-dev/edged/fleet"
)

// brokerFlags are the flags of commands that talk to the broker. Values
// not given come from $EDGECTL_* and the config file's context.
type brokerFlags struct {
	context, url, ca, user, password, cert, key string
	connectTimeout                              time.Duration
	set                                         *settings
	// fs is the command's flag set, for commands that add flags to
	// viewFlags' (canary status).
	fs *flag.FlagSet
}

func (f *brokerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.context, "context", "", "config file `context` to use (default $EDGECTL_CONTEXT or the current one)")
	for _, x := range f.fromContext() {
		fs.StringVar(x.flag, x.name, "", x.usage+" (default $"+x.env+" or the context's)")
	}
	fs.StringVar(&f.password, "password", "", "MQTT password (better: $EDGECTL_MQTT_PASSWORD or the context's password-file)")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", 15*time.Second, "give up if the broker cannot be reached within this")
}

// brokerSetting is a flag that defaults to a context's setting.
type brokerSetting struct {
	contextSetting
	flag *string
}

// fromContext lists the flags that default to a context's settings.
func (f *brokerFlags) fromContext() []brokerSetting {
	var out []brokerSetting
	for _, x := range []struct {
		name string
		flag *string
	}{{"broker", &f.url}, {"ca", &f.ca}, {"user", &f.user}, {"cert", &f.cert}, {"cert-key", &f.key}} {
		cs, _ := contextSettingNamed(x.name)
		out = append(out, brokerSetting{cs, x.flag})
	}
	return out
}

// resolve fills what the flags left empty from the environment and the
// context, once.
func (f *brokerFlags) resolve() (*settings, error) {
	if f.set != nil {
		return f.set, nil
	}
	s, err := resolveContext(f.context)
	if err != nil {
		return nil, err
	}
	for _, x := range f.fromContext() {
		if ctx := x.of(&s.Context); *x.flag == "" {
			*x.flag = *ctx
		} else {
			*ctx = *x.flag
		}
	}
	if f.password == "" {
		f.password = s.password
	}
	f.set = s
	return s, nil
}

// brokerURL accepts host, host:port and the URL schemes paho knows;
// mqtt:// and mqtts:// are taken as tcp:// and ssl://. Several separated
// by commas (a cluster's nodes) are each taken so.
func brokerURL(s string) (string, error) {
	if strings.Contains(s, ",") {
		var urls []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			u, err := brokerURL(p)
			if err != nil {
				return "", err
			}
			urls = append(urls, u)
		}
		if len(urls) == 0 {
			return "", fmt.Errorf("%q is not a broker URL; want tcp://host:1883, ssl://host:8883 or host:port", s)
		}
		return strings.Join(urls, ","), nil
	}
	if !strings.Contains(s, "://") {
		host := s
		if _, _, err := net.SplitHostPort(s); err != nil {
			host = net.JoinHostPort(strings.Trim(s, "[]"), "1883")
		}
		s = "tcp://" + host
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a broker URL; want tcp://host:1883, ssl://host:8883 or host:port", s)
	}
	switch u.Scheme {
	case "mqtt":
		u.Scheme = "tcp"
	case "mqtts":
		u.Scheme = "ssl"
	case "tcp", "ssl", "tls", "ws", "wss":
	default:
		return "", fmt.Errorf("broker URL %q: scheme %q; want tcp, ssl, tls, ws or wss", s, u.Scheme)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("broker URL %q has no host", s)
	}
	if u.Port() == "" && (u.Scheme == "tcp" || u.Scheme == "ssl" || u.Scheme == "tls") {
		port := "1883"
		if u.Scheme != "tcp" {
			port = "8883"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u.String(), nil
}

// connect runs a fleet.Client until stop is called and returns once it is
// connected.
func (f *brokerFlags) connect(ctx context.Context) (c *fleet.Client, stop func(), err error) {
	if _, err := f.resolve(); err != nil {
		return nil, nil, err
	}
	if f.url == "" {
		return nil, nil, usageErrorf("no broker: give --broker URL, set $EDGECTL_BROKER, or make a context with 'edgectl config set-context NAME --broker URL --use'")
	}
	if f.url, err = brokerURL(f.url); err != nil {
		return nil, nil, err
	}
	up := make(chan struct{}, 1)
	c, err = fleet.New(fleet.Options{
		Broker: f.url, Username: f.user, Password: f.password, CAFile: f.ca, CertFile: f.cert, KeyFile: f.key,
		MinBackoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second,
		Log: slog.New(slog.DiscardHandler),
		OnConnect: func() {
			select {
			case up <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("broker %s: %s", f.url, Message(err))
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { c.Run(runCtx); close(done) }()
	stop = func() { cancel(); <-done }
	t := time.NewTimer(f.connectTimeout)
	defer t.Stop()
	select {
	case <-up:
		return c, stop, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = fmt.Errorf("cannot reach the broker at %s within %v", f.url, f.connectTimeout)
		if why := connectError(c.Stats().LastError); why != "" {
			err = fmt.Errorf("%w: %s", err, why)
		}
	}
	stop()
	return nil, nil, err
}

// connectError turns the MQTT library's last error into what the
// operator can act on.
func connectError(s string) string {
	low := strings.ToLower(s)
	switch {
	case s == "":
		return "no answer; check that the broker runs and the URL (--broker, $EDGECTL_BROKER or the context's broker)"
	case strings.Contains(low, "not authorized") || strings.Contains(low, "bad user name or password"):
		return "the broker refused the user name or password (--user, $EDGECTL_MQTT_PASSWORD or the context's password-file)"
	case strings.Contains(low, "x509") || strings.Contains(low, "tls"):
		i := strings.LastIndex(s, "tls: ")
		if j := strings.LastIndex(s, "x509: "); j > i {
			i = j
		}
		return "TLS: " + s[max(i, 0):] + " (check --ca, --cert and --cert-key)"
	}
	why := s
	if i := strings.LastIndex(why, ": "); i >= 0 {
		why = why[i+2:]
	}
	return why + "; check that the broker runs and the URL (--broker, $EDGECTL_BROKER or the context's broker)"
}

// retainedStates returns the retained state messages of the devices
// named, waiting at most wait for them (the broker sends retained
// messages at once on subscription). Devices missing from the result have
// never connected to this broker, or were cleared from it.
func retainedStates(ctx context.Context, c *fleet.Client, ids []string, wait time.Duration) map[string]*fleet.State {
	var mu sync.Mutex
	got := map[string]*fleet.State{}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	all := make(chan struct{})
	var once sync.Once
	h := func(topic string, p []byte) {
		t, err := fleet.ParseTopic(topic)
		var st fleet.State
		if err != nil || t.Kind != fleet.KindState || !want[t.Device] || len(p) == 0 || fleet.Decode(p, &st) != nil {
			return
		}
		mu.Lock()
		got[t.Device] = &st
		n := len(got)
		mu.Unlock()
		if n == len(want) {
			once.Do(func() { close(all) })
		}
	}
	var filters []string
	if len(ids) > 16 {
		filters = []string{fleet.Prefix + "/dev/+/state"}
	} else {
		for _, id := range ids {
			filters = append(filters, fleet.StateTopic(id))
		}
	}
	for _, f := range filters {
		if err := c.Subscribe(ctx, f, 1, h); err != nil {
			break
		}
	}
	t := time.NewTimer(wait)
	select {
	case <-all:
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	c.Unsubscribe(context.WithoutCancel(ctx), filters...)
	mu.Lock()
	defer mu.Unlock()
	out := make(map[string]*fleet.State, len(got))
	for k, v := range got {
		out[k] = v
	}
	return out
}

// unseenDevices lists the devices with no retained state.
func unseenDevices(ctx context.Context, c *fleet.Client, ids []string, wait time.Duration) []string {
	states := retainedStates(ctx, c, ids, wait)
	var out []string
	for _, id := range ids {
		if states[id] == nil {
			out = append(out, id)
		}
	}
	return out
}

// modelOf is a model's entry in a device's state.
func modelOf(st *fleet.State, model string) (fleet.ModelState, bool) {
	if st == nil {
		return fleet.ModelState{}, false
	}
	for _, m := range st.Models {
		if m.Name == model {
			return m, true
		}
	}
	return fleet.ModelState{}, false
}
