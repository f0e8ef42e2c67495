// Package mqttlimit bounds the size of the MQTT packets a client takes
// from the broker before any of them is read into memory.
//
// The MQTT 3.1.1 client (paho) reads each packet whole: a 100 MB message on
// a topic a device subscribes to costs 100 MB of memory before anything can
// look at it, and a retained one costs it again at every reconnection.
// MQTT 3.1.1 has no way for a client to tell the broker its limit, so Conn
// enforces one on the byte stream: a PUBLISH larger than the limit reaches
// the client with its payload removed (topic, QoS, packet id and flags
// kept, so the client acknowledges it and the broker does not send it
// again) while its payload is read and discarded in small pieces; the
// caller hears of it and the empty payload fails to decode. Any other
// packet larger than the limit, which no broker sends, ends the connection.
package mqttlimit

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// ErrTooLarge is returned by Read for a packet other than PUBLISH above
// the limit.
var ErrTooLarge = errors.New("mqtt packet from the broker above the size limit")

// Conn returns c with every packet read from it bounded to max bytes of
// remaining length (the packet less its 2 to 5 byte fixed header), except
// that a PUBLISH stripped of its payload keeps its whole topic (at most 64
// KiB, MQTT's bound). onDrop, if not nil, is called (on the reading
// goroutine) with the topic and the payload size of each PUBLISH whose
// payload was removed.
func Conn(c net.Conn, max int, onDrop func(topic string, size int)) net.Conn {
	return &conn{Conn: c, r: bufio.NewReaderSize(c, 4096), max: max, onDrop: onDrop}
}

type conn struct {
	net.Conn
	r      *bufio.Reader
	max    int
	onDrop func(topic string, size int)

	mu   sync.Mutex // Read is called from one goroutine; the lock only guards misuse
	out  []byte     // bytes to return before reading on: a header, or a rewritten packet
	pass int        // bytes of the current packet still to pass through unchanged
	err  error      // sticky
}

func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	for len(c.out) == 0 && c.pass == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if err := c.next(); err != nil {
			c.err = err
			if len(c.out) == 0 {
				return 0, err
			}
		}
	}
	if len(c.out) > 0 {
		n := copy(p, c.out)
		c.out = c.out[n:]
		return n, nil
	}
	if len(p) > c.pass {
		p = p[:c.pass]
	}
	n, err := c.r.Read(p)
	c.pass -= n
	if err == io.EOF && c.pass > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// next reads the next packet's fixed header and sets out and pass.
func (c *conn) next() error {
	first, err := c.r.ReadByte()
	if err != nil {
		return err
	}
	hdr := []byte{first}
	remaining, mult := 0, 1
	for i := 0; ; i++ {
		b, err := c.r.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		hdr = append(hdr, b)
		remaining += int(b&0x7f) * mult
		if b&0x80 == 0 {
			break
		}
		if i == 3 {
			return errors.New("mqtt: malformed remaining length")
		}
		mult *= 128
	}
	if remaining <= c.max {
		c.out, c.pass = hdr, remaining
		return nil
	}
	if first>>4 != 3 { // not PUBLISH
		return fmt.Errorf("%w: packet type %d of %d bytes; the limit is %d", ErrTooLarge, first>>4, remaining, c.max)
	}
	return c.strip(first, remaining)
}

// strip reads a PUBLISH of remaining bytes after its fixed header, keeps
// its topic and packet id and discards its payload.
func (c *conn) strip(first byte, remaining int) error {
	var l [2]byte
	if _, err := io.ReadFull(c.r, l[:]); err != nil {
		return unexpected(err)
	}
	topicLen := int(binary.BigEndian.Uint16(l[:]))
	idLen := 0
	if qos := first >> 1 & 3; qos > 0 {
		idLen = 2
	}
	head := 2 + topicLen + idLen
	if head > remaining {
		return fmt.Errorf("mqtt: malformed PUBLISH: topic of %d bytes in a packet of %d", topicLen, remaining)
	}
	rest := make([]byte, topicLen+idLen)
	if _, err := io.ReadFull(c.r, rest); err != nil {
		return unexpected(err)
	}
	size := remaining - head
	if _, err := io.CopyN(io.Discard, c.r, int64(size)); err != nil {
		return unexpected(err)
	}
	if c.onDrop != nil {
		c.onDrop(string(rest[:topicLen]), size)
	}
	out := append([]byte{first}, remainingLength(head)...)
	out = append(out, l[:]...)
	c.out = append(out, rest...)
	return nil
}

func remainingLength(n int) []byte {
	var b []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// OpenConnection returns a paho OpenConnectionFunc (ClientOptions.
// SetCustomOpenConnectionFn) that connects as paho does, to tcp, ssl
// (tls, mqtts), ws and wss brokers, and wraps the connection with Conn.
// HTTP proxies from the environment are not used.
func OpenConnection(max int, onDrop func(topic string, size int)) mqtt.OpenConnectionFunc {
	return func(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
		c, err := dial(uri, o)
		if err != nil {
			return nil, err
		}
		return Conn(c, max, onDrop), nil
	}
}

func dial(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	d := o.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: o.ConnectTimeout}
	}
	switch uri.Scheme {
	case "ws", "wss":
		u := *uri
		u.User = nil
		var tc *tls.Config
		if uri.Scheme == "wss" {
			tc = o.TLSConfig
		}
		return mqtt.NewWebsocket(u.String(), tc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	case "mqtt", "tcp":
		return d.Dial("tcp", uri.Host)
	case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps":
		return tls.DialWithDialer(d, "tcp", uri.Host, o.TLSConfig)
	}
	return nil, fmt.Errorf("mqtt: unsupported broker URL scheme %q", uri.Scheme)
}
