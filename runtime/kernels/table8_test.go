package kernels

import (
	"math/rand/v2"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

// Every variant's lookup gives lut[x] for each byte, whatever the length
// and alignment (the vector loops take whole blocks, Go the tail).
func TestLookup8Variants(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var lut [256]uint8
	for i := range lut {
		lut[i] = uint8(r.Uint32())
	}
	buf := make([]byte, 1100)
	for i := range buf {
		buf[i] = uint8(r.Uint32())
	}
	// Every byte value once, in order, at the start.
	for i := 0; i < 256; i++ {
		buf[i] = uint8(i)
	}
	forEachVariant(t, func(t *testing.T, v string) {
		t.Logf("%s: lookup %s", v, lookup8Variant())
		for _, n := range []int{0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 256, 300, 1024} {
			for _, off := range []int{0, 1, 7} {
				x := buf[off : off+n]
				y := make([]byte, n+1)
				y[n] = 0xA5
				lookup8(&lut, x, y[:n])
				for i := range x {
					if y[i] != lut[x[i]] {
						t.Fatalf("%s: n=%d off=%d: y[%d] = %d; want lut[%d] = %d", v, n, off, i, y[i], x[i], lut[x[i]])
					}
				}
				if y[n] != 0xA5 {
					t.Fatalf("%s: n=%d: wrote past the end", v, n)
				}
			}
		}
	})
}

// newTable8 indexes by the raw byte: int8 -1 is byte 255.
func TestNewTable8(t *testing.T) {
	lut := newTable8(tensor.Int8, func(v int32) int32 { return -v / 2 })
	for _, c := range []struct {
		b    uint8
		want int8
	}{{0, 0}, {1, 0}, {2, -1}, {127, -63}, {128, 64}, {255, 0}, {254, 1}} {
		if got := int8(lut[c.b]); got != c.want {
			t.Errorf("int8 table[%d] = %d; want %d", c.b, got, c.want)
		}
	}
	lut = newTable8(tensor.UInt8, func(v int32) int32 { return 255 - v })
	if lut[0] != 255 || lut[255] != 0 || lut[100] != 155 {
		t.Errorf("uint8 table: [0]=%d [255]=%d [100]=%d; want 255, 0, 155", lut[0], lut[255], lut[100])
	}
}
