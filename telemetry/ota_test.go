package telemetry

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/internal/testenv"
)

type fakeOTA struct{ o *fleet.OTATelemetry }

func (f fakeOTA) OTATelemetry() *fleet.OTATelemetry { return f.o }

type fakeCanaries []fleet.CanaryTelemetry

func (f fakeCanaries) CanaryTelemetry() []fleet.CanaryTelemetry { return f }

// at is 2026-12-07 06:00:00 UTC, 1796623200 in Unix seconds.
var otaAt = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)

// otaFixture: person_detect deployed (version 7 over 6) 10 minutes before
// otaAt, kws rolled back two hours before, version 3 of kws downloading
// (1.5 of 4 MiB), two rollbacks.
func otaFixture() *fleet.OTATelemetry {
	return &fleet.OTATelemetry{
		Models: []fleet.ModelOTA{
			{Name: "kws", Version: "2", Op: "rollback", Outcome: "done", At: otaAt.Unix() - 7200},
			{Name: "person_detect", Version: "7", Previous: "6", Op: "deploy", Outcome: "active", At: otaAt.Unix() - 600},
		},
		Downloads: []fleet.DownloadTelemetry{{Model: "kws", Version: "3", Bytes: 1572864, Size: 4194304}},
		Rollbacks: 2,
	}
}

// canaryFixture: version 8 of person_detect in canary: 900 requests on the
// active arm (3 failed), 100 on the candidate; medians 12.5 and 14 ms,
// p99 30 and 41 ms, means 13 and 15 ms; 500 shadow comparisons, 1%
// disagreeing; p = 0.25 by Fisher's test.
func canaryFixture() fleet.CanaryTelemetry {
	p := 0.25
	return fleet.CanaryTelemetry{Model: "person_detect", Candidate: "8", Phase: "canary", ElapsedS: 120,
		Shadow: &fleet.ShadowTelemetry{N: 500, Disagree: 0.01, ActiveP50: 12, CandP50: 13.5},
		Active: &fleet.ArmTelemetry{N: 900, Errors: 3, P50: 12.5, P99: 30, Mean: 13},
		Cand:   &fleet.ArmTelemetry{N: 100, P50: 14, P99: 41, Mean: 15},
		P:      &p, Test: "fisher"}
}

