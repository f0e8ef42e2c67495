//go:build edged_grpc

package agent

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/edged-dev/edged/agent/config"
	pb "github.com/edged-dev/edged/agent/grpcapi/inferencepb"
	"github.com/edged-dev/edged/internal/testenv"
)

// TestGRPC: with grpc.listen set, the agent serves hello_world_int8 over
// gRPC and answers as the official runtime (golden output).
func TestGRPC(t *testing.T) {
	model, err := filepath.Abs("../testdata/models/hello_world_int8.tflite")
	if err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(testConfig+"grpc:\n  listen: %s\n", t.TempDir(), model, addr)), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if _, err := a.Addr(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := pb.NewGRPCInferenceServiceClient(conn)
	var r *pb.ModelInferResponse
	// The listener starts just after the HTTP one: retry while it comes up.
	for range 50 {
		r, err = c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "hello", Inputs: []*pb.ModelInferRequest_InferInputTensor{
			{Name: "serving_default_dense_input:0", Datatype: "INT8", Shape: []int64{1, 1}, Contents: &pb.InferTensorContents{IntContents: []int32{-96}}}}},
			grpc.WaitForReady(true))
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("ModelInfer: %v", err)
	}
	if len(r.RawOutputContents) != 1 || len(r.RawOutputContents[0]) != 1 || int8(r.RawOutputContents[0][0]) != refOutput(t, -96) || r.ModelVersion != "7" {
		t.Errorf("response %v; want version 7 and [%d]", r, refOutput(t, -96))
	}
}
