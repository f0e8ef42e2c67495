package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/testenv"
)

// browser starts Debian's chromium headless with a fresh profile, driven
// over the DevTools protocol by chromedp (a maintained client of the
// protocol: --dump-dom cannot read a page with JavaScript off, as it
// reads the DOM with a script). It stops when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Missing(t, "chromium is not installed: %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1200))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// load opens url in a new tab of the browser, with JavaScript on or off,
// and returns the DOM once the page has loaded (with JavaScript, once the
// page's script has updated it from /v1/status); shot, if not nil,
// receives a PNG of the whole page.
func load(t *testing.T, b context.Context, url string, js bool, shot *[]byte) string {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b)
	defer cancel()
	ctx, cancelTime := context.WithTimeout(ctx, time.Minute)
	defer cancelTime()
	scripts := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !js})
		return err
	})
	if err := chromedp.Do(ctx, scripts, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("footer"))); err != nil {
		t.Fatalf("load %s (JavaScript %v): %v", url, js, err)
	}
	if js {
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("live").textContent.startsWith("live:")`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Errorf("the page's script did not update it from /v1/status: %v", err)
		}
	}
	dom, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatalf("read the page's DOM: %v", err)
	}
	if shot != nil {
		if *shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
			t.Fatalf("screenshot: %v", err)
		}
	}
	return dom
}

// frameSize opens url with JavaScript on and returns the size of the
// first source thumbnail as the browser decoded it, once it has.
func frameSize(t *testing.T, b context.Context, url string) [2]int {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b)
	defer cancel()
	ctx, cancelTime := context.WithTimeout(ctx, time.Minute)
	defer cancelTime()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("footer"))); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	const loaded = `(function(){var i=document.querySelector("img.frame");return !!i&&i.complete&&i.naturalWidth>0})()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](loaded, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Errorf("the browser did not load the source's thumbnail: %v", err)
		return [2]int{}
	}
	size, err := chromedp.Run(ctx, chromedp.Evaluate[[2]int](`(function(){var i=document.querySelector("img.frame");return [i.naturalWidth,i.naturalHeight]})()`))
	if err != nil {
		t.Fatalf("read the thumbnail's size: %v", err)
	}
	return size
}

// figure reads a number the page shows under data-f="key".
func figure(t *testing.T, dom, key string) string {
	t.Helper()
	m := regexp.MustCompile(`data-f="` + regexp.QuoteMeta(key) + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("page has no figure %q", key)
	}
	return m[1]
}

