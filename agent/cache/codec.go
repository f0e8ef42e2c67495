package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/runtime/tensor"
)

// valueVersion is the first byte of every entry value.
const valueVersion = 1

// headerLen is the version byte, the checksum and the creation time.
const headerLen = 1 + 4 + 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// An entry value, version 1:
//
//	byte     version (1)
//	uint32   CRC-32C of everything after it, big endian
//	int64    created, Unix nanoseconds, big endian (for TTL)
//	uvarint  number of tensors, then for each:
//	  uvarint len(name), name
//	  byte     dtype (tensor.DType)
//	  uvarint  rank, then rank varints (dimensions)
//	  uvarint  len(data), data
func encodeValue(created int64, outs []infer.Tensor) []byte {
	n := headerLen + binary.MaxVarintLen64
	for _, t := range outs {
		n += 3*binary.MaxVarintLen64 + len(t.Name) + 1 + len(t.Shape)*binary.MaxVarintLen64 + len(t.Data)
	}
	b := make([]byte, 0, n)
	b = append(b, valueVersion, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(created))
	b = binary.AppendUvarint(b, uint64(len(outs)))
	for _, t := range outs {
		b = binary.AppendUvarint(b, uint64(len(t.Name)))
		b = append(b, t.Name...)
		b = append(b, byte(t.DType))
		b = binary.AppendUvarint(b, uint64(len(t.Shape)))
		for _, d := range t.Shape {
			b = binary.AppendVarint(b, int64(d))
		}
		b = binary.AppendUvarint(b, uint64(len(t.Data)))
		b = append(b, t.Data...)
	}
	binary.BigEndian.PutUint32(b[1:5], crc32.Checksum(b[5:], castagnoli))
	return b
}

var errShort = errors.New("truncated")

// valueCreated reads the creation time of an encoded value without
// checking the rest.
func valueCreated(v []byte) (int64, error) {
	if len(v) < headerLen {
		return 0, fmt.Errorf("value of %d bytes: %w", len(v), errShort)
	}
	if v[0] != valueVersion {
		return 0, fmt.Errorf("value version %d; want %d", v[0], valueVersion)
	}
	return int64(binary.BigEndian.Uint64(v[5:13])), nil
}

// decodeValue checks v and decodes it into tensors that own their memory
// (v may be bbolt's, valid only inside its transaction). bbolt has no
// checksum on data pages, so the CRC is what keeps a flipped bit on the
// SD card from being served as a model's answer.
func decodeValue(v []byte) ([]infer.Tensor, error) {
	if _, err := valueCreated(v); err != nil {
		return nil, err
	}
	if got, want := crc32.Checksum(v[5:], castagnoli), binary.BigEndian.Uint32(v[1:5]); got != want {
		return nil, fmt.Errorf("value checksum %08x; want %08x", got, want)
	}
	d := decoder{b: v[headerLen:]}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) { // every tensor takes at least one byte
		d.err = fmt.Errorf("%d tensors in %d bytes", n, len(d.b))
	}
	// Copy once: names and data of all tensors point into buf.
	buf := append([]byte(nil), d.b...)
	d.b = buf
	outs := make([]infer.Tensor, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		var t infer.Tensor
		t.Name = string(d.bytes(d.uvarint()))
		t.DType = tensor.DType(d.byte())
		rank := d.uvarint()
		if d.err == nil && rank > uint64(len(d.b)) {
			d.err = fmt.Errorf("tensor %d: rank %d in %d bytes", i, rank, len(d.b))
			break
		}
		t.Shape = make([]int, rank)
		for k := range t.Shape {
			t.Shape[k] = int(d.varint())
		}
		t.Data = d.bytes(d.uvarint())
		outs = append(outs, t)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the last tensor", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode value: %w", d.err)
	}
	return outs, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.err = errShort
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}
