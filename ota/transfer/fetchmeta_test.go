package transfer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/edged-dev/edged/fleet"
)

// flakySub fails the first subscription as a dropped connection does and
// answers the later ones with the retained meta.
type flakySub struct {
	mu    sync.Mutex
	subs  int
	meta  []byte
	unsub int
}

func (f *flakySub) Subscribe(_ context.Context, filter string, qos byte, h fleet.MessageHandler) error {
	f.mu.Lock()
	f.subs++
	n := f.subs
	f.mu.Unlock()
	if qos != 0 {
		return errors.New("meta subscribed at QoS 1; want 0")
	}
	if n == 1 {
		return errors.New("connection lost")
	}
	h(filter, f.meta) // before Subscribe returns, so no retry timer can beat it
	return nil
}

func (f *flakySub) Unsubscribe(context.Context, ...string) error {
	f.mu.Lock()
	f.unsub++
	f.mu.Unlock()
	return nil
}

func TestFetchMetaRetries(t *testing.T) {
	old := metaRetry
	metaRetry = 20 * time.Millisecond
	defer func() { metaRetry = old }()
	sum := "505ee4fae7fa46ab67bea4c08b4969eb3eb8b9114c50595ec4a29d9a27993202"
	want := Meta(sum, 2704, 1024)
	b, err := fleet.Encode(&want)
	if err != nil {
		t.Fatal(err)
	}
	f := &flakySub{meta: b}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := FetchMeta(ctx, f, sum, 2704)
	if err != nil {
		t.Fatalf("FetchMeta after a failed subscription: %v", err)
	}
	if got != want {
		t.Errorf("meta %+v; want %+v", got, want)
	}
	if f.subs != 2 {
		t.Errorf("%d subscriptions; want 2 (one failed, one answered)", f.subs)
	}
}
