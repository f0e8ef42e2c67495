package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/internal/mochitest"
	"github.com/edged-dev/edged/internal/mosquittotest"
	"github.com/edged-dev/edged/internal/testenv"
	"github.com/edged-dev/edged/runtime/tensor"
)

// The model the MQTT tests serve: one int8 input [1,2,3] (scale 0.5, zero
// point -1), a quantized int8 output y [1,3] (scale 0.25, zero point 10)
// and a float32 output z [2].
var mqttModel = infer.ModelInfo{
	Name: "m", Version: "3",
	Inputs: []infer.TensorSpec{{Name: "x", DType: tensor.Int8, Shape: []int{1, 2, 3}, Scale: 0.5, ZeroPoint: -1, Quantized: true}},
	Outputs: []infer.TensorSpec{
		{Name: "y", DType: tensor.Int8, Shape: []int{1, 3}, Scale: 0.25, ZeroPoint: 10, Quantized: true},
		{Name: "z", DType: tensor.Float32, Shape: []int{2}},
	},
}

// recordingInferer answers every request with the same outputs (y = [10,
// 14, -2], z = [1.5, -2]) and records the inputs it saw.
type recordingInferer struct {
	info infer.ModelInfo
	mu   sync.Mutex
	seen [][]byte
}

func (r *recordingInferer) Infer(ctx context.Context, model, version string, in []infer.Tensor) ([]infer.Tensor, error) {
	r.mu.Lock()
	r.seen = append(r.seen, append([]byte(nil), in[0].Data...))
	r.mu.Unlock()
	return []infer.Tensor{
		{Name: "y", DType: tensor.Int8, Shape: []int{1, 3}, Data: []byte{10, 14, 0xFE}},
		// 1.5 = 0x3FC00000, -2 = 0xC0000000, little-endian.
		{Name: "z", DType: tensor.Float32, Shape: []int{2}, Data: []byte{0, 0, 0xC0, 0x3F, 0, 0, 0, 0xC0}},
	}, nil
}

func (r *recordingInferer) Model(name, version string) (infer.ModelInfo, error) {
	if name != r.info.Name {
		return infer.ModelInfo{}, fmt.Errorf("%w: %s", infer.ErrModelNotFound, name)
	}
	return r.info, nil
}

func (r *recordingInferer) inputs() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.seen...)
}

func TestDecodePayload(t *testing.T) {
	spec := mqttModel.Inputs[0]
	f32 := infer.TensorSpec{Name: "f", DType: tensor.Float32, Shape: []int{2}}
	tests := []struct {
		name    string
		enc     string
		spec    infer.TensorSpec
		payload string
		want    []byte
		wantErr string
	}{
		// q = round(v / 0.5) - 1, saturated to [-128, 127]:
		// 0.5→0, 1→1, -1→-3 (0xFD), 2→3, 100→199→127, -100→-201→-128.
		{name: "nested", enc: "json", spec: spec, payload: `[[[0.5, 1.0, -1.0], [2.0, 100, -100]]]`, want: []byte{0, 1, 0xFD, 3, 0x7F, 0x80}},
		{name: "flat", enc: "json", spec: spec, payload: `[0.5, 1, -1, 2, 100, -100]`, want: []byte{0, 1, 0xFD, 3, 0x7F, 0x80}},
		// Halves round away from zero like TFLite: 0.25/0.5 = 0.5 → 1 → 0;
		// -0.25/0.5 = -0.5 → -1 → -2 (0xFE); 0.74/0.5 = 1.48 → 1 → 0.
		{name: "half away from zero", enc: "json", spec: spec, payload: `[0.25, -0.25, 0.74, 0, 0, 0]`, want: []byte{0, 0xFE, 0, 0xFF, 0xFF, 0xFF}},
		// 1.5 = 0x3FC00000, -2 = 0xC0000000.
		{name: "float32", enc: "json", spec: f32, payload: `[[1.5], [-2]]`, want: []byte{0, 0, 0xC0, 0x3F, 0, 0, 0, 0xC0}},
		{name: "raw", enc: "raw", spec: spec, payload: "\x01\x02\x03\x04\x05\x06", want: []byte{1, 2, 3, 4, 5, 6}},
		{name: "raw short", enc: "raw", spec: spec, payload: "\x01\x02\x03\x04\x05", wantErr: "raw payload of 5 bytes; input \"x\" int8[1 2 3] needs 6"},
		{name: "raw long", enc: "raw", spec: f32, payload: "123456789", wantErr: "needs 8"},
		{name: "not json", enc: "json", spec: spec, payload: `hello`, wantErr: "json:"},
		{name: "too few", enc: "json", spec: spec, payload: `[1, 2]`, wantErr: "2 numbers; input \"x\" [1 2 3] needs 6"},
		{name: "too many", enc: "json", spec: spec, payload: `[1,2,3,4,5,6,7]`, wantErr: "more than 6 numbers"},
		{name: "string element", enc: "json", spec: spec, payload: `[1,2,"3",4,5,6]`, wantErr: "found a string"},
		{name: "object", enc: "json", spec: spec, payload: `{"x": [1,2,3,4,5,6]}`, wantErr: "found an object"},
		{name: "null", enc: "json", spec: spec, payload: `null`, wantErr: "found null"},
		{name: "empty", enc: "json", spec: spec, payload: ``, wantErr: "json:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodePayload([]byte(tt.payload), tt.enc, tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodePayload(%q) error = %v; want one containing %q", tt.payload, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodePayload(%q): %v", tt.payload, err)
			}
			if !bytes.Equal(got.Data, tt.want) || got.Name != tt.spec.Name || got.DType != tt.spec.DType {
				t.Errorf("decodePayload(%q) = %s %s % x; want %s %s % x", tt.payload, got.Name, got.DType, got.Data, tt.spec.Name, tt.spec.DType, tt.want)
			}
		})
	}
}

