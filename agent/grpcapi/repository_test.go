package grpcapi

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	pb "github.com/edged-dev/edged/agent/grpcapi/inferencepb"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/inferstats"
	agentstatus "github.com/edged-dev/edged/agent/status"
)

type nopRepository struct{}

func (nopRepository) RepositoryLoad(context.Context, string) error         { return nil }
func (nopRepository) RepositoryUnload(context.Context, string, bool) error { return nil }
func (nopRepository) Models() []infer.ModelInfo                            { return nil }
func (nopRepository) Missing() []agentstatus.Missing                       { return nil }

// TestRepositoryControlAccess: load and unload change what the device
// serves: without a token only loopback callers may, with one the token
// (checked by the interceptor) is what counts; without a repository they
// are unimplemented.
func TestRepositoryControlAccess(t *testing.T) {
	from := func(ip string) context.Context {
		return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 4000}})
	}
	for _, tc := range []struct {
		name  string
		opts  Options
		ctx   context.Context
		wantC codes.Code
	}{
		{"loopback", Options{Repository: nopRepository{}}, from("127.0.0.1"), codes.OK},
		{"loopback v6", Options{Repository: nopRepository{}}, from("::1"), codes.OK},
		{"other host without token", Options{Repository: nopRepository{}}, from("192.0.2.7"), codes.PermissionDenied},
		{"no peer", Options{Repository: nopRepository{}}, context.Background(), codes.PermissionDenied},
		{"other host with token", Options{Repository: nopRepository{}, Token: "s3cret"}, from("192.0.2.7"), codes.OK},
		{"no repository", Options{}, from("127.0.0.1"), codes.Unimplemented},
	} {
		s := &service{opts: tc.opts}
		if got := status.Code(s.control(tc.ctx)); got != tc.wantC {
			t.Errorf("%s: %v; want %v", tc.name, got, tc.wantC)
		}
	}
}

// TestClassificationAndStats: the classification extension over gRPC
// (an output's "classification" int64_param: a BYTES output of
// "value:index" strings, the largest first, in raw contents with the
// 4-byte little-endian length prefix), refused counts, and every call
// counted in the statistics table the HTTP endpoint reports.
func TestClassificationAndStats(t *testing.T) {
	table := &inferstats.Table{}
	c := start(t, Options{Stats: table})
	ctx := context.Background()
	req := func(params map[string]*pb.InferParameter) *pb.ModelInferRequest {
		return &pb.ModelInferRequest{ModelName: "m", Inputs: []*pb.ModelInferRequest_InferInputTensor{
			{Name: "in", Datatype: "UINT8", Shape: []int64{2}, Contents: &pb.InferTensorContents{UintContents: []uint32{3, 5}}}},
			Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "out", Parameters: params}}}
	}
	// m's out is [in0, in1, in0+in1] = [3, 5, 8]: the top 2 are 8 at
	// index 2 and 5 at index 1.
	r, err := c.ModelInfer(ctx, req(map[string]*pb.InferParameter{"classification": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 2}}}))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("\x03\x00\x00\x008:2\x03\x00\x00\x005:1")
	if len(r.Outputs) != 1 || r.Outputs[0].Datatype != "BYTES" || fmt.Sprint(r.Outputs[0].Shape) != "[2]" || len(r.RawOutputContents) != 1 || !bytes.Equal(r.RawOutputContents[0], want) {
		t.Errorf("classified output %v %q; want BYTES [2] %q", r.Outputs, r.RawOutputContents, want)
	}
	for _, p := range []*pb.InferParameter{
		{ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 0}},
		{ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: -1}},
		{ParameterChoice: &pb.InferParameter_StringParam{StringParam: "2"}},
	} {
		if _, err := c.ModelInfer(ctx, req(map[string]*pb.InferParameter{"classification": p})); status.Code(err) != codes.InvalidArgument {
			t.Errorf("classification %v: %v; want InvalidArgument", p, err)
		}
	}
	l := table.List("m", "")
	if len(l) != 1 {
		t.Fatalf("statistics %+v; want model m alone", l)
	}
	is := l[0].InferenceStats
	if l[0].Version != "1" || l[0].InferenceCount != 1 || l[0].ExecutionCount != 1 || is.Success.Count != 1 || is.Fail.Count != 3 || is.ComputeInfer.Count != 1 || is.Success.NS == 0 {
		t.Errorf("statistics %+v; want version 1: 1 inference, 1 execution, 1 success, 3 failures", l[0])
	}
}
