package transfer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
)

// bitmap records which chunks of a blob are on disk.
//
// On disk (".bitmap" beside the ".part" file) it is
//
//	"EDGEDBM1" | size u64 | chunk size u32 | count u32 | bits | crc32 (IEEE) of all before
//
// little-endian, bit i of byte i/8 (LSB first) set when chunk i is held.
// The header binds the bits to one blob layout, so a bitmap left by a
// publisher's other chunk size is not misread; the checksum catches a file
// the file system tore despite the atomic rename.
type bitmap struct {
	size      int64
	chunkSize int
	count     int
	bits      []byte
	have      int
}

const bitmapMagic = "EDGEDBM1"

func newBitmap(size int64, chunkSize, count int) *bitmap {
	return &bitmap{size: size, chunkSize: chunkSize, count: count, bits: make([]byte, (count+7)/8)}
}

// has reports whether chunk i is held; false outside 0..count-1.
func (b *bitmap) has(i int) bool {
	return i >= 0 && i < b.count && b.bits[i/8]&(1<<(i%8)) != 0
}

// set marks chunk i held and reports whether it was new.
func (b *bitmap) set(i int) bool {
	if i < 0 || i >= b.count || b.has(i) {
		return false
	}
	b.bits[i/8] |= 1 << (i % 8)
	b.have++
	return true
}

func (b *bitmap) complete() bool { return b.have == b.count }

// chunkLen is the length chunk i must have.
func (b *bitmap) chunkLen(i int) int {
	off := int64(i) * int64(b.chunkSize)
	return int(min(int64(b.chunkSize), b.size-off))
}

// bytesHeld counts the bytes of the held chunks.
func (b *bitmap) bytesHeld() int64 {
	n := int64(b.have) * int64(b.chunkSize)
	if b.count > 0 && b.has(b.count-1) {
		n -= int64(b.chunkSize - b.chunkLen(b.count-1))
	}
	return n
}

func (b *bitmap) marshal() []byte {
	var buf bytes.Buffer
	buf.WriteString(bitmapMagic)
	binary.Write(&buf, binary.LittleEndian, uint64(b.size))
	binary.Write(&buf, binary.LittleEndian, uint32(b.chunkSize))
	binary.Write(&buf, binary.LittleEndian, uint32(b.count))
	buf.Write(b.bits)
	binary.Write(&buf, binary.LittleEndian, crc32.ChecksumIEEE(buf.Bytes()))
	return buf.Bytes()
}

// errBitmapMismatch says a well-formed bitmap describes another layout.
var errBitmapMismatch = errors.New("bitmap is for another blob layout")

// parseBitmap decodes data and checks it describes (size, chunkSize,
// count).
func parseBitmap(data []byte, size int64, chunkSize, count int) (*bitmap, error) {
	const header = len(bitmapMagic) + 8 + 4 + 4
	want := header + (count+7)/8 + 4
	if len(data) < header+4 || string(data[:len(bitmapMagic)]) != bitmapMagic {
		return nil, fmt.Errorf("bitmap: %d bytes without the %q header", len(data), bitmapMagic)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("bitmap: checksum mismatch")
	}
	gotSize := int64(binary.LittleEndian.Uint64(data[8:]))
	gotChunk := int(binary.LittleEndian.Uint32(data[16:]))
	gotCount := int(binary.LittleEndian.Uint32(data[20:]))
	if gotSize != size || gotChunk != chunkSize || gotCount != count || len(data) != want {
		return nil, fmt.Errorf("%w: size %d, chunk size %d, count %d in %d bytes; want %d, %d, %d in %d",
			errBitmapMismatch, gotSize, gotChunk, gotCount, len(data), size, chunkSize, count, want)
	}
	b := newBitmap(size, chunkSize, count)
	copy(b.bits, data[header:len(data)-4])
	// Bits beyond count would be counted as held chunks.
	if r := count % 8; r != 0 && b.bits[len(b.bits)-1]>>r != 0 {
		return nil, errors.New("bitmap: bits set beyond the last chunk")
	}
	for _, x := range b.bits {
		b.have += bits.OnesCount8(x)
	}
	return b, nil
}
