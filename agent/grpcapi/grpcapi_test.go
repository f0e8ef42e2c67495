package grpcapi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/edged-dev/edged/agent/grpcapi/inferencepb"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/infer/infertest"
	"github.com/edged-dev/edged/runtime/tensor"
)

// The models of the HTTP conformance suite: Triton's binary-data example
// (input0 UINT32 [2,2], input1 BOOL [3], output0 FP32 [3,2], version 3)
// and a quantized one (in UINT8 [2] scale 0.5 zero point 10).
var models = []infer.ModelInfo{
	infertest.TritonExample,
	{Name: "m", Version: "1", Ready: true,
		Inputs:  []infer.TensorSpec{{Name: "in", DType: tensor.UInt8, Shape: []int{2}, Quantized: true, Scale: 0.5, ZeroPoint: 10}},
		Outputs: []infer.TensorSpec{{Name: "out", DType: tensor.UInt8, Shape: []int{3}}, {Name: "sum", DType: tensor.UInt8, Shape: []int{1}}}},
}

type backend struct{}

func (backend) Model(name, version string) (infer.ModelInfo, error) {
	for _, m := range models {
		if m.Name == name && (version == "" || version == m.Version) {
			return m, nil
		}
	}
	return infer.ModelInfo{}, fmt.Errorf("%w: %q version %q", infer.ErrModelNotFound, name, version)
}
func (backend) Admit(string, string) error { return nil }
func (backend) Ready() bool                { return true }

// Handle: mymodel's answer is infertest's; m's out = [in0, in1, in0+in1], sum = [in0+in1].
func (backend) Handle(ctx context.Context, req *infer.Request) (*infer.Response, error) {
	if req.Model == "m" {
		d := req.Inputs[0].Data
		return &infer.Response{Outputs: []infer.Tensor{{Name: "out", DType: tensor.UInt8, Shape: []int{3}, Data: []byte{d[0], d[1], d[0] + d[1]}},
			{Name: "sum", DType: tensor.UInt8, Shape: []int{1}, Data: []byte{d[0] + d[1]}}}}, nil
	}
	return infertest.TritonExampleAnswer(req), nil
}

// start serves the service on a loopback port and returns a client
// generated from the same .proto.
func start(t *testing.T, opts Options) pb.GRPCInferenceServiceClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(backend{}, opts)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewGRPCInferenceServiceClient(conn)
}

// floats reads raw FP32 contents as the protocol lays them out: little
// endian, row major.
func floats(b []byte) string {
	var s []string
	for i := 0; i+4 <= len(b); i += 4 {
		s = append(s, strconv.FormatFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))), 'g', -1, 32))
	}
	return "[" + strings.Join(s, ",") + "]"
}

func exampleRequest() *pb.ModelInferRequest {
	return &pb.ModelInferRequest{ModelName: "mymodel", Id: "42", Inputs: []*pb.ModelInferRequest_InferInputTensor{
		{Name: "input0", Datatype: "UINT32", Shape: []int64{2, 2}, Contents: &pb.InferTensorContents{UintContents: []uint32{1, 2, 3, 4}}},
		{Name: "input1", Datatype: "BOOL", Shape: []int64{3}, Contents: &pb.InferTensorContents{BoolContents: []bool{true, false, true}}},
	}}
}

func TestService(t *testing.T) {
	c := start(t, Options{Version: "1.2.3"})
	ctx := context.Background()
	if r, err := c.ServerLive(ctx, &pb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("ServerLive: %v %v", r, err)
	}
	if r, err := c.ServerReady(ctx, &pb.ServerReadyRequest{}); err != nil || !r.Ready {
		t.Errorf("ServerReady: %v %v", r, err)
	}
	if r, err := c.ServerMetadata(ctx, &pb.ServerMetadataRequest{}); err != nil || r.Name != "edged" || r.Version != "1.2.3" {
		t.Errorf("ServerMetadata: %v %v", r, err)
	}
	for _, v := range []string{"", "3"} {
		if r, err := c.ModelReady(ctx, &pb.ModelReadyRequest{Name: "mymodel", Version: v}); err != nil || !r.Ready {
			t.Errorf("ModelReady version %q: %v %v", v, r, err)
		}
		r, err := c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "mymodel", Version: v})
		if err != nil {
			t.Fatalf("ModelMetadata: %v", err)
		}
		got := fmt.Sprint(r.Name, r.Versions, r.Platform)
		for _, ts := range append(r.Inputs, r.Outputs...) {
			got += fmt.Sprint(" ", ts.Name, ts.Datatype, ts.Shape)
		}
		if want := "mymodel[3]tflite input0UINT32[2 2] input1BOOL[3] output0FP32[3 2]"; got != want {
			t.Errorf("ModelMetadata = %s; want %s", got, want)
		}
	}
	for _, req := range []*pb.ModelReadyRequest{{Name: "nope"}, {Name: "mymodel", Version: "4"}} {
		if _, err := c.ModelReady(ctx, req); status.Code(err) != codes.NotFound {
			t.Errorf("ModelReady %v: %v; want NotFound", req, err)
		}
	}
	if _, err := c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("ModelMetadata of an unknown model: %v; want NotFound", err)
	}
}

