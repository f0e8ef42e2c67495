// Package fleet is the MQTT protocol between edged devices and the
// operator's edgectl: topic names, the JSON messages sent on them, and a
// Client that keeps a device connected over a flaky link.
//
// # Topics
//
// Every topic starts with [Prefix] ("edged/v1"):
//
//	dev/{id}/state                  retained, QoS 1: birth (State "online"); the MQTT will sets State "offline"
//	dev/{id}/telemetry              QoS 0: periodic Telemetry snapshot
//	dev/{id}/drift                  QoS 1: drift reports, through the outbox
//	dev/{id}/events                 QoS 1: Event, through the outbox
//	dev/{id}/cmd/{op}/{cmdid}       retained, QoS 1: a Command for one device
//	dev/{id}/cmd/{op}/{cmdid}/status retained, QoS 1: the device's CommandStatus
//	group/{group}/cmd/{op}/{cmdid}  retained, QoS 1: a Command for every device of a group
//	blob/{sha256}/{index}           retained, QoS 1: raw chunk index of a blob
//	blob/{sha256}/meta              retained, QoS 1: BlobMeta
//
// A device answers a group command on its own status topic,
// dev/{id}/cmd/{op}/{cmdid}/status, since a retained topic holds one
// message and a group has many devices. The operator clears a command by
// publishing an empty retained message on its topic (and on the status
// topics); a Client ignores empty command messages.
//
// Ids (device, group, command id, op) are 1 to [MaxIDLen] bytes of UTF-8
// without '/', '+', '#', control characters or white space; see [ValidID].
// Topic builders do not check their arguments (they are called with ids
// already checked); [ParseTopic] checks everything and never panics.
//
// # Messages
//
// Payloads are JSON objects with "v":1. An unknown version, trailing data
// or a message larger than [MaxMessageSize] is an error, and so is a field
// out of its range (see each type).
//
// New fields may be added to a version's messages. Readers of what
// devices send (State, Telemetry, Event, CommandStatus, drift reports)
// ignore the fields they do not know, so that an edgectl older than its
// agents still reads them. What a device acts on (Command, BlobMeta) is
// decoded strictly: an unknown field there is an error, so an agent that
// does not know a field refuses the command instead of acting on part of
// it. The signed manifests and operator commands inside a Command follow
// ota/sign: the signature covers every member, and an operator command's
// payload is decoded strictly. A change of meaning, or a field a reader
// must not miss, needs a new version.
//
// # Retained commands
//
// Commands are retained so that a device that was offline finds them when
// it comes back; the broker sends them again after every reconnect and
// every restart. Handlers must therefore be idempotent by Command.ID, for
// example by looking at the status they last wrote.
//
// A status is not left to that second delivery: some brokers do not
// send a retained command again to a wildcard subscription (RabbitMQ), or
// not always (a NATS cluster). A status the broker did not acknowledge is
// kept by the Client and sent again after the reconnection (see
// [Client.WriteStatus]); the operator's side keeps the newest status of
// each command by its Time.
package fleet
