//go:build edged_dynamic

package litert

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// XNNPACK delegate flags (xnnpack_delegate.h): signed and unsigned 8-bit
// quantized operators.
const (
	xnnFlagQS8 = 0x1
	xnnFlagQU8 = 0x2
	// xnnOptionsSize bounds TfLiteXNNPackDelegateOptions (56 bytes on
	// 64-bit targets in TFLite 2.21).
	xnnOptionsSize = 256
)

// xnnLayout is what edged learnt of the library's XNNPACK options: the
// flags its defaults enable and where the flags field is (-1: unknown).
// num_threads is the first field in every version; the flags field moved
// (TFLite added runtime_flags before it), so its offset is found by
// matching the defaults against TfLiteXNNPackDelegateGetFlags.
type xnnLayout struct {
	defaultFlags uint32
	flagsOff     int
}

func (c *capi) xnnAvailable() bool {
	return c.xnnCreate != nil && c.xnnDelete != nil && c.xnnOptionsDefault != nil
}

func (c *capi) learnXNNLayout() xnnLayout {
	c.xnnOnce.Do(func() {
		c.xnn = xnnLayout{flagsOff: -1}
		if c.xnnGetFlags == nil {
			return
		}
		buf := c.malloc(xnnOptionsSize)
		if buf == nil {
			return
		}
		defer c.free(buf)
		clear(unsafe.Slice((*byte)(buf), xnnOptionsSize))
		c.xnnOptionsDefault(buf)
		d := c.xnnCreate(buf)
		if d == 0 {
			return
		}
		f := uint32(c.xnnGetFlags(d))
		c.xnnDelete(d)
		c.xnn.defaultFlags = f
		mem := unsafe.Slice((*byte)(buf), xnnOptionsSize)
		if f == 0 {
			return
		}
		for _, off := range []int{8, 4} {
			if binary.LittleEndian.Uint32(mem[off:]) == f {
				c.xnn.flagsOff = off
				return
			}
		}
	})
	return c.xnn
}

// newXNNPACK creates the XNNPACK delegate with the library's default
// options, threads threads and the quantized operators enabled. It
// returns the flags in effect (0 when the library cannot say).
func (c *capi) newXNNPACK(threads int) (uintptr, uint32, error) {
	if !c.xnnAvailable() {
		return 0, 0, errors.New("the library has no XNNPACK delegate (TfLiteXNNPackDelegateCreate; built without TFLITE_ENABLE_XNNPACK?)")
	}
	layout := c.learnXNNLayout()
	buf := c.malloc(xnnOptionsSize)
	if buf == nil {
		return 0, 0, fmt.Errorf("malloc %d bytes for the XNNPACK options failed", xnnOptionsSize)
	}
	defer c.free(buf) // the delegate keeps a copy
	mem := unsafe.Slice((*byte)(buf), xnnOptionsSize)
	clear(mem)
	c.xnnOptionsDefault(buf)
	binary.LittleEndian.PutUint32(mem[0:], uint32(int32(max(1, threads))))
	want := uint32(xnnFlagQS8 | xnnFlagQU8)
	if layout.defaultFlags&want != want && layout.flagsOff >= 0 {
		off := layout.flagsOff
		binary.LittleEndian.PutUint32(mem[off:], binary.LittleEndian.Uint32(mem[off:])|want)
	}
	d := c.xnnCreate(buf)
	if d == 0 {
		return 0, 0, errors.New("TfLiteXNNPackDelegateCreate returned NULL")
	}
	var flags uint32
	if c.xnnGetFlags != nil {
		flags = uint32(c.xnnGetFlags(d))
	}
	return d, flags, nil
}
