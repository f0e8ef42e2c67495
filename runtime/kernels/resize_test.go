package kernels

import (
	"errors"
	"testing"

	"github.com/edged-dev/edged/runtime/tensor"
)

func TestResize(t *testing.T) {
	align := ResizeParams{AlignCorners: true}
	half := ResizeParams{HalfPixelCenters: true}
	tests := []struct {
		name    string
		nearest bool
		p       ResizeParams
		dt      tensor.DType
		inShape []int
		in      []float64
		h, w    int
		want    []float64
		wantErr error
	}{
		{
			name: "nearest float 2x2 to 4x4", nearest: true, dt: tensor.Float32,
			inShape: []int{1, 2, 2, 1}, in: []float64{1, 2, 3, 4}, h: 4, w: 4,
			want: []float64{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4},
		},
		{
			// scale 1/2; round(0.5) = 1.
			name: "nearest int8 align_corners", nearest: true, p: align, dt: tensor.Int8,
			inShape: []int{1, 1, 2, 1}, in: []float64{10, 20}, h: 1, w: 3,
			want: []float64{10, 20, 20},
		},
		{
			// scale 2/3: floor(0.5*s)=0, floor(1.5*s)=1, floor(2.5*s)=1.
			name: "nearest int16 half_pixel_centers", nearest: true, p: half, dt: tensor.Int16,
			inShape: []int{1, 1, 2, 1}, in: []float64{10, 20}, h: 1, w: 3,
			want: []float64{10, 20, 20},
		},
		{
			name: "nearest int32 downscale two channels", nearest: true, dt: tensor.Int32,
			inShape: []int{1, 1, 4, 2}, in: []float64{1, -1, 2, -2, 3, -3, 4, -4}, h: 1, w: 2,
			want: []float64{1, -1, 3, -3},
		},
		{
			// scale 1/2: x = 0, 0.5, 1, 1.5 (the last clamps to column 1).
			name: "bilinear float", dt: tensor.Float32,
			inShape: []int{1, 1, 2, 1}, in: []float64{0, 10}, h: 1, w: 4,
			want: []float64{0, 5, 10, 10},
		},
		{
			// x = -0.25 (both sources column 0), 0.25, 0.75, 1.25.
			name: "bilinear float half_pixel_centers", p: half, dt: tensor.Float32,
			inShape: []int{1, 1, 2, 1}, in: []float64{0, 10}, h: 1, w: 4,
			want: []float64{0, 2.5, 7.5, 10},
		},
		{
			// scale (2-1)/(3-1): x = 0, 0.5, 1 in both directions.
			name: "bilinear float align_corners 2x2 to 3x3", p: align, dt: tensor.Float32,
			inShape: []int{1, 2, 2, 1}, in: []float64{0, 4, 8, 12}, h: 3, w: 3,
			want: []float64{0, 2, 4, 4, 6, 8, 8, 10, 12},
		},
		{
			// 10-bit fixed point: 2.5 -> 3, 7.5 -> 8 (half away from zero).
			name: "bilinear int8 half_pixel_centers", p: half, dt: tensor.Int8,
			inShape: []int{1, 1, 2, 1}, in: []float64{0, 10}, h: 1, w: 4,
			want: []float64{0, 3, 8, 10},
		},
		{
			name: "bilinear int8 negative rounds away from zero", p: half, dt: tensor.Int8,
			inShape: []int{1, 1, 2, 1}, in: []float64{0, -10}, h: 1, w: 4,
			want: []float64{0, -3, -8, -10},
		},
		{
			name: "bilinear int16", p: half, dt: tensor.Int16,
			inShape: []int{1, 1, 2, 1}, in: []float64{0, -1000}, h: 1, w: 4,
			want: []float64{0, -250, -750, -1000},
		},
		{
			// Float interpolation plus 0.5, truncated: 2.75 -> 3, 8.25 -> 8.
			name: "bilinear uint8 rounds", p: half, dt: tensor.UInt8,
			inShape: []int{1, 1, 2, 1}, in: []float64{0, 11}, h: 1, w: 4,
			want: []float64{0, 3, 8, 11},
		},
		{
			name: "bilinear uint8 half up", p: half, dt: tensor.UInt8,
			inShape: []int{1, 1, 2, 1}, in: []float64{0, 10}, h: 1, w: 4,
			want: []float64{0, 3, 8, 10},
		},
		{
			name: "bilinear both options", p: ResizeParams{AlignCorners: true, HalfPixelCenters: true}, dt: tensor.Float32,
			inShape: []int{1, 1, 2, 1}, in: []float64{0, 10}, h: 1, w: 4, wantErr: errAny,
		},
		{
			name: "bilinear int32 unsupported", dt: tensor.Int32,
			inShape: []int{1, 1, 2, 1}, in: []float64{0, 10}, h: 1, w: 4, wantErr: ErrUnsupported,
		},
		{
			name: "rank 3 input", nearest: true, dt: tensor.Float32,
			inShape: []int{1, 2, 1}, in: []float64{0, 10}, h: 1, w: 4, wantErr: errAny,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := (*tensor.Quant)(nil)
			if tt.dt.Quantized() {
				q = poolQ(0.1, 0)
			}
			in := poolTensor("in", tt.dt, tt.inShape, q, tt.in)
			out := poolTensor("out", tt.dt, nil, q, nil)
			op := "ResizeBilinear"
			var k Kernel
			var err error
			if tt.nearest {
				op = "ResizeNearestNeighbor"
				k, err = ResizeNearestNeighbor(&Config{}, tt.p, in, tt.h, tt.w, out)
			} else {
				k, err = ResizeBilinear(&Config{}, tt.p, in, tt.h, tt.w, out)
			}
			if tt.dt == tensor.Float32 && !tt.nearest && err == nil {
				// XNNPACK's float interpolation gives these values too.
				out := poolTensor("out", tt.dt, nil, q, nil)
				k, err := ResizeBilinear(&Config{Arithmetic: LiteRT}, tt.p, in, tt.h, tt.w, out)
				if err != nil {
					t.Fatalf("%s(%s) LiteRT: %v", op, tt.name, err)
				}
				poolCheck(t, op+" LiteRT", tt.name, k, out, []int{tt.inShape[0], tt.h, tt.w, tt.inShape[3]}, tt.want)
			}
			if tt.wantErr != nil {
				if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("%s(%s) err = %v; want %v", op, tt.name, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s(%s): %v", op, tt.name, err)
			}
			wantShape := []int{tt.inShape[0], tt.h, tt.w, tt.inShape[3]}
			poolCheck(t, op, tt.name, k, out, wantShape, tt.want)
		})
	}
}
