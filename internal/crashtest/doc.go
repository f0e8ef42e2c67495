// Package crashtest holds the power-loss harness: its test
// builds the real edged, runs it against a real mosquitto with a fleet
// link, OTA deployments, a drift-reporting synthetic source and cached
// HTTP inferences, kills it with SIGKILL at random points and checks the
// state it leaves behind (bbolt consistency, complete verified models, no
// lost or reordered outbox messages). Run it long with `make crash`.
package crashtest
