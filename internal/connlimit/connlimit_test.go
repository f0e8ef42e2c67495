package connlimit_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edged-dev/edged/internal/connlimit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs an HTTP server with a one-minute idle timeout on a limited
// listener until the test ends.
func serve(t *testing.T, n int, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := connlimit.New(ln, n)
	srv := &http.Server{Handler: h, ConnState: l.ConnState, IdleTimeout: time.Minute}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// client is one keep-alive connection speaking HTTP/1.1 by hand, so the
// test decides which connection each request goes on.
type client struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{Conn: c, r: bufio.NewReader(c)}
}

// get sends a request and reads its answer's body, waiting at most wait.
func (c *client) get(path string, wait time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: device\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// closed tells whether the server has closed c.
func (c *client) closed() bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.r.ReadByte()
	return errors.Is(err, io.EOF)
}

func ok(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok "+r.URL.Path) }

// TestIdleMakesRoom: with both slots held by idle keep-alive connections,
// a third client is served at once (not after the one-minute idle
// timeout), and the connection idle longest is the one closed for it.
func TestIdleMakesRoom(t *testing.T) {
	addr := serve(t, 2, http.HandlerFunc(ok))
	a, b := dial(t, addr), dial(t, addr)
	for _, c := range []*client{a, b} {
		if got, err := c.get("/first", 5*time.Second); err != nil || got != "ok /first" {
			t.Fatalf("first request: %q, %v", got, err)
		}
	}
	time.Sleep(10 * time.Millisecond) // a has been idle longer than b
	if _, err := b.get("/again", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c := dial(t, addr)
	if got, err := c.get("/third", 10*time.Second); err != nil || got != "ok /third" {
		t.Fatalf("third client, both slots idle: %q, %v; want an answer well before the idle timeout", got, err)
	}
	if !a.closed() {
		t.Error("the connection idle longest is still open; want it closed to make room")
	}
	if got, err := b.get("/still", 5*time.Second); err != nil || got != "ok /still" {
		t.Errorf("the other idle connection: %q, %v; want it kept and serving", got, err)
	}
}

// TestBusyNotClosed: a connection in the middle of a request keeps its
// slot; the waiting client is served once that one becomes idle.
func TestBusyNotClosed(t *testing.T) {
	release := make(chan struct{})
	addr := serve(t, 1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		ok(w, r)
	}))
	a := dial(t, addr)
	slow := make(chan error, 1)
	go func() {
		got, err := a.get("/slow", 20*time.Second)
		if err == nil && got != "ok /slow" {
			err = errors.New("answer " + got)
		}
		slow <- err
	}()
	time.Sleep(100 * time.Millisecond) // a is busy
	b := dial(t, addr)
	if _, err := b.get("/waiting", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second client while the only slot is busy: %v; want no answer yet", err)
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("the busy connection's request: %v; want its answer", err)
	}
	// b's request is already sent; its answer comes once a is idle and
	// closed for it.
	b.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(b.r, nil)
	if err != nil {
		t.Fatalf("waiting client after the slot freed: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok /waiting" {
		t.Errorf("waiting client got %q; want %q", body, "ok /waiting")
	}
	if !a.closed() {
		t.Error("the idle connection was kept while a client waited")
	}
}

// TestClose: Accept stops with net.ErrClosed once the listener is closed,
// also while it waits for a slot.
func TestClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := connlimit.New(ln, 1)
	first := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			first <- c
		}
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	held := <-first
	defer held.Close()
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	errc := make(chan error, 1)
	go func() { _, err := l.Accept(); errc <- err }() // waits for a slot
	time.Sleep(100 * time.Millisecond)
	l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v; want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still waiting for a slot after Close")
	}
}