func TestEncodeResult(t *testing.T) {
	out, _ := (&recordingInferer{}).Infer(context.Background(), "m", "", []infer.Tensor{{}})
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		deq   bool
		wantY ResultOutput
	}{
		// 0.25 * (q - 10): 10→0, 14→1, -2→-3.
		{name: "dequantized", deq: true, wantY: ResultOutput{Name: "y", Shape: []int{1, 3}, Datatype: "FP32", Data: []float64{0, 1, -3}}},
		{name: "quantized", deq: false, wantY: ResultOutput{Name: "y", Shape: []int{1, 3}, Datatype: "INT8", Data: []float64{10, 14, -2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeResult(mqttModel, out, "s/1", tt.deq, now)
			if err != nil {
				t.Fatal(err)
			}
			var got Result
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			want := Result{Model: "m", Version: "3", InputTopic: "s/1", TS: now, Outputs: []ResultOutput{
				tt.wantY, {Name: "z", Shape: []int{2}, Datatype: "FP32", Data: []float64{1.5, -2}},
			}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("encodeResult = %s\nwant %+v", b, want)
			}
			if !bytes.Contains(b, []byte(`"ts":"2026-03-01T12:00:00Z"`)) {
				t.Errorf("encodeResult = %s; want ts 2026-03-01T12:00:00Z", b)
			}
		})
	}
}