// TestConsoleInBrowser loads the status page of edged serving the README's
// demo (examples/demo.yaml) with a fleet link to a real mosquitto in a
// real headless browser, with JavaScript off and on: the sections are
// there, the figures move between two loads, the script's live update
// ran; it saves a screenshot (path in the log; EDGED_ARTIFACTS names the
// directory). /metrics passes promtool's checks, and the telemetry
// snapshots are measured against the budget (40 KB an hour at 60 s).
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a broker and a browser")
	}
	checkAgentLeaks(t)
	addr := startBroker(t)
	demo, err := os.ReadFile("../examples/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(demo), "127.0.0.1:9410", "127.0.0.1:0", 1)
	doc = strings.Replace(doc, "state_dir: /tmp/edged-demo", "state_dir: "+t.TempDir(), 1)
	doc = strings.Replace(doc, "interval: 2s", "interval: 100ms", 1)
	doc += fmt.Sprintf("device: {id: pi-console}\nfleet: {broker: \"tcp://%s\", min_backoff: 50ms, max_backoff: 200ms}\ntelemetry: {interval: 1s}\n", addr)
	examples, err := filepath.Abs("../examples")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(doc), examples)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a.hist.step = 500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	hostport, err := a.Addr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + hostport.String() + "/"

	// An operator: telemetry sizes, and two commands for the history.
	var mu sync.Mutex
	var snapshot []byte
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("operator")
	op := mqtt.NewClient(o)
	if tok := op.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("operator connect: %v", tok.Error())
	}
	defer op.Disconnect(100)
	if tok := op.Subscribe(fleet.TelemetryTopic("pi-console"), 0, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		snapshot = append([]byte(nil), m.Payload()...)
		mu.Unlock()
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	testenv.WaitFor(t, "the fleet link", 10*time.Second, func() bool { st := a.Status(); return st.Link != nil && st.Link.Connected })
	for _, c := range []fleet.Command{{V: 1, Op: "ping", ID: "ping-1"}, {V: 1, Op: "deploy", ID: "deploy-1"}} {
		c.Issued = time.Now().UTC()
		b, err := fleet.Encode(&c)
		if err != nil {
			t.Fatal(err)
		}
		op.Publish(fleet.CommandTopic("pi-console", c.Op, c.ID), 1, false, b).WaitTimeout(5 * time.Second)
	}
	testenv.WaitFor(t, "two commands answered and a minute's samples", 20*time.Second, func() bool {
		st := a.Status()
		return len(st.Commands) == 2 && len(st.Models) == 1 && st.Models[0].History != nil && len(st.Models[0].History.Rate) >= 8
	})

	// JavaScript off: the page as served is complete.
	b := browser(t)
	dom1 := load(t, b, url, false, nil)
	for _, want := range []string{`<header id="head">`, `<section id="system">`, `<section id="models">`, `<section id="sources">`,
		`<section id="ota">`, `<section id="events">`, `pi-console`, `<b class="pill ok" data-f="link">connected</b>`,
		`person_detect</a> version 1`, `synthetic0`, `<polyline`, `pong`, `op "deploy" is not handled by this device`,
		`<img class="frame" data-f="s0.frame" src="/v1/sources/synthetic0/frame?t=`} {
		if !strings.Contains(dom1, want) {
			t.Errorf("page (JavaScript off) lacks %q", want)
		}
	}
	if strings.HasPrefix(figure(t, dom1, "live"), "live:") {
		t.Error("page (JavaScript off) shows a live update; the script should not have run")
	}
	answered1, out1 := figure(t, dom1, "m0.answered"), figure(t, dom1, "s0.out")
	time.Sleep(time.Second) // the source reads every 100 ms
	dom2 := load(t, b, url, false, nil)
	answered2, out2 := figure(t, dom2, "m0.answered"), figure(t, dom2, "s0.out")
	n1, _ := strconv.Atoi(answered1)
	n2, _ := strconv.Atoi(answered2)
	if n1 < 1 || n2 <= n1 || out2 == out1 {
		t.Errorf("answered %s then %s, source results %s then %s over two loads; want both to grow", answered1, answered2, out1, out2)
	}

	// JavaScript on: the script fetched /v1/status and updated the page.
	var png []byte
	dom3 := load(t, b, url, true, &png)
	if live := figure(t, dom3, "live"); !strings.HasPrefix(live, "live: figures updated") {
		t.Errorf("page (JavaScript on) says %q; want a live update from /v1/status", live)
	}
	if n3, _ := strconv.Atoi(figure(t, dom3, "m0.answered")); n3 <= n2 {
		t.Errorf("answered %d with JavaScript on after %d; want more", n3, n2)
	}

	// The thumbnail of the demo's 96×96 input, with its caption line.
	if size := frameSize(t, b, url); size != [2]int{96, 111} {
		t.Errorf("the browser decoded the thumbnail as %dx%d; want 96x111", size[0], size[1])
	}

	dir := os.Getenv("EDGED_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	shot := filepath.Join(dir, "edged-console.png")
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot is not a PNG (%d bytes)", len(png))
	} else if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot: %s", shot)

	// /metrics passes promtool's checks.
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.Missing(t, "promtool (Debian's prometheus package) is not installed: %v", err)
	}
	resp, err := http.Get("http://" + hostport.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"edged_fleet_connected 1", `edged_source_results_total{source="synthetic0"}`, `edged_collector_success{collector="memory"} 1`, "edged_host_memory_used_bytes"} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(metrics)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	// Telemetry: the snapshot as published, framed as a QoS 0 PUBLISH.
	mu.Lock()
	snap := snapshot
	mu.Unlock()
	if len(snap) == 0 {
		t.Fatal("no telemetry snapshot received")
	}
	perMsg := len(snap) + 1 + 2 + 2 + len(fleet.TelemetryTopic("pi-console"))
	t.Logf("telemetry snapshot %d bytes: %s", len(snap), snap)
	t.Logf("telemetry: %d bytes per message, %.1f KB per hour at 60 s", perMsg, float64(perMsg*60)/1000)
	if perMsg*60 >= 40_000 {
		t.Errorf("telemetry costs %d bytes an hour at 60 s; want under 40 KB", perMsg*60)
	}
}
