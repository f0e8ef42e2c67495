// Package mochitest runs an in-process MQTT broker (mochi-mqtt) for tests
// that stop and restart their broker on the same address, quicker than a
// mosquitto process.
package mochitest

import (
	"log/slog"
	"net"
	"sync"
	"testing"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Start runs a broker that lets every client in on addr until stop is
// called or the test ends.
func Start(t testing.TB, addr string) (stop func()) {
	t.Helper()
	s := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddListener(listeners.NewNet("t", ln)); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { s.Close() }) }
	t.Cleanup(stop)
	return stop
}
