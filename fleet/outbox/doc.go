// Package outbox is the durable store-and-forward queue between a
// device's producers (events, drift reports, telemetry) and its MQTT
// link, which may be down for hours.
//
// # Guarantee
//
// Delivery is at-least-once, in order, and bounded:
//
//   - A message is written to a bbolt file before Append returns, and
//     removed only after the Publisher has returned nil for it, which
//     with QoS 1 means the broker acknowledged it. A crash between the
//     acknowledgement and the removal sends it again after the restart:
//     duplicates are possible, losses are not (within the bound below).
//   - Messages are sent one at a time in the order Append accepted them;
//     a failed publish is retried, after a backoff, before any later
//     message.
//   - The stored messages are bounded in bytes (Options.MaxBytes). To
//     make room the oldest Telemetry goes first, then the oldest Drift,
//     then the oldest Event; a message never pushes out one of a more
//     important kind: if only those remain, the new message is the one
//     dropped (ErrFull). Every drop is counted per kind (Stats).
//
// # Envelope
//
// Payloads are JSON objects. The outbox does not change what it stores;
// when it sends a message it inserts its sequence number as the first
// member, so that {"v":1,"kind":"fallback"} goes out as
// {"seq":1740830400000001,"v":1,"kind":"fallback"}. A payload must
// therefore not have a top-level "seq" of its own (fleet.Event leaves
// its Seq empty for this). All messages of one outbox, whatever their
// topic, share one increasing sequence, so a receiver de-duplicates by
// keeping, per device, the highest seq it has processed and ignoring
// anything not above it.
//
// Sequence numbers never repeat within a file. A new file (a new device,
// or one started because the old file was unreadable) starts at the
// current time in microseconds since 1970, so its numbers lie above those
// of any earlier file as long as the device's clock is not behind; a
// receiver that sees a device's seq go down should log it and accept the
// new numbers.
//
// # Size of the file
//
// MaxBytes bounds the messages (each counted as its topic, its payload
// and Overhead); the bbolt file itself is larger, and does not shrink
// when messages are removed: its free pages are reused.
package outbox