func TestNewMQTTErrors(t *testing.T) {
	inf := &recordingInferer{info: mqttModel}
	ok := MQTTOptions{Broker: "tcp://127.0.0.1:1", Topic: "in/#", ResultTopic: "out", Model: "m"}
	tests := []struct {
		name    string
		edit    func(o *MQTTOptions)
		wantErr string
	}{
		{name: "ok", edit: func(o *MQTTOptions) {}},
		{name: "no broker", edit: func(o *MQTTOptions) { o.Broker = "" }, wantErr: "broker must be set"},
		{name: "no result topic", edit: func(o *MQTTOptions) { o.ResultTopic = "" }, wantErr: "result topic must be set"},
		{name: "wildcard result", edit: func(o *MQTTOptions) { o.ResultTopic = "out/#" }, wantErr: "has a wildcard"},
		{name: "qos", edit: func(o *MQTTOptions) { o.QoS = 3 }, wantErr: "qos 3"},
		{name: "encoding", edit: func(o *MQTTOptions) { o.Encoding = "cbor" }, wantErr: `encoding "cbor"`},
		{name: "unknown model", edit: func(o *MQTTOptions) { o.Model = "nope" }, wantErr: "model not found"},
		{name: "ca file", edit: func(o *MQTTOptions) { o.Broker, o.CAFile = "ssl://127.0.0.1:1", "/nonexistent/ca.pem" }, wantErr: "ca file"},
		{name: "ca on a plain broker", edit: func(o *MQTTOptions) { o.CAFile = "/nonexistent/ca.pem" }, wantErr: "is not TLS"},
		{name: "broker scheme", edit: func(o *MQTTOptions) { o.Broker = "http://127.0.0.1:1" }, wantErr: `scheme "http"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.edit(&o)
			_, err := NewMQTT(o, inf, slog.New(slog.DiscardHandler))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("NewMQTT error = %v; want %q", err, tt.wantErr)
			}
		})
	}
}

// peer is the test's own MQTT client: it publishes inputs and collects
// results.
type peer struct {
	c       mqtt.Client
	results chan mqtt.Message
}

func newPeer(t *testing.T, broker, resultFilter string) *peer {
	t.Helper()
	p := &peer{results: make(chan mqtt.Message, 16)}
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("peer-%d", time.Now().UnixNano())).SetAutoReconnect(false)
	p.c = mqtt.NewClient(o)
	if tok := p.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("peer connect %s: %v", broker, tok.Error())
	}
	if tok := p.c.Subscribe(resultFilter, 1, func(_ mqtt.Client, m mqtt.Message) { p.results <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("peer subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { p.c.Disconnect(100) })
	return p
}

func (p *peer) publish(t *testing.T, topic string, payload []byte) {
	t.Helper()
	if tok := p.c.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("peer publish %s: %v", topic, tok.Error())
	}
}

// result waits for the next result and decodes it.
func (p *peer) result(t *testing.T) (string, Result) {
	t.Helper()
	select {
	case m := <-p.results:
		var r Result
		if err := json.Unmarshal(m.Payload(), &r); err != nil {
			t.Fatalf("result on %s is not JSON: %v: %s", m.Topic(), err, m.Payload())
		}
		return m.Topic(), r
	case <-time.After(10 * time.Second):
		t.Fatal("no result within 10s")
		return "", Result{}
	}
}

// runMQTT starts a source and returns it with a stop function that
// waits for Run to return.
func runMQTT(t *testing.T, o MQTTOptions, inf Inferer) (*MQTT, func()) {
	t.Helper()
	m, err := NewMQTT(o, inf, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v; want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return within 10s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return m, stop
}

// roundTrip publishes a nested JSON input and checks what the model saw
// and the published result, then a raw input on a second source.
func roundTrip(t *testing.T, broker string) {
	inf := &recordingInferer{info: mqttModel}
	m, stop := runMQTT(t, MQTTOptions{Broker: broker, ClientID: "json-src", Topic: "sensors/+/in", ResultTopic: "results/{topic}", QoS: 1, Encoding: "json", Model: "m", Dequantize: true}, inf)
	rawInf := &recordingInferer{info: mqttModel}
	mr, stopRaw := runMQTT(t, MQTTOptions{Broker: broker, ClientID: "raw-src", Topic: "raw/in", ResultTopic: "raw/out", Encoding: "raw", Model: "m"}, rawInf)
	testenv.WaitFor(t, "subscriptions", 10*time.Second, func() bool { return m.Stats().Subscribed == 1 && mr.Stats().Subscribed == 1 })
	p := newPeer(t, broker, "results/#")
	pr := newPeer(t, broker, "raw/out")

	before := time.Now().Add(-time.Second)
	p.publish(t, "sensors/a/in", []byte(`[[[0.5, 1.0, -1.0], [2.0, 100, -100]]]`))
	topic, got := p.result(t)
	if topic != "results/sensors/a/in" {
		t.Errorf("result topic %q; want results/sensors/a/in", topic)
	}
	// Inputs worked in TestDecodePayload; outputs 0.25*(q-10) of [10,14,-2].
	if in := inf.inputs(); len(in) != 1 || !bytes.Equal(in[0], []byte{0, 1, 0xFD, 3, 0x7F, 0x80}) {
		t.Errorf("model saw %v; want one input 00 01 fd 03 7f 80", in)
	}
	want := []ResultOutput{
		{Name: "y", Shape: []int{1, 3}, Datatype: "FP32", Data: []float64{0, 1, -3}},
		{Name: "z", Shape: []int{2}, Datatype: "FP32", Data: []float64{1.5, -2}},
	}
	if got.Model != "m" || got.Version != "3" || got.InputTopic != "sensors/a/in" || !reflect.DeepEqual(got.Outputs, want) {
		t.Errorf("result %+v; want model m version 3 input_topic sensors/a/in outputs %+v", got, want)
	}
	if got.TS.Before(before) || got.TS.After(time.Now().Add(time.Second)) {
		t.Errorf("result ts %v; want about now", got.TS)
	}

	pr.publish(t, "raw/in", []byte{1, 2, 3, 4, 5, 6})
	_, got = pr.result(t)
	if in := rawInf.inputs(); len(in) != 1 || !bytes.Equal(in[0], []byte{1, 2, 3, 4, 5, 6}) {
		t.Errorf("raw model saw %v; want 01 02 03 04 05 06", in)
	}
	wantRaw := []ResultOutput{
		{Name: "y", Shape: []int{1, 3}, Datatype: "INT8", Data: []float64{10, 14, -2}},
		{Name: "z", Shape: []int{2}, Datatype: "FP32", Data: []float64{1.5, -2}},
	}
	if !reflect.DeepEqual(got.Outputs, wantRaw) || got.InputTopic != "raw/in" {
		t.Errorf("raw result %+v; want outputs %+v", got, wantRaw)
	}
	stop()
	stopRaw()
}

func TestMQTTRoundTrip(t *testing.T) {
	testenv.CheckLeaks(t)
	addr := testenv.FreeAddr(t)
	stopB := mochitest.Start(t, addr)
	defer stopB()
	roundTrip(t, "tcp://"+addr)
}

func TestMQTTBadPayloads(t *testing.T) {
	testenv.CheckLeaks(t)
	addr := testenv.FreeAddr(t)
	stopB := mochitest.Start(t, addr)
	defer stopB()
	broker := "tcp://" + addr
	inf := &recordingInferer{info: mqttModel}
	m, stop := runMQTT(t, MQTTOptions{Broker: broker, Topic: "in", ResultTopic: "out", Model: "m", MaxPayload: 64}, inf)
	defer stop()
	testenv.WaitFor(t, "subscription", 10*time.Second, func() bool { return m.Stats().Subscribed == 1 })
	p := newPeer(t, broker, "out")
	for _, bad := range []string{
		`not json`,
		`[1, 2]`,
		`[1, 2, "x", 4, 5, 6]`,
		"[" + strings.Repeat("0,", 40) + "0]", // 83 bytes > 64
	} {
		p.publish(t, "in", []byte(bad))
	}
	p.publish(t, "in", []byte(`[0.5, 1, -1, 2, 100, -100]`))
	if _, r := p.result(t); r.InputTopic != "in" {
		t.Errorf("result for input topic %q; want in", r.InputTopic)
	}
	select {
	case extra := <-p.results:
		t.Errorf("unexpected second result %s", extra.Payload())
	case <-time.After(100 * time.Millisecond):
	}
	st := m.Stats()
	if st.Received != 5 || st.BadPayload != 4 || st.Published != 1 || st.InferErrors != 0 {
		t.Errorf("stats %+v; want received 5, bad 4, published 1, infer errors 0", st)
	}
	if n := len(inf.inputs()); n != 1 {
		t.Errorf("model ran %d times; want 1", n)
	}
}

func TestMQTTReconnect(t *testing.T) {
	testenv.CheckLeaks(t)
	addr := testenv.FreeAddr(t)
	broker := "tcp://" + addr
	stopB := mochitest.Start(t, addr)
	inf := &recordingInferer{info: mqttModel}
	m, stop := runMQTT(t, MQTTOptions{Broker: broker, Topic: "in", ResultTopic: "out", Model: "m",
		MinReconnect: 20 * time.Millisecond, MaxReconnect: 200 * time.Millisecond}, inf)
	defer stop()
	testenv.WaitFor(t, "first subscription", 10*time.Second, func() bool { return m.Stats().Subscribed == 1 })
	p := newPeer(t, broker, "out")
	p.publish(t, "in", []byte(`[0,0,0,0,0,0]`))
	p.result(t)
	p.c.Disconnect(50)

	stopB()
	time.Sleep(300 * time.Millisecond) // a few failed attempts
	stopB2 := mochitest.Start(t, addr)
	defer stopB2()
	testenv.WaitFor(t, "resubscription", 10*time.Second, func() bool { return m.Stats().Subscribed == 2 })
	p2 := newPeer(t, broker, "out")
	p2.publish(t, "in", []byte(`[0,0,0,0,0,0]`))
	p2.result(t)
	// The peer can hear the result before the source's publish call has
	// returned and been counted.
	testenv.WaitFor(t, "second publish counted", 10*time.Second, func() bool { return m.Stats().Published == 2 })
	if st := m.Stats(); st.Connects != 2 || st.Published != 2 {
		t.Errorf("stats %+v; want 2 connects, 2 published", st)
	}
	stop()
}

// TestMQTTUnreachable: with no broker, Run keeps retrying and still
// returns promptly, with nothing left running, when ctx ends.
func TestMQTTUnreachable(t *testing.T) {
	testenv.CheckLeaks(t)
	m, stop := runMQTT(t, MQTTOptions{Broker: "tcp://" + testenv.FreeAddr(t), Topic: "in", ResultTopic: "out", Model: "m",
		MinReconnect: 10 * time.Millisecond, MaxReconnect: 20 * time.Millisecond}, &recordingInferer{info: mqttModel})
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %v to stop; want < 2s", d)
	}
	if st := m.Stats(); st.Connects != 0 {
		t.Errorf("stats %+v; want no connects", st)
	}
}

// TestMQTTMosquitto runs the round trip against a real mosquitto broker
// when one is installed (CI installs it).
func TestMQTTMosquitto(t *testing.T) {
	testenv.CheckLeaks(t)
	roundTrip(t, mosquittotest.Start(t, nil).URL())
}
