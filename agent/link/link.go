// Package link is a device's connection to its fleet: it owns the MQTT
// client (fleet) and the durable outbox (fleet/outbox), pumps
// the outbox to the broker — QoS 1, in order, each message removed only
// once acknowledged, resumed after every reconnect — publishes the
// retained state birth, and dispatches commands to the handler registered
// for their op.
//
// Drift reports and events go through the outbox (Drift, Event), so a
// link that is down for hours loses none of them within the outbox's
// bound; telemetry is published directly at QoS 0 (Publish), since the
// next snapshot replaces a lost one.
package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/fleet/outbox"
	"github.com/edged-dev/edged/internal/recent"
)

// Options configures a Link.
type Options struct {
	// Fleet configures the MQTT client; its DeviceID must be set. The
	// Link sets OnCommand, OnConnect and Birth.
	Fleet fleet.Options
	// Birth returns the device's state for the retained birth message.
	Birth func() fleet.State
	// OutboxPath is the outbox's bbolt file; Outbox its options (nil:
	// defaults).
	OutboxPath string
	Outbox     *outbox.Options
	Log        *slog.Logger
}

// Link is a running connection to the fleet. Its methods are safe for
// concurrent use.
type Link struct {
	id  string
	c   *fleet.Client
	ob  *outbox.Outbox
	log *slog.Logger

	mu       sync.RWMutex
	handlers map[string]fleet.CommandHandler

	// events are the last events queued, for the status page.
	events *recent.Ring[fleet.Event]
}

// New opens the outbox and prepares the client; Run connects.
func New(o Options) (*Link, error) {
	if o.Fleet.DeviceID == "" {
		return nil, errors.New("setting up the fleet link: a device id is required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	l := &Link{id: o.Fleet.DeviceID, log: o.Log, handlers: map[string]fleet.CommandHandler{}, events: recent.New[fleet.Event](50)}
	obOpts := outbox.Options{}
	if o.Outbox != nil {
		obOpts = *o.Outbox
	}
	if obOpts.Log == nil {
		obOpts.Log = o.Log
	}
	ob, err := outbox.Open(o.OutboxPath, &obOpts)
	if err != nil {
		return nil, fmt.Errorf("setting up the fleet link: %w", err)
	}
	l.ob = ob
	fo := o.Fleet
	fo.Birth = o.Birth
	fo.OnConnect = ob.Kick
	fo.OnCommand = l.dispatch
	if fo.Log == nil {
		fo.Log = o.Log
	}
	c, err := fleet.New(fo)
	if err != nil {
		ob.Close()
		return nil, fmt.Errorf("setting up the fleet link: %w", err)
	}
	l.c = c
	l.Handle(fleet.OpPing, l.ping)
	return l, nil
}

// Handle registers h for commands of op, replacing any earlier handler.
// Handlers run one at a time and must be idempotent by command id: a
// retained command comes again after every reconnect.
func (l *Link) Handle(op string, h fleet.CommandHandler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h == nil {
		delete(l.handlers, op)
		return
	}
	l.handlers[op] = h
}

// dispatch routes a command to its handler, answering expired commands
// and ops nobody handles itself.
func (l *Link) dispatch(ctx context.Context, from fleet.Topic, cmd fleet.Command) {
	var st *fleet.CommandStatus
	l.mu.RLock()
	h := l.handlers[cmd.Op]
	l.mu.RUnlock()
	switch {
	case cmd.Expired(time.Now()):
		st = &fleet.CommandStatus{ID: cmd.ID, State: fleet.StatusExpired, Reason: "expired at " + cmd.Expires.UTC().Format(time.RFC3339)}
	case h == nil:
		st = &fleet.CommandStatus{ID: cmd.ID, State: fleet.StatusRejected, Reason: fmt.Sprintf("op %q is not handled by this device", cmd.Op)}
	}
	if st != nil {
		if err := l.c.WriteStatus(ctx, cmd.Op, *st); err != nil {
			l.log.Warn("link: cannot write command status", "op", cmd.Op, "id", cmd.ID, "err", err)
		}
		return
	}
	h(ctx, from, cmd)
}

// ping answers "done" with the device's uptime.
func (l *Link) ping(ctx context.Context, _ fleet.Topic, cmd fleet.Command) {
	if err := l.c.WriteStatus(ctx, cmd.Op, fleet.CommandStatus{ID: cmd.ID, State: fleet.StatusDone, Reason: "pong"}); err != nil {
		l.log.Warn("link: cannot answer ping", "id", cmd.ID, "err", err)
	}
}

// Run keeps the connection up and the outbox flowing until ctx ends; it
// returns once both have stopped. It does not close the outbox (Close).
func (l *Link) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errc <- l.c.Run(ctx) }()
	go func() { defer wg.Done(); errc <- l.ob.Deliver(ctx, l.c) }()
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("link: %w", errors.Join(errs...))
	}
	return nil
}

// Close closes the outbox; call it after Run has returned.
func (l *Link) Close() error { return l.ob.Close() }

// DeviceID is the device's id in topics.
func (l *Link) DeviceID() string { return l.id }

// Client is the MQTT client (for command handlers that publish).
func (l *Link) Client() *fleet.Client { return l.c }

// Outbox is the link's outbox.
func (l *Link) Outbox() *outbox.Outbox { return l.ob }

// Publish sends a message now (not through the outbox); telemetry uses it
// at QoS 0.
func (l *Link) Publish(ctx context.Context, topic string, payload []byte, qos byte, retained bool) error {
	return l.c.Publish(ctx, topic, payload, qos, retained)
}

// Event queues ev on the device's events topic; the outbox gives it its
// sequence number when it is sent.
func (l *Link) Event(ev fleet.Event) (uint64, error) {
	ev.Seq = 0
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	b, err := fleet.Encode(&ev)
	if err != nil {
		return 0, fmt.Errorf("sending an event: %w", err)
	}
	l.events.Add(ev)
	seq, err := l.ob.Append(outbox.Event, fleet.EventsTopic(l.id), b)
	if err != nil {
		return 0, fmt.Errorf("sending an event: %w", err)
	}
	return seq, nil
}

// RecentEvents returns the last events queued (at most 50), newest
// first, whether or not they have been sent.
func (l *Link) RecentEvents() []fleet.Event { return l.events.Newest() }

// Drift queues a drift report (a JSON object with "v":1 and no "seq") on
// the device's drift topic.
func (l *Link) Drift(report any) (uint64, error) {
	b, err := json.Marshal(report)
	if err != nil {
		return 0, fmt.Errorf("sending a drift report: %w", err)
	}
	seq, err := l.ob.Append(outbox.Drift, fleet.DriftTopic(l.id), b)
	if err != nil {
		return 0, fmt.Errorf("sending a drift report: %w", err)
	}
	return seq, nil
}
