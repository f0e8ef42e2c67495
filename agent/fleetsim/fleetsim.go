// Package fleetsim runs N simulated devices in one process, each with its
// own MQTT connection, to try a rollout plan or measure what a fleet costs
// a broker. A device is the agent's real fleet side — the link (client,
// birth and will, outbox, command dispatch), manifest verification and
// the chunked transfer into its own directory — with a stub in place of
// the inference runtime: loading a model takes Latency and fails for a
// FailShare of the devices, chosen by their index so that a run is
// repeatable.
//
// It answers deploy with the statuses the agent writes (downloading with
// progress, verified, then active or failed) and rollback with done,
// recording which devices got a rollback.
package fleetsim

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edged-dev/edged/agent/link"
	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/transfer"
)

// Options configures a simulated fleet.
type Options struct {
	// Broker is the broker URL (or a cluster's URLs, comma-separated).
	Broker string
	// N devices named Prefix + "-" + a 4-digit index ("sim-0000").
	N      int
	Prefix string
	// Dir holds each device's outbox and downloads; required.
	Dir string
	// RootKey verifies deploy manifests, as the agent's ota.root_key.
	RootKey ed25519.PublicKey
	// Latency is how long loading a model takes (the stub runtime).
	Latency time.Duration
	// FailShare of the devices (0..1) fail to load every model.
	FailShare float64
	// Rate, if > 0, limits each device's download to this many bytes per
	// second (a slow link).
	Rate int64
	// Jitter, if > 0, delays each fetch by a random time up to Jitter.
	Jitter time.Duration
	// Window is the transfer window in chunks; 0: the default.
	Window int
	// Version is each device's model version before any deploy.
	Model   string
	Version uint64
	// Telemetry, if > 0, makes each device publish a telemetry snapshot
	// (QoS 0) of about TelemetryBytes at this interval, phased at random.
	Telemetry      time.Duration
	TelemetryBytes int
	Log            *slog.Logger
}

