package mqttlimit

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// readerConn is a net.Conn that reads from r.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func publish(t testing.TB, topic string, qos byte, id uint16, retain bool, payload []byte) []byte {
	t.Helper()
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.TopicName, p.Qos, p.MessageID, p.Retain, p.Payload = topic, qos, id, retain, payload
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestConnStripsLargePublishes(t *testing.T) {
	type msg struct {
		topic   string
		qos     byte
		id      uint16
		retain  bool
		payload []byte
	}
	msgs := []msg{
		{"edged/v1/dev/d1/cmd/ping/a", 1, 7, true, []byte("small")},
		{"edged/v1/dev/d1/cmd/deploy/big", 1, 8, true, bytes.Repeat([]byte("x"), 5000)},
		{"edged/v1/blob/x/0", 0, 0, false, bytes.Repeat([]byte("y"), 1000-2-len("edged/v1/blob/x/0"))}, // exactly the limit
		{"t", 2, 9, false, bytes.Repeat([]byte("z"), 1000)},                                            // one over it
		{"edged/v1/dev/d1/cmd/ping/b", 0, 0, false, nil},
	}
	var in bytes.Buffer
	for _, m := range msgs {
		in.Write(publish(t, m.topic, m.qos, m.id, m.retain, m.payload))
	}
	in.Write([]byte{0xd0, 0}) // PINGRESP
	type drop struct {
		topic string
		size  int
	}
	var drops []drop
	c := Conn(readerConn{r: &in}, 1000, func(topic string, size int) { drops = append(drops, drop{topic, size}) })
	for i, m := range msgs {
		cp, err := packets.ReadPacket(c)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		p, ok := cp.(*packets.PublishPacket)
		if !ok {
			t.Fatalf("packet %d: %T; want a PUBLISH", i, cp)
		}
		want := m.payload
		if len(m.payload)+2+len(m.topic)+map[bool]int{true: 2}[m.qos > 0] > 1000 {
			want = nil
		}
		if p.TopicName != m.topic || p.Qos != m.qos || p.MessageID != m.id || p.Retain != m.retain || !bytes.Equal(p.Payload, want) {
			t.Errorf("packet %d: topic %q qos %d id %d retain %v payload %d bytes; want %q %d %d %v %d bytes",
				i, p.TopicName, p.Qos, p.MessageID, p.Retain, len(p.Payload), m.topic, m.qos, m.id, m.retain, len(want))
		}
	}
	if cp, err := packets.ReadPacket(c); err != nil || cp.Details().Qos != 0 {
		if _, ok := cp.(*packets.PingrespPacket); !ok || err != nil {
			t.Errorf("last packet %T, %v; want PINGRESP", cp, err)
		}
	}
	if _, err := packets.ReadPacket(c); err != io.EOF {
		t.Errorf("after the stream: %v; want EOF", err)
	}
	if len(drops) != 2 || drops[0] != (drop{"edged/v1/dev/d1/cmd/deploy/big", 5000}) || drops[1] != (drop{"t", 1000}) {
		t.Errorf("drops %+v; want the deploy (5000 bytes) and t (1000 bytes)", drops)
	}
}

func TestConnRefusesOtherLargePackets(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{"large SUBACK", []byte{0x90, 0xe9, 0x07, 0, 1}, "packet type 9 of 1001 bytes"},
		{"five-byte length", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, "malformed remaining length"},
		{"topic longer than the packet", []byte{0x30, 0xe9, 0x07, 0xff, 0xff}, "malformed PUBLISH"},
		{"cut in the payload", append([]byte{0x30, 0xe9, 0x07, 0, 1, 't'}, make([]byte, 10)...), "unexpected EOF"},
		{"cut in the header", []byte{0x30, 0xe9}, "unexpected EOF"},
	} {
		c := Conn(readerConn{r: bytes.NewReader(tt.in)}, 1000, nil)
		_, err := packets.ReadPacket(c)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want an error mentioning %q", tt.name, err, tt.want)
		}
		if tt.name == "large SUBACK" && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v; want ErrTooLarge", tt.name, err)
		}
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestConnMemory: a 200 MiB PUBLISH passes through in a few KiB: its
// payload is never held.
func TestConnMemory(t *testing.T) {
	const size = 200 << 20
	hdr := append([]byte{0x30}, remainingLength(2+1+size)...)
	hdr = append(hdr, 0, 1, 't')
	in := io.MultiReader(bytes.NewReader(hdr), io.LimitReader(zeros{}, size), bytes.NewReader([]byte{0xd0, 0}))
	c := Conn(readerConn{r: in}, 64<<10, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cp, err := packets.ReadPacket(c)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if p := cp.(*packets.PublishPacket); p.TopicName != "t" || len(p.Payload) != 0 {
		t.Errorf("got topic %q with %d bytes", p.TopicName, len(p.Payload))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("reading a 200 MiB PUBLISH allocated %d bytes; want under 1 MiB", alloc)
	}
}

// FuzzConn: whatever the broker sends, Conn never panics, passes every
// packet within the limit unchanged, and above it only a PUBLISH stripped
// to its topic and packet id.
func FuzzConn(f *testing.F) {
	f.Add(publish(f, "a/b", 1, 3, true, []byte("hello")), 16)
	f.Add(publish(f, "a/b", 0, 0, false, bytes.Repeat([]byte("x"), 100)), 16)
	f.Add([]byte{0x90, 0xe9, 0x07, 0, 1}, 16)
	f.Add([]byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}, 16)
	f.Add(append(publish(f, "t", 2, 1, false, make([]byte, 300)), 0xd0, 0), 64)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		out, _ := io.ReadAll(Conn(readerConn{r: bytes.NewReader(data)}, max, nil))
		if len(out) > len(data) {
			t.Fatalf("%d bytes out of %d in", len(out), len(data))
		}
		// Walk the packets out and in side by side.
		for i, j := 0, 0; i < len(out); {
			n, hl, ok := packetLen(out[i:])
			if !ok {
				return // the stream ended inside a packet, as the input did
			}
			if rem := n - hl; rem > max {
				// Only a PUBLISH stripped of its payload: topic and id.
				p := out[i+hl : i+n]
				idLen := 0
				if out[i]>>1&3 > 0 {
					idLen = 2
				}
				if out[i]>>4 != 3 || len(p) < 2 || rem != 2+int(p[0])<<8+int(p[1])+idLen {
					t.Fatalf("a packet %x of remaining length %d passed; the limit is %d", out[i:i+n], rem, max)
				}
			}
			m, _, ok := packetLen(data[j:])
			if !ok {
				t.Fatalf("output packet at %d has no input packet at %d", i, j)
			}
			if m == n && !bytes.Equal(out[i:i+n], data[j:j+m]) {
				t.Fatalf("packet within the limit changed: %x -> %x", data[j:j+m], out[i:i+n])
			}
			i, j = i+n, j+m
		}
	})
}

// packetLen returns the length of the packet at the start of b and of its
// fixed header, if b holds all of it.
func packetLen(b []byte) (n, hl int, ok bool) {
	rem, mult := 0, 1
	for i := 1; i < len(b) && i <= 4; i++ {
		rem += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			return 1 + i + rem, 1 + i, 1+i+rem <= len(b)
		}
		mult *= 128
	}
	return 0, 0, false
}
