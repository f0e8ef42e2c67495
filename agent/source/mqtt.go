package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/internal/mqttconn"
	"github.com/edged-dev/edged/runtime/tensor"
)

// MQTTOptions configures an MQTT source. The zero value of each optional
// field means the default named in its comment.
type MQTTOptions struct {
	// Broker is the broker URL: tcp://host:1883, ssl://host:8883 (also
	// tls://, mqtts://) or ws://, wss://.
	Broker string
	// ClientID must be unique per broker connection; default
	// "edged-src-<model>-<pid>".
	ClientID string
	Username string
	Password string
	// CAFile is a PEM bundle trusted for the broker's certificate instead of
	// the system roots; CertFile and KeyFile a client certificate.
	CAFile   string
	CertFile string
	KeyFile  string

	// Topic is the filter subscribed to; '+' and '#' wildcards allowed.
	Topic string
	// ResultTopic is where results go; "{topic}" in it is replaced by the
	// topic the input arrived on.
	ResultTopic string
	// QoS of the subscription and of the results: 0, 1 or 2.
	QoS byte
	// Encoding of inputs: "json" (an array of numbers, nested as you like,
	// real values for quantized inputs) or "raw" (the input's little-endian
	// bytes, exactly).
	Encoding string
	// MaxPayload bounds an input message in bytes; default 1 MiB.
	MaxPayload int

	// Model and Version the inputs go to (Version "" follows the current).
	Model   string
	Version string
	// Dequantize publishes quantized outputs as real values (FP32).
	Dequantize bool

	// Queue is how many received inputs may wait for inference; beyond it
	// inputs are dropped and counted. Default 16.
	Queue int
	// RequestTimeout bounds one inference; default 10s.
	RequestTimeout time.Duration
	// ConnectTimeout bounds one connection attempt; default 5s.
	ConnectTimeout time.Duration
	// MinReconnect and MaxReconnect bound the exponential backoff between
	// connection attempts; defaults 500ms and 1m.
	MinReconnect time.Duration
	MaxReconnect time.Duration
}

// MQTTStats counts what an MQTT source has seen.
type MQTTStats struct {
	Connects    uint64 // connections established
	Subscribed  uint64 // subscriptions acknowledged (one per connection)
	Received    uint64 // input messages received
	BadPayload  uint64 // inputs rejected: malformed, wrong size, oversize
	Dropped     uint64 // inputs dropped because the queue was full
	InferErrors uint64 // inferences that failed
	Published   uint64 // results the broker accepted
	PublishErrs uint64 // results that could not be published
}

// MQTT feeds a model from an MQTT topic and publishes each result.
type MQTT struct {
	opts MQTTOptions
	inf  Inferer
	log  *slog.Logger
	warn *rateLog
	sess *mqttconn.Session

	connects, subscribed, received, badPayload, dropped, inferErrs, published, publishErrs atomic.Uint64
}