// Fleet is a running simulated fleet.
type Fleet struct {
	o       Options
	devices []*Device
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Device is one simulated device.
type Device struct {
	ID   string
	f    *Fleet
	l    *link.Link
	dir  string
	fail bool

	mu        sync.Mutex
	version   uint64
	previous  uint64
	rollbacks []string // rollback command ids received
	deploys   int
}

// Start connects every device and returns once all are connected (or
// ctx ends).
func Start(ctx context.Context, o Options) (*Fleet, error) {
	if o.N <= 0 || o.Dir == "" || o.Broker == "" {
		return nil, errors.New("fleetsim: want a broker, a directory and at least one device")
	}
	if o.Prefix == "" {
		o.Prefix = "sim"
	}
	if o.Model == "" {
		o.Model = "model"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	rctx, cancel := context.WithCancel(context.Background())
	f := &Fleet{o: o, cancel: cancel}
	failing := int(o.FailShare*float64(o.N) + 0.5)
	for i := range o.N {
		id := fmt.Sprintf("%s-%04d", o.Prefix, i)
		d := &Device{ID: id, f: f, dir: filepath.Join(o.Dir, id), version: o.Version,
			// Spread the failing devices evenly through the sorted ids.
			fail: failing > 0 && i%max(1, o.N/failing) == 0 && i/max(1, o.N/failing) < failing}
		if err := os.MkdirAll(d.dir, 0o700); err != nil {
			f.Close()
			return nil, fmt.Errorf("fleetsim: %w", err)
		}
		l, err := link.New(link.Options{
			Fleet: fleet.Options{Broker: o.Broker, DeviceID: id, Log: o.Log,
				MinBackoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second},
			Birth:      d.birth,
			OutboxPath: filepath.Join(d.dir, "outbox.db"),
			Log:        o.Log,
		})
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("fleetsim: %w", err)
		}
		d.l = l
		l.Handle(fleet.OpDeploy, d.deploy)
		l.Handle(fleet.OpRollback, d.rollback)
		f.devices = append(f.devices, d)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			l.Run(rctx)
			l.Close()
		}()
		if o.Telemetry > 0 {
			f.wg.Add(1)
			go func() { defer f.wg.Done(); d.telemetry(rctx) }()
		}
	}
	for {
		n := f.Connected()
		if n == o.N {
			return f, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("fleetsim: %d of %d devices connected: %w", n, o.N, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Devices are the devices, sorted by id.
func (f *Fleet) Devices() []*Device { return f.devices }

// IDs are the device ids, sorted.
func (f *Fleet) IDs() []string {
	ids := make([]string, len(f.devices))
	for i, d := range f.devices {
		ids[i] = d.ID
	}
	return ids
}

// Connected counts the devices connected now.
func (f *Fleet) Connected() int {
	n := 0
	for _, d := range f.devices {
		if d.l != nil && d.l.Client().Stats().Connected {
			n++
		}
	}
	return n
}

// Close disconnects every device and waits for them.
func (f *Fleet) Close() {
	f.cancel()
	f.wg.Wait()
}

// Failing are the ids of the devices that fail every load.
func (f *Fleet) Failing() []string {
	var ids []string
	for _, d := range f.devices {
		if d.fail {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

// RolledBack are the ids of the devices that received a rollback.
func (f *Fleet) RolledBack() []string {
	var ids []string
	for _, d := range f.devices {
		d.mu.Lock()
		if len(d.rollbacks) > 0 {
			ids = append(ids, d.ID)
		}
		d.mu.Unlock()
	}
	sort.Strings(ids)
	return ids
}

// Versions counts the devices by the version they serve.
func (f *Fleet) Versions() map[uint64]int {
	v := map[uint64]int{}
	for _, d := range f.devices {
		d.mu.Lock()
		v[d.version]++
		d.mu.Unlock()
	}
	return v
}

func (d *Device) birth() fleet.State {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := fleet.State{Version: "fleetsim", CommandProtocol: sign.CommandProtocol,
		Models: []fleet.ModelState{{Name: d.f.o.Model, Active: fmt.Sprint(d.version)}}}
	if d.previous > 0 {
		st.Models[0].Previous = fmt.Sprint(d.previous)
	}
	return st
}

func (d *Device) status(ctx context.Context, op, id, state, reason string, progress float64) {
	st := fleet.CommandStatus{ID: id, State: state, Reason: reason, Progress: progress, Time: time.Now().UTC()}
	if err := d.l.Client().WriteStatus(ctx, op, st); err != nil {
		d.f.o.Log.Warn("fleetsim: cannot write status", "device", d.ID, "err", err)
	}
}

// deploy verifies the manifest, fetches the cpu blob, "loads" it and
// reports the outcome, as the agent's deployer does.
func (d *Device) deploy(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
	o := d.f.o
	d.mu.Lock()
	d.deploys++
	d.mu.Unlock()
	m, err := sign.Verify(cmd.Payload, o.RootKey, sign.VerifyOptions{Kind: sign.KindModel, Skew: time.Minute})
	if err != nil {
		d.status(ctx, cmd.Op, cmd.ID, fleet.StatusRejected, sign.Check(err), 0)
		return
	}
	d.mu.Lock()
	have := d.version
	d.mu.Unlock()
	if m.Version == have {
		d.status(ctx, cmd.Op, cmd.ID, "active", fmt.Sprintf("model %s version %d serving", m.Name, m.Version), 0)
		return
	}
	var blob *sign.Blob
	for i := range m.Blobs {
		if m.Blobs[i].Variant == "cpu" {
			blob = &m.Blobs[i]
		}
	}
	if blob == nil {
		d.status(ctx, cmd.Op, cmd.ID, fleet.StatusRejected, "no cpu variant in the bundle", 0)
		return
	}
	if o.Jitter > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(rand.Int64N(int64(o.Jitter)))):
		}
	}
	d.status(ctx, cmd.Op, cmd.ID, "downloading", "", 0)
	meta, err := transfer.FetchMeta(ctx, d.l.Client(), blob.SHA256, blob.Size)
	if err != nil {
		d.status(ctx, cmd.Op, cmd.ID, fleet.StatusFailed, "download: "+err.Error(), 0)
		return
	}
	start := time.Now()
	last := time.Now()
	r := &transfer.Receiver{Sub: d.l.Client(), Dir: filepath.Join(d.dir, "blobs"), Window: o.Window, Log: o.Log,
		Progress: func(p transfer.Progress) {
			if o.Rate > 0 {
				// Hold the fetch until the link would have carried this much.
				if ahead := time.Duration(p.Bytes*int64(time.Second)/o.Rate) - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
			if time.Since(last) > 2*time.Second && p.Size > 0 {
				last = time.Now()
				d.status(ctx, cmd.Op, cmd.ID, "downloading", "", float64(p.Bytes)/float64(p.Size))
			}
		}}
	path, err := r.Fetch(ctx, meta)
	if err != nil {
		d.status(ctx, cmd.Op, cmd.ID, fleet.StatusFailed, "download: "+err.Error(), 0)
		return
	}
	if err := sign.VerifyBlob(*blob, mustOpen(path)); err != nil {
		d.status(ctx, cmd.Op, cmd.ID, fleet.StatusFailed, err.Error(), 0)
		return
	}
	d.status(ctx, cmd.Op, cmd.ID, "verified", "", 1)
	select {
	case <-ctx.Done():
		return
	case <-time.After(o.Latency):
	}
	if d.fail {
		d.status(ctx, cmd.Op, cmd.ID, fleet.StatusFailed, "smoke inference failed (simulated)", 0)
		return
	}
	d.mu.Lock()
	d.previous, d.version = d.version, m.Version
	d.mu.Unlock()
	os.Remove(path) // the simulated store keeps no model files
	d.status(ctx, cmd.Op, cmd.ID, "active", fmt.Sprintf("model %s version %d serving", m.Name, m.Version), 0)
}

// rollback records the command and returns to the previous version.
func (d *Device) rollback(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
	d.mu.Lock()
	d.rollbacks = append(d.rollbacks, cmd.ID)
	reason := "nothing to roll back"
	if d.previous > 0 {
		reason = fmt.Sprintf("back to version %d", d.previous)
		d.version, d.previous = d.previous, 0
	}
	d.mu.Unlock()
	d.status(ctx, cmd.Op, cmd.ID, fleet.StatusDone, reason, 0)
}

// telemetry publishes a snapshot every interval, starting at a random
// phase so that the fleet's messages spread over the interval.
func (d *Device) telemetry(ctx context.Context) {
	o := d.f.o
	h := fnv.New64a()
	h.Write([]byte(d.ID))
	phase := time.Duration(h.Sum64() % uint64(o.Telemetry))
	pad := make([]byte, max(0, o.TelemetryBytes-120))
	for i := range pad {
		pad[i] = 'x'
	}
	var seq atomic.Int64
	t := time.NewTimer(phase)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, _ := json.Marshal(map[string]any{"v": 1, "time": time.Now().UTC(), "seq": seq.Add(1),
			"models": []map[string]any{{"name": o.Model, "inferences": 0, "errors": 0}}, "pad": string(pad)})
		d.l.Publish(ctx, fleet.TelemetryTopic(d.ID), b, 0, false)
		t.Reset(o.Telemetry)
	}
}

func mustOpen(path string) *os.File {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	return f
}
