// Package connlimit bounds the connections an HTTP server holds open
// without letting idle keep-alive connections lock new clients out.
//
// A plain limit (golang.org/x/net/netutil's LimitListener) counts a
// keep-alive connection that sits idle between requests as taken: a
// client whose pool holds the limit's worth of idle connections, or
// anyone who sends one request on each of that many connections and then
// waits, leaves every later client in the kernel's backlog until the
// server's idle timeout (minutes). Here, when every slot is taken and a
// new client connects, the connection that has been idle longest is
// closed to make room, as nginx reuses its keep-alive connections when it
// runs out of them. Connections busy with a request are never closed, and
// an idle one only when a new client is waiting (held, unserved, as the
// one connection over the limit).
//
// Use it as the server's listener and its ConnState hook:
//
//	l := connlimit.New(ln, 256)
//	srv := &http.Server{ConnState: l.ConnState, ...}
//	srv.Serve(l)
package connlimit

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Listener is a net.Listener that serves at most n connections at once.
type Listener struct {
	net.Listener
	// MinIdle is how long a connection must have been idle before it is
	// closed for a waiting client (default DefaultMinIdle). A client may
	// be sending its next request on an idle connection just as the
	// server closes it, and clients do not resend a POST; the connection
	// idle longest is the least likely to be in use again.
	MinIdle time.Duration

	sem  chan struct{}
	idle chan struct{} // a connection became idle (capacity 1)
	done chan struct{}

	closeOnce sync.Once
	mu        sync.Mutex
	idleSince map[*conn]time.Time
}

// DefaultMinIdle is the default Listener.MinIdle.
const DefaultMinIdle = time.Second

// New limits ln to n open connections (n < 1 is taken as 1).
func New(ln net.Listener, n int) *Listener {
	return &Listener{Listener: ln, MinIdle: DefaultMinIdle, sem: make(chan struct{}, max(n, 1)), idle: make(chan struct{}, 1),
		done: make(chan struct{}), idleSince: map[*conn]time.Time{}}
}

// Accept waits for a connection, then for a slot for it, closing the
// longest-idle connection when there is none.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if err := l.acquire(); err != nil {
		c.Close()
		return nil, err
	}
	return &conn{Conn: c, l: l}, nil
}

func (l *Listener) acquire() error {
	for {
		select {
		case l.sem <- struct{}{}:
			return nil
		case <-l.done:
			return net.ErrClosed
		default:
		}
		// Full: make room by closing the longest-idle connection (its
		// slot comes back as it closes), or wait until one has been idle
		// long enough, becomes idle, or closes.
		wait := l.closeOldestIdle()
		if wait == 0 {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case l.sem <- struct{}{}:
			t.Stop()
			return nil
		case <-l.idle:
		case <-t.C:
		case <-l.done:
			t.Stop()
			return net.ErrClosed
		}
		t.Stop()
	}
}

// closeOldestIdle closes the connection idle longest if it has been idle
// MinIdle, and returns 0; otherwise it returns how long to wait before
// looking again.
func (l *Listener) closeOldestIdle() time.Duration {
	l.mu.Lock()
	var oldest *conn
	var since time.Time
	for c, t := range l.idleSince {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	if oldest == nil {
		l.mu.Unlock()
		return time.Second // or sooner: a connection idling or closing wakes the wait
	}
	if left := l.MinIdle - time.Since(since); left > 0 {
		l.mu.Unlock()
		return left
	}
	delete(l.idleSince, oldest)
	l.mu.Unlock()
	oldest.Close()
	return 0
}

// Close stops accepting; connections already served stay open.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// ConnState is the http.Server hook that tells the listener which of its
// connections are idle between requests.
func (l *Listener) ConnState(nc net.Conn, s http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	switch s {
	case http.StateIdle:
		l.idleSince[c] = time.Now()
	default:
		delete(l.idleSince, c)
	}
	l.mu.Unlock()
	if s == http.StateIdle {
		select {
		case l.idle <- struct{}{}:
		default:
		}
	}
}

// conn gives its slot back once, when it is closed.
type conn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.idleSince, c)
		c.l.mu.Unlock()
		<-c.l.sem
	})
	return err
}