// NewMQTT checks the options (and that the model is served) and reads the
// TLS files; it does not connect.
func NewMQTT(o MQTTOptions, inf Inferer, log *slog.Logger) (*MQTT, error) {
	if o.Broker == "" {
		return nil, errors.New("mqtt source: broker must be set")
	}
	if o.Topic == "" || o.ResultTopic == "" {
		return nil, errors.New("mqtt source: topic and result topic must be set")
	}
	if strings.ContainsAny(strings.ReplaceAll(o.ResultTopic, "{topic}", ""), "+#") {
		return nil, fmt.Errorf("mqtt source: result topic %q has a wildcard", o.ResultTopic)
	}
	if o.QoS > 2 {
		return nil, fmt.Errorf("mqtt source: qos %d: want 0, 1 or 2", o.QoS)
	}
	switch o.Encoding {
	case "":
		o.Encoding = "json"
	case "json", "raw":
	default:
		return nil, fmt.Errorf("mqtt source: encoding %q: want json or raw", o.Encoding)
	}
	if o.MaxPayload < 0 || o.Queue < 0 {
		return nil, errors.New("mqtt source: max payload and queue must be >= 0")
	}
	setDefault(&o.MaxPayload, 1<<20)
	setDefault(&o.Queue, 16)
	setDefault(&o.RequestTimeout, 10*time.Second)
	setDefault(&o.ConnectTimeout, 5*time.Second)
	setDefault(&o.MinReconnect, 500*time.Millisecond)
	setDefault(&o.MaxReconnect, time.Minute)
	if o.ClientID == "" {
		o.ClientID = fmt.Sprintf("edged-src-%s-%d", o.Model, os.Getpid())
	}
	if _, err := inf.Model(o.Model, o.Version); err != nil {
		return nil, fmt.Errorf("mqtt source: %w", err)
	}
	m := &MQTT{opts: o, inf: inf, log: log, warn: newRateLog(log, 10*time.Second)}
	t, err := mqttconn.TLSConfig(o.Broker, mqttconn.TLS{CAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile})
	if err != nil {
		return nil, fmt.Errorf("mqtt source: %w", err)
	}
	m.sess, err = mqttconn.NewSession(mqttconn.SessionOptions{
		Broker: o.Broker, ClientID: o.ClientID, Username: o.Username, Password: o.Password, TLS: t,
		ConnectTimeout: o.ConnectTimeout, MinBackoff: o.MinReconnect, MaxBackoff: o.MaxReconnect,
		Setup: m.subscribe, Queue: o.Queue,
		Handle: func(ctx context.Context, msg mqtt.Message) { m.handle(ctx, msg.Topic(), msg.Payload()) },
		// A message above MaxPayload (and the longest topic) is never read
		// into memory: it arrives empty, and counts as a bad payload.
		MaxMessage: o.MaxPayload + 64<<10,
		OnOversize: func(topic string, size int) {
			m.warn.Warn("payload", "mqtt source: payload too large; dropped unread", "topic", topic, "bytes", size, "max", m.opts.MaxPayload)
		},
		OnLost: func(err error) {
			m.log.Warn("mqtt source: connection lost", "broker", m.opts.Broker, "err", err)
		},
		OnFail: func(err error, retryIn time.Duration) {
			m.warn.Warn("connect", "mqtt source: cannot connect", "broker", m.opts.Broker, "retry_in", retryIn, "err", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("mqtt source: %w", err)
	}
	return m, nil
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Stats returns the counters.
func (m *MQTT) Stats() MQTTStats {
	return MQTTStats{
		Connects: m.connects.Load(), Subscribed: m.subscribed.Load(), Received: m.received.Load(),
		BadPayload: m.badPayload.Load(), Dropped: m.dropped.Load(), InferErrors: m.inferErrs.Load(),
		Published: m.published.Load(), PublishErrs: m.publishErrs.Load(),
	}
}

// Run connects, subscribes and serves until ctx ends, reconnecting with
// exponential backoff whenever the connection drops; it returns nil once
// ctx ends and every goroutine it started has stopped.
func (m *MQTT) Run(ctx context.Context) error {
	m.sess.Run(ctx)
	return nil
}

// subscribe sets up a new connection.
func (m *MQTT) subscribe(ctx context.Context, c mqtt.Client) error {
	m.connects.Add(1)
	if err := m.sess.Send(ctx, c, m.opts.ConnectTimeout, func(c mqtt.Client) mqtt.Token { return c.Subscribe(m.opts.Topic, m.opts.QoS, m.receive) }); err != nil {
		return fmt.Errorf("subscribe %q: %w", m.opts.Topic, err)
	}
	m.subscribed.Add(1)
	m.log.Info("mqtt source: subscribed", "broker", m.opts.Broker, "topic", m.opts.Topic, "qos", m.opts.QoS, "model", m.opts.Model)
	return nil
}

// receive runs on paho's router goroutine, so it never blocks: a full
// queue drops the input.
func (m *MQTT) receive(_ mqtt.Client, msg mqtt.Message) {
	m.received.Add(1)
	if !m.sess.Enqueue(msg) {
		m.dropped.Add(1)
		m.warn.Warn("drop", "mqtt source: queue full, input dropped", "topic", msg.Topic(), "queue", m.sess.QueueCap())
	}
}

// handle runs one input through the model and publishes the result.
func (m *MQTT) handle(ctx context.Context, topic string, payload []byte) {
	mi, err := m.inf.Model(m.opts.Model, m.opts.Version)
	if err != nil {
		m.inferErrs.Add(1)
		m.warn.Warn("model", "mqtt source: model not served", "model", m.opts.Model, "err", err)
		return
	}
	if len(payload) > m.opts.MaxPayload {
		m.badPayload.Add(1)
		m.warn.Warn("payload", "mqtt source: payload too large", "topic", topic, "bytes", len(payload), "max", m.opts.MaxPayload)
		return
	}
	if len(mi.Inputs) != 1 {
		m.badPayload.Add(1)
		m.warn.Warn("payload", "mqtt source: model does not have exactly one input", "model", mi.Name, "inputs", len(mi.Inputs))
		return
	}
	in, err := decodePayload(payload, m.opts.Encoding, mi.Inputs[0])
	if err != nil {
		m.badPayload.Add(1)
		m.warn.Warn("payload", "mqtt source: bad payload", "topic", topic, "bytes", len(payload), "err", err)
		return
	}
	ictx, cancel := context.WithTimeout(ctx, m.opts.RequestTimeout)
	out, err := m.inf.Infer(ictx, m.opts.Model, m.opts.Version, []infer.Tensor{in})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		m.inferErrs.Add(1)
		if errors.Is(err, infer.ErrBadInput) {
			m.badPayload.Add(1)
		}
		m.warn.Warn("infer", "mqtt source: inference failed", "topic", topic, "model", m.opts.Model, "err", err)
		return
	}
	body, err := encodeResult(mi, out, topic, m.opts.Dequantize, time.Now())
	if err != nil {
		m.publishErrs.Add(1)
		m.warn.Warn("publish", "mqtt source: cannot encode result", "err", err)
		return
	}
	c := m.sess.Client()
	if c == nil {
		m.publishErrs.Add(1)
		m.warn.Warn("publish", "mqtt source: not connected, result dropped", "topic", topic)
		return
	}
	rt := strings.ReplaceAll(m.opts.ResultTopic, "{topic}", topic)
	if err := m.sess.Send(ctx, c, m.opts.RequestTimeout, func(c mqtt.Client) mqtt.Token { return c.Publish(rt, m.opts.QoS, false, body) }); err != nil {
		m.publishErrs.Add(1)
		m.warn.Warn("publish", "mqtt source: publish failed", "topic", rt, "err", err)
		return
	}
	m.published.Add(1)
}

// decodePayload turns an input message into the model's input tensor.
func decodePayload(p []byte, encoding string, spec infer.TensorSpec) (infer.Tensor, error) {
	n := tensor.NumElements(spec.Shape)
	t := infer.Tensor{Name: spec.Name, DType: spec.DType, Shape: spec.Shape}
	if encoding == "raw" {
		if want := n * spec.DType.Size(); len(p) != want {
			return t, fmt.Errorf("raw payload of %d bytes; input %q %s%v needs %d", len(p), spec.Name, spec.DType, spec.Shape, want)
		}
		t.Data = p
		return t, nil
	}
	var v any
	if err := json.Unmarshal(p, &v); err != nil {
		return t, fmt.Errorf("json: %w", err)
	}
	vals := make([]float64, 0, n)
	if err := flatten(v, &vals, n); err != nil {
		return t, err
	}
	if len(vals) != n {
		return t, fmt.Errorf("%d numbers; input %q %v needs %d", len(vals), spec.Name, spec.Shape, n)
	}
	b, err := infer.EncodeReal(vals, spec)
	if err != nil {
		return t, fmt.Errorf("input %q: %w", spec.Name, err)
	}
	t.Data = b
	return t, nil
}

// flatten appends the numbers of nested JSON arrays in order, stopping
// once more than limit have been seen.
func flatten(v any, out *[]float64, limit int) error {
	switch x := v.(type) {
	case float64:
		if len(*out) >= limit {
			return fmt.Errorf("more than %d numbers", limit)
		}
		*out = append(*out, x)
	case []any:
		for _, e := range x {
			if err := flatten(e, out, limit); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("want an array of numbers; found %s", jsonKind(v))
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// Result is the JSON document published for each input.
type Result struct {
	Model      string         `json:"model"`
	Version    string         `json:"version"`
	Outputs    []ResultOutput `json:"outputs"`
	InputTopic string         `json:"input_topic"`
	// TS is when the result was ready (RFC 3339, UTC).
	TS time.Time `json:"ts"`
}

// ResultOutput is one output tensor; Datatype is an Open Inference
// Protocol name (FP32, INT8, UINT8, ...), FP32 when dequantized.
type ResultOutput struct {
	Name     string    `json:"name"`
	Shape    []int     `json:"shape"`
	Datatype string    `json:"datatype"`
	Data     []float64 `json:"data"`
}

// encodeResult builds the published JSON of a result.
func encodeResult(mi infer.ModelInfo, out []infer.Tensor, topic string, dequantize bool, now time.Time) ([]byte, error) {
	r := Result{Model: mi.Name, Version: mi.Version, InputTopic: topic, TS: now.UTC(), Outputs: make([]ResultOutput, len(out))}
	for i, o := range out {
		spec := infer.TensorSpec{Name: o.Name, DType: o.DType, Shape: o.Shape}
		if i < len(mi.Outputs) {
			spec = mi.Outputs[i]
		}
		vals, err := outputValues(o, spec, dequantize)
		if err != nil {
			return nil, err
		}
		dt := infer.DatatypeName(o.DType)
		if dequantize && spec.Quantized && o.DType.Quantized() {
			dt = "FP32"
		}
		for k, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				// JSON has no NaN; a model that emits one is broken, say so.
				return nil, fmt.Errorf("output %q element %d is %g", spec.Name, k, v)
			}
		}
		name := o.Name
		if name == "" {
			name = spec.Name
		}
		shape := o.Shape
		if shape == nil {
			shape = []int{}
		}
		r.Outputs[i] = ResultOutput{Name: name, Shape: shape, Datatype: dt, Data: vals}
	}
	return json.Marshal(r)
}

// outputValues reads an output's elements as numbers, dequantized when
// asked and the output is quantized.
func outputValues(t infer.Tensor, spec infer.TensorSpec, dequantize bool) ([]float64, error) {
	var vals []float64
	var err error
	if dequantize {
		vals, err = infer.RealValues(t, spec)
	} else {
		vals, err = infer.Values(t.DType, t.Data)
	}
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", spec.Name, err)
	}
	return vals, nil
}

// rateLog logs a warning of each kind at most once per interval and says
// how many of that kind it held back meanwhile, so a sensor spraying bad
// payloads cannot flood the journal.
type rateLog struct {
	log   *slog.Logger
	every time.Duration

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

func newRateLog(log *slog.Logger, every time.Duration) *rateLog {
	return &rateLog{log: log, every: every, last: map[string]time.Time{}, held: map[string]int{}}
}

// Warn logs msg unless a warning of kind was logged less than an interval
// ago.
func (r *rateLog) Warn(kind, msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if t, ok := r.last[kind]; ok && now.Sub(t) < r.every {
		r.held[kind]++
		r.mu.Unlock()
		return
	}
	r.last[kind] = now
	held := r.held[kind]
	r.held[kind] = 0
	r.mu.Unlock()
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	r.log.Warn(msg, args...)
}