// TestOTAAndCanaryMetrics: the series of the OTA and canary collectors,
// with values worked by hand from the fixtures (latency sums: 897 × 13 ms
// = 11.661 s, 100 × 15 ms = 1.5 s), pass promtool's checks.
func TestOTAAndCanaryMetrics(t *testing.T) {
	set := NewSet(nil, Named{"ota", OTA{Src: fakeOTA{otaFixture()}}}, Named{"canary", Canaries{Src: fakeCanaries{canaryFixture()}}})
	want := `
# HELP edged_canary_errors_total Requests each arm failed since the canary phase began.
# TYPE edged_canary_errors_total counter
edged_canary_errors_total{arm="active",model="person_detect"} 3
edged_canary_errors_total{arm="candidate",model="person_detect"} 0
# HELP edged_canary_latency_seconds Latency of the requests each arm answered since the canary phase began.
# TYPE edged_canary_latency_seconds summary
edged_canary_latency_seconds{arm="active",model="person_detect",quantile="0.5"} 0.0125
edged_canary_latency_seconds{arm="active",model="person_detect",quantile="0.99"} 0.03
edged_canary_latency_seconds_sum{arm="active",model="person_detect"} 11.661
edged_canary_latency_seconds_count{arm="active",model="person_detect"} 897
edged_canary_latency_seconds{arm="candidate",model="person_detect",quantile="0.5"} 0.014
edged_canary_latency_seconds{arm="candidate",model="person_detect",quantile="0.99"} 0.041
edged_canary_latency_seconds_sum{arm="candidate",model="person_detect"} 1.5
edged_canary_latency_seconds_count{arm="candidate",model="person_detect"} 100
# HELP edged_canary_p_value Two-sided p-value of the A/B test between the arms, with the test (fisher, z, welch-z).
# TYPE edged_canary_p_value gauge
edged_canary_p_value{model="person_detect",test="fisher"} 0.25
# HELP edged_canary_phase Candidate version under evaluation for each model (value 1), with its phase: shadow, canary or hold.
# TYPE edged_canary_phase gauge
edged_canary_phase{candidate="8",model="person_detect",phase="canary"} 1
# HELP edged_canary_requests_total Requests each arm (active or candidate) served since the canary phase began.
# TYPE edged_canary_requests_total counter
edged_canary_requests_total{arm="active",model="person_detect"} 900
edged_canary_requests_total{arm="candidate",model="person_detect"} 100
# HELP edged_canary_shadow_comparisons_total Shadow comparisons of the candidate with the active version.
# TYPE edged_canary_shadow_comparisons_total counter
edged_canary_shadow_comparisons_total{model="person_detect"} 500
# HELP edged_canary_shadow_disagreement_ratio Share of the shadow comparisons whose top class differed.
# TYPE edged_canary_shadow_disagreement_ratio gauge
edged_canary_shadow_disagreement_ratio{model="person_detect"} 0.01
# HELP edged_collector_success 1 when the collector gave its figures at the last reading, 0 when it had no data on this host or failed.
# TYPE edged_collector_success gauge
edged_collector_success{collector="canary"} 1
edged_collector_success{collector="ota"} 1
# HELP edged_ota_active_version Version of each model active in the model store (deployed over the air).
# TYPE edged_ota_active_version gauge
edged_ota_active_version{model="kws"} 2
edged_ota_active_version{model="person_detect"} 7
# HELP edged_ota_download_bytes Bytes held of each model file being downloaded.
# TYPE edged_ota_download_bytes gauge
edged_ota_download_bytes{model="kws",version="3"} 1572864
# HELP edged_ota_download_size_bytes Size of each model file being downloaded.
# TYPE edged_ota_download_size_bytes gauge
edged_ota_download_size_bytes{model="kws",version="3"} 4194304
# HELP edged_ota_last_outcome_timestamp_seconds When the last command or canary decision on each model ended (Unix time), with the command and its outcome (active, shadow, canary, rolled_back, failed, rejected, skipped, done, ...).
# TYPE edged_ota_last_outcome_timestamp_seconds gauge
edged_ota_last_outcome_timestamp_seconds{model="kws",op="rollback",outcome="done"} 1796616000
edged_ota_last_outcome_timestamp_seconds{model="person_detect",op="deploy",outcome="active"} 1796622600
# HELP edged_ota_previous_version Version of each model that a rollback returns to.
# TYPE edged_ota_previous_version gauge
edged_ota_previous_version{model="person_detect"} 6
# HELP edged_ota_rollbacks_total Model versions left for an earlier one: rollback commands, candidates rolled back, versions that failed to start, crash loops.
# TYPE edged_ota_rollbacks_total counter
edged_ota_rollbacks_total 2
`
	if err := testutil.CollectAndCompare(set.Metrics(), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	promtoolCheck(t, set.Metrics())

	// Without a model store (no deployments taken): no OTA series, and
	// its collector says it had no data.
	none := NewSet(nil, Named{"ota", OTA{Src: fakeOTA{}}})
	if err := testutil.CollectAndCompare(none.Metrics(), strings.NewReader(`
# HELP edged_collector_success 1 when the collector gave its figures at the last reading, 0 when it had no data on this host or failed.
# TYPE edged_collector_success gauge
edged_collector_success{collector="ota"} 0
`)); err != nil {
		t.Error(err)
	}
}

// promtoolCheck runs promtool check metrics on c's exposition.
func promtoolCheck(t *testing.T, c prometheus.Collector) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.Missing(t, "promtool (Debian's prometheus package) is not installed: %v", err)
		return
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestWireOTA: the snapshot carries the models whose last outcome is
// under an hour old and the downloads; without either, no section.
func TestWireOTA(t *testing.T) {
	w := wireOTA(otaFixture(), otaAt)
	if w == nil || len(w.Models) != 1 || w.Models[0].Name != "person_detect" || len(w.Downloads) != 1 || w.Rollbacks != 2 {
		t.Errorf("wireOTA = %+v; want person_detect (10 minutes old, not kws: 2 hours), the download and 2 rollbacks", w)
	}
	old := otaFixture()
	old.Downloads = nil
	if w := wireOTA(old, otaAt.Add(time.Hour)); w != nil {
		t.Errorf("wireOTA an hour later without a download = %+v; want nil", w)
	}
	if w := wireOTA(nil, otaAt); w != nil {
		t.Errorf("wireOTA(nil) = %+v; want nil", w)
	}
}

// TestSnapshotOTAAndCanary: the published snapshot, decoded as the fleet
// reads it, has the recent OTA news and the canary figures (field names
// as docs/ARCHITECTURE.md gives them); the steady state of a device whose
// last deployment is over an hour old costs nothing more.
func TestSnapshotOTAAndCanary(t *testing.T) {
	now := func() time.Time { return otaAt }
	p := &Publisher{Topic: fleet.TelemetryTopic("d"), Interval: time.Minute, Now: now,
		Collectors: []Collector{OTA{Src: fakeOTA{otaFixture()}}, Canaries{Src: fakeCanaries{canaryFixture()}}}}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes: %s", len(b), b)
	for _, field := range []string{
		`"ota":{"models":[{"name":"person_detect","version":"7","previous":"6","op":"deploy","outcome":"active","at":1796622600}]`,
		`"downloads":[{"model":"kws","version":"3","bytes":1572864,"size":4194304}],"rollbacks":2}`,
		`"canary":[{"model":"person_detect","candidate":"8","phase":"canary","elapsed_s":120,"shadow":{"n":500,"disagree":0.01,"active_p50_ms":12,"cand_p50_ms":13.5},` +
			`"active":{"n":900,"errors":3,"p50_ms":12.5,"p99_ms":30},"cand":{"n":100,"p50_ms":14,"p99_ms":41},"p":0.25,"test":"fisher"}]`,
	} {
		if !strings.Contains(string(b), field) {
			t.Errorf("snapshot lacks %s", field)
		}
	}
	var back fleet.Telemetry
	if err := fleet.Decode(b, &back); err != nil || back.OTA == nil || len(back.Canaries) != 1 || *back.Canaries[0].P != 0.25 {
		t.Errorf("Decode(snapshot) = %v, %+v; want the OTA section and one canary", err, back)
	}

	old := otaFixture()
	old.Downloads = nil
	p.Collectors = []Collector{OTA{Src: fakeOTA{old}}, Canaries{Src: fakeCanaries{}}}
	p.Now = func() time.Time { return otaAt.Add(time.Hour) }
	if b, err := p.Encode(); err != nil || strings.Contains(string(b), `"ota"`) || strings.Contains(string(b), `"canary"`) {
		t.Errorf("steady state: %s, %v; want no ota or canary section", b, err)
	}
}