func TestModelInfer(t *testing.T) {
	c := start(t, Options{})
	ctx := context.Background()
	// Typed contents, with and without a version.
	for _, v := range []string{"", "3"} {
		req := exampleRequest()
		req.ModelVersion = v
		r, err := c.ModelInfer(ctx, req)
		if err != nil {
			t.Fatalf("ModelInfer: %v", err)
		}
		if r.ModelName != "mymodel" || r.ModelVersion != "3" || r.Id != "42" || len(r.Outputs) != 1 || len(r.RawOutputContents) != 1 {
			t.Fatalf("response %v", r)
		}
		o := r.Outputs[0]
		if got := fmt.Sprint(o.Name, o.Datatype, o.Shape, floats(r.RawOutputContents[0])); got != "output0FP32[3 2][1.5,3,4.5,6,2,-0.25]" {
			t.Errorf("output %s", got)
		}
	}
	// Raw contents: the 16 + 3 bytes of Triton's binary example.
	req := exampleRequest()
	raw0 := make([]byte, 16)
	for i, v := range []uint32{1, 2, 3, 4} {
		binary.LittleEndian.PutUint32(raw0[4*i:], v)
	}
	for _, in := range req.Inputs {
		in.Contents = nil
	}
	req.RawInputContents = [][]byte{raw0, {1, 0, 1}}
	if r, err := c.ModelInfer(ctx, req); err != nil || floats(r.RawOutputContents[0]) != "[1.5,3,4.5,6,2,-0.25]" {
		t.Errorf("raw ModelInfer: %v %v", r, err)
	}
	// FP32 for a quantized input: round(1/0.5)+10 = 12, round(4.9/0.5)+10 = 20;
	// only the output asked for comes back.
	q := &pb.ModelInferRequest{ModelName: "m", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "in", Datatype: "FP32", Shape: []int64{2}, Contents: &pb.InferTensorContents{Fp32Contents: []float32{1, 4.9}}}},
		Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "sum"}}}
	if r, err := c.ModelInfer(ctx, q); err != nil || len(r.Outputs) != 1 || r.Outputs[0].Name != "sum" || fmt.Sprint(r.RawOutputContents) != "[[32]]" {
		t.Errorf("quantized ModelInfer: %v %v; want sum [32]", r, err)
	}

	bad := map[string]func(r *pb.ModelInferRequest){
		"unknown input":      func(r *pb.ModelInferRequest) { r.Inputs[0].Name = "x" },
		"lowercase datatype": func(r *pb.ModelInferRequest) { r.Inputs[0].Datatype = "uint32" },
		"wrong datatype":     func(r *pb.ModelInferRequest) { r.Inputs[0].Datatype = "INT32" },
		"wrong shape":        func(r *pb.ModelInferRequest) { r.Inputs[0].Shape = []int64{4} },
		"too few values":     func(r *pb.ModelInferRequest) { r.Inputs[0].Contents.UintContents = []uint32{1, 2, 3} },
		"values in the wrong field": func(r *pb.ModelInferRequest) {
			r.Inputs[0].Contents = &pb.InferTensorContents{IntContents: []int32{1, 2, 3, 4}}
		},
		"missing input": func(r *pb.ModelInferRequest) { r.Inputs = r.Inputs[:1] },
		"input twice":   func(r *pb.ModelInferRequest) { r.Inputs[1] = r.Inputs[0] },
		"unknown output": func(r *pb.ModelInferRequest) {
			r.Outputs = []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "nope"}}
		},
		"raw count":     func(r *pb.ModelInferRequest) { r.RawInputContents = [][]byte{make([]byte, 16)} },
		"raw and typed": func(r *pb.ModelInferRequest) { r.RawInputContents = [][]byte{make([]byte, 16), {1, 0, 1}} },
		"raw size": func(r *pb.ModelInferRequest) {
			r.Inputs[0].Contents, r.Inputs[1].Contents = nil, nil
			r.RawInputContents = [][]byte{make([]byte, 15), {1, 0, 1}}
		},
	}
	for name, edit := range bad {
		r := exampleRequest()
		edit(r)
		if _, err := c.ModelInfer(ctx, r); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v; want InvalidArgument", name, err)
		}
	}
	for _, r := range []*pb.ModelInferRequest{{ModelName: "nope"}, {ModelName: "mymodel", ModelVersion: "4"}} {
		if _, err := c.ModelInfer(ctx, r); status.Code(err) != codes.NotFound {
			t.Errorf("ModelInfer %s/%s: %v; want NotFound", r.ModelName, r.ModelVersion, err)
		}
	}
}

