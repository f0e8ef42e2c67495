package kernels

import (
	"fmt"
	"testing"
)

// TestGemmQChunk64 drives the 64-step chunk that symmetric int8 weights
// allow to its largest lane sums: x = -128 against w = ∓127 gives
// products of ±16256, and 64 of them must not carry into the next lane.
func TestGemmQChunk64(t *testing.T) {
	w6 := [gemmQNR]int8{-127, 127, -127, 127, 0, 1}
	tests := []struct {
		name      string
		depth     int
		x0, x1    int8
		wantChunk int
	}{
		{"one chunk", 64, -128, 127, 64},
		{"chunk and one", 65, -128, 127, 64},
		{"two chunks", 128, -128, -128, 64},
		{"three chunks and a tail", 197, 127, -128, 64},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s depth %d", tc.name, tc.depth), func(t *testing.T) {
			ws := make([]int8, gemmQNR*tc.depth)
			for c, w := range w6 {
				for d := range tc.depth {
					ws[c*tc.depth+d] = w
				}
			}
			chunk := gemmQChunkFor(ws, false)
			if chunk != tc.wantChunk {
				t.Fatalf("gemmQChunkFor = %d; want %d", chunk, tc.wantChunk)
			}
			b, _ := gemmQPack(ws, gemmQNR, tc.depth)
			a0, a1 := make([]int8, tc.depth), make([]int8, tc.depth)
			for d := range tc.depth {
				a0[d], a1[d] = tc.x0, tc.x1
			}
			var got [2][2 * gemmQNR]int32
			gemmQDot2(a0, a1, b, &got, 0, chunk)
			var one [2 * gemmQNR]int32
			gemmQDot1(a1, b, &one, 0, chunk)
			for c, w := range w6 {
				// A constant row times a constant weight: depth·x·w.
				want0 := int32(tc.depth) * int32(tc.x0) * int32(w)
				want1 := int32(tc.depth) * int32(tc.x1) * int32(w)
				if got[0][c] != want0 {
					t.Errorf("gemmQDot2 row 0 channel %d = %d; want %d", c, got[0][c], want0)
				}
				if got[1][c] != want1 {
					t.Errorf("gemmQDot2 row 1 channel %d = %d; want %d", c, got[1][c], want1)
				}
				if one[c] != want1 {
					t.Errorf("gemmQDot1 channel %d = %d; want %d", c, one[c], want1)
				}
			}
		})
	}
	t.Run("-128 keeps 63", func(t *testing.T) {
		if got := gemmQChunkFor([]int8{3, -128, 5}, false); got != gemmQChunk {
			t.Errorf("gemmQChunkFor(with -128) = %d; want %d", got, gemmQChunk)
		}
		if got := gemmQChunkFor([]int8{3, 5}, true); got != 32 {
			t.Errorf("gemmQChunkFor(uint8) = %d; want 32", got)
		}
	})
}
