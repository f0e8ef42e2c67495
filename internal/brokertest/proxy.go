package brokertest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy in front of a broker: Cut drops every connection
// at once without an MQTT DISCONNECT (as a lost link does, so the broker
// publishes the client's will), Rate limits each direction of each
// connection to a link speed, and Bytes counts what crossed it.
type Proxy struct {
	ln       net.Listener
	upstream string
	// Rate, if > 0, is each direction's speed in bytes per second; set it
	// before the first connection.
	Rate int64

	bytes atomic.Int64
	down  atomic.Bool
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy forwards a free loopback port to upstream (host:port) until
// the test ends.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("brokertest: proxy: %v", err)
	}
	p := &Proxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// URL is the proxy's MQTT URL.
func (p *Proxy) URL() string { return "tcp://" + p.ln.Addr().String() }

// Bytes is how many bytes crossed the proxy, both ways.
func (p *Proxy) Bytes() int64 { return p.bytes.Load() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[u] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(u, c)
		go p.pipe(c, u)
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 4096)
	start, sent := time.Now(), int64(0)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.Rate > 0 {
				sent += int64(n)
				if ahead := time.Duration(sent*int64(time.Second)/p.Rate) - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
			p.bytes.Add(int64(n))
		}
		if err != nil {
			if err != io.EOF {
				src.Close()
			}
			dst.Close()
			p.mu.Lock()
			delete(p.conns, src)
			delete(p.conns, dst)
			p.mu.Unlock()
			return
		}
	}
}

// Cut closes every connection through the proxy; new ones are accepted.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Down cuts every connection and refuses new ones until Up: a link that
// stays down.
func (p *Proxy) Down() {
	p.down.Store(true)
	p.Cut()
}

// Up accepts connections again after Down.
func (p *Proxy) Up() { p.down.Store(false) }

// Close stops the proxy and waits for its goroutines.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