// TestToken: with a token, every call needs it, as on HTTP.
func TestToken(t *testing.T) {
	c := start(t, Options{Token: "s3cret"})
	for _, tc := range []struct {
		auth string
		want codes.Code
	}{{"", codes.Unauthenticated}, {"Bearer wrong", codes.Unauthenticated}, {"s3cret", codes.Unauthenticated}, {"Bearer s3cret", codes.OK}} {
		ctx := context.Background()
		if tc.auth != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tc.auth)
		}
		if _, err := c.ServerLive(ctx, &pb.ServerLiveRequest{}); status.Code(err) != tc.want {
			t.Errorf("authorization %q: %v; want %v", tc.auth, err, tc.want)
		}
		if _, err := c.ModelInfer(ctx, exampleRequest()); status.Code(err) != tc.want {
			t.Errorf("ModelInfer with authorization %q: %v; want %v", tc.auth, err, tc.want)
		}
	}
}

// panicking panics on every request.
type panicking struct{ backend }

func (panicking) Handle(context.Context, *infer.Request) (*infer.Response, error) { panic("boom") }

// TestPanic: a handler's panic is an Internal error; the server serves on.
func TestPanic(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(panicking{}, Options{})
	go srv.Serve(ln)
	defer srv.Stop()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := pb.NewGRPCInferenceServiceClient(conn)
	if _, err := c.ModelInfer(context.Background(), exampleRequest()); status.Code(err) != codes.Internal {
		t.Errorf("ModelInfer on a panicking backend: %v; want Internal", err)
	}
	if r, err := c.ServerLive(context.Background(), &pb.ServerLiveRequest{}); err != nil || !r.Live {
		t.Errorf("ServerLive after the panic: %v %v", r, err)
	}
}

// FuzzDecodeInputs: any ModelInferRequest the network can send decodes to
// inputs the model takes, or to InvalidArgument; never a panic.
func FuzzDecodeInputs(f *testing.F) {
	for _, r := range []*pb.ModelInferRequest{exampleRequest(),
		{ModelName: "m", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "in", Datatype: "FP32", Shape: []int64{2}, Contents: &pb.InferTensorContents{Fp32Contents: []float32{1, 4.9}}}}},
		{ModelName: "m", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "in", Datatype: "UINT8", Shape: []int64{2}}}, RawInputContents: [][]byte{{1, 2}}},
		{ModelName: "b1", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "INT8", Shape: []int64{3, 2}, Contents: &pb.InferTensorContents{IntContents: []int32{1, 2, 3, 4, 5, 6}}}}},
	} {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r pb.ModelInferRequest
		if proto.Unmarshal(b, &r) != nil {
			return
		}
		// With a model of batch 1 too: a batch over it is split into
		// items the model takes.
		batch1 := infer.ModelInfo{Name: "b1", Version: "1", Ready: true,
			Inputs:  []infer.TensorSpec{{Name: "x", DType: tensor.Int8, Shape: []int{1, 2}}},
			Outputs: []infer.TensorSpec{{Name: "y", DType: tensor.Int8, Shape: []int{1, 2}}}}
		for _, mi := range append(models[:len(models):len(models)], batch1) {
			in, err := decodeInputs(&r, mi)
			if err != nil {
				if status.Code(err) != codes.InvalidArgument {
					t.Fatalf("error %v is not InvalidArgument", err)
				}
				continue
			}
			items, err := infer.SplitBatch(mi, in)
			if err != nil {
				if !errors.Is(err, infer.ErrBadInput) {
					t.Fatalf("split error %v is not bad input", err)
				}
				continue
			}
			for _, item := range items {
				if err := mi.CheckInputs(item); err != nil {
					t.Fatalf("accepted inputs the model does not take: %v", err)
				}
			}
		}
	})
}
