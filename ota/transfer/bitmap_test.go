package transfer

import (
	"errors"
	"testing"
)

func TestBitmap(t *testing.T) {
	// A 10-byte blob in chunks of 4: chunks of 4, 4 and 2 bytes.
	b := newBitmap(10, 4, 3)
	for i, want := range []int{4, 4, 2} {
		if got := b.chunkLen(i); got != want {
			t.Errorf("chunkLen(%d) = %d; want %d", i, got, want)
		}
	}
	steps := []struct {
		name      string
		set       int
		wantNew   bool
		wantHave  int
		wantBytes int64
		wantDone  bool
	}{
		{name: "last chunk", set: 2, wantNew: true, wantHave: 1, wantBytes: 2},
		{name: "again", set: 2, wantNew: false, wantHave: 1, wantBytes: 2},
		{name: "out of range", set: 3, wantNew: false, wantHave: 1, wantBytes: 2},
		{name: "negative", set: -1, wantNew: false, wantHave: 1, wantBytes: 2},
		{name: "first", set: 0, wantNew: true, wantHave: 2, wantBytes: 6},
		{name: "middle", set: 1, wantNew: true, wantHave: 3, wantBytes: 10, wantDone: true},
	}
	for _, s := range steps {
		if got := b.set(s.set); got != s.wantNew {
			t.Errorf("%s: set(%d) = %v; want %v", s.name, s.set, got, s.wantNew)
		}
		if b.have != s.wantHave || b.bytesHeld() != s.wantBytes || b.complete() != s.wantDone {
			t.Errorf("%s: have %d, bytes %d, complete %v; want %d, %d, %v", s.name, b.have, b.bytesHeld(), b.complete(), s.wantHave, s.wantBytes, s.wantDone)
		}
	}
}

func TestBitmapMarshal(t *testing.T) {
	b := newBitmap(10, 4, 3)
	b.set(0)
	b.set(2)
	data := b.marshal()
	// 8 magic + 8 size + 4 chunk size + 4 count + 1 byte of bits + 4 crc.
	if len(data) != 29 {
		t.Fatalf("len(marshal()) = %d; want 29", len(data))
	}
	if data[24] != 0b101 {
		t.Errorf("bits byte = %08b; want 00000101", data[24])
	}
	got, err := parseBitmap(data, 10, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got.have != 2 || !got.has(0) || got.has(1) || !got.has(2) {
		t.Errorf("parsed: have %d, bits %08b; want 2, 00000101", got.have, got.bits[0])
	}

	flip := func(i int, x byte) []byte {
		d := append([]byte(nil), data...)
		d[i] ^= x
		return d
	}
	tests := []struct {
		name                string
		data                []byte
		size                int64
		chunk, count        int
		wantErr, wantLayout bool
	}{
		{name: "ok", data: data, size: 10, chunk: 4, count: 3},
		{name: "other chunk size", data: data, size: 10, chunk: 5, count: 2, wantErr: true, wantLayout: true},
		{name: "other size", data: data, size: 11, chunk: 4, count: 3, wantErr: true, wantLayout: true},
		{name: "flipped bit", data: flip(24, 2), size: 10, chunk: 4, count: 3, wantErr: true},
		{name: "bad magic", data: flip(0, 1), size: 10, chunk: 4, count: 3, wantErr: true},
		{name: "truncated", data: data[:20], size: 10, chunk: 4, count: 3, wantErr: true},
		{name: "empty", data: nil, size: 10, chunk: 4, count: 3, wantErr: true},
	}
	for _, tc := range tests {
		_, err := parseBitmap(tc.data, tc.size, tc.chunk, tc.count)
		if (err != nil) != tc.wantErr || errors.Is(err, errBitmapMismatch) != tc.wantLayout {
			t.Errorf("parseBitmap(%s) = %v; want error %v (layout mismatch %v)", tc.name, err, tc.wantErr, tc.wantLayout)
		}
	}

	// Bits past the last chunk, with a valid checksum, are refused too.
	bad := newBitmap(10, 4, 3)
	bad.bits[0] = 0b1000
	if _, err := parseBitmap(bad.marshal(), 10, 4, 3); err == nil {
		t.Error("parseBitmap(bit 3 of 3 chunks) = nil error; want an error")
	}
}
