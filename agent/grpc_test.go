//go:build edged_grpc

package agent

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

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
	_, httpURL, stop := runConfig(t, fmt.Appendf(nil, testConfig+"grpc:\n  listen: %s\n", t.TempDir(), model, addr))
	defer stop()
	ctx := t.Context()
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

	// A batch of 4 over the model's [1,1] input: four invocations, the
	// outputs stacked as [4,1], each the official runtime's (golden); with
	// classification 1, "value:0" per row, shaped [4,1]. GET
	// /v2/models/hello/stats (HTTP) counts the gRPC requests.
	t.Run("batch split, classification, statistics", func(t *testing.T) {
		stats := func() (inferences, executions, successes float64) {
			t.Helper()
			code, body, _ := do(t, "GET", httpURL+"/v2/models/hello/stats", "", nil)
			var st struct {
				ModelStats []struct {
					InferenceCount float64 `json:"inference_count"`
					ExecutionCount float64 `json:"execution_count"`
					InferenceStats struct {
						Success struct{ Count float64 } `json:"success"`
					} `json:"inference_stats"`
				} `json:"model_stats"`
			}
			if err := json.Unmarshal(body, &st); err != nil || code != 200 || len(st.ModelStats) != 1 {
				t.Fatalf("stats: %d %s %v", code, body, err)
			}
			m := st.ModelStats[0]
			return m.InferenceCount, m.ExecutionCount, m.InferenceStats.Success.Count
		}
		inf0, ex0, ok0 := stats()
		qs := []int32{-96, 0, -34, -63}
		batch := &pb.ModelInferRequest{ModelName: "hello", Inputs: []*pb.ModelInferRequest_InferInputTensor{
			{Name: "serving_default_dense_input:0", Datatype: "INT8", Shape: []int64{4, 1}, Contents: &pb.InferTensorContents{IntContents: qs}}}}
		r, err := c.ModelInfer(ctx, batch)
		if err != nil {
			t.Fatalf("ModelInfer of a batch of 4: %v", err)
		}
		var want []byte
		var wantClass []byte
		for _, q := range qs {
			o := refOutput(t, int(q))
			want = append(want, byte(o))
			s := fmt.Sprintf("%d:0", o)
			wantClass = append(binary.LittleEndian.AppendUint32(wantClass, uint32(len(s))), s...)
		}
		if len(r.Outputs) != 1 || fmt.Sprint(r.Outputs[0].Shape) != "[4 1]" || len(r.RawOutputContents) != 1 || !bytes.Equal(r.RawOutputContents[0], want) {
			t.Errorf("batch output %v %v; want [4 1] %v", r.Outputs, r.RawOutputContents, want)
		}
		batch.Outputs = []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "StatefulPartitionedCall:0",
			Parameters: map[string]*pb.InferParameter{"classification": {ParameterChoice: &pb.InferParameter_Int64Param{Int64Param: 1}}}}}
		r, err = c.ModelInfer(ctx, batch)
		if err != nil {
			t.Fatalf("ModelInfer of a batch of 4, classified: %v", err)
		}
		if len(r.Outputs) != 1 || r.Outputs[0].Datatype != "BYTES" || fmt.Sprint(r.Outputs[0].Shape) != "[4 1]" || !bytes.Equal(r.RawOutputContents[0], wantClass) {
			t.Errorf("classified batch %v %q; want BYTES [4 1] %q", r.Outputs, r.RawOutputContents, wantClass)
		}
		inf1, ex1, ok1 := stats()
		if inf1-inf0 != 8 || ex1-ex0 != 8 || ok1-ok0 != 2 {
			t.Errorf("statistics grew by %g inferences, %g executions, %g successes; want 8, 8, 2 (two gRPC requests of 4)", inf1-inf0, ex1-ex0, ok1-ok0)
		}
		// Triton's ModelStatistics method reports the same table.
		var ms pb.ModelStatisticsResponse
		if err := conn.Invoke(ctx, "/inference.GRPCInferenceService/ModelStatistics", &pb.ModelStatisticsRequest{Name: "hello"}, &ms); err != nil {
			t.Fatalf("ModelStatistics: %v", err)
		}
		if len(ms.ModelStats) != 1 {
			t.Fatalf("ModelStatistics %v; want hello alone", &ms)
		}
		m := ms.ModelStats[0]
		if m.Name != "hello" || m.Version != "7" || float64(m.InferenceCount) != inf1 || float64(m.ExecutionCount) != ex1 || float64(m.InferenceStats.GetSuccess().GetCount()) != ok1 || m.LastInference == 0 {
			t.Errorf("ModelStatistics %v; want hello 7 with HTTP's %g inferences, %g executions, %g successes", m, inf1, ex1, ok1)
		}
		var none pb.ModelStatisticsResponse
		if err := conn.Invoke(ctx, "/inference.GRPCInferenceService/ModelStatistics", &pb.ModelStatisticsRequest{Name: "nosuch"}, &none); status.Code(err) != codes.NotFound {
			t.Errorf("ModelStatistics of an unknown model: %v; want NotFound", err)
		}
	})

	// The model repository extension, called as a client generated from
	// Triton's grpc_service.proto calls it (same method names and
	// messages): OK with an empty response, failures InvalidArgument; an
	// unloaded model is UNAVAILABLE "unloaded" in the index, not ready,
	// and its requests are NotFound "has no available versions".
	t.Run("repository", func(t *testing.T) {
		call := func(method string, req, resp any) error {
			return conn.Invoke(ctx, "/inference.GRPCInferenceService/"+method, req, resp)
		}
		index := func() string {
			t.Helper()
			var ix pb.RepositoryIndexResponse
			if err := call("RepositoryIndex", &pb.RepositoryIndexRequest{}, &ix); err != nil {
				t.Fatalf("RepositoryIndex: %v", err)
			}
			var out []string
			for _, m := range ix.Models {
				out = append(out, strings.TrimSpace(strings.Join([]string{m.Name, m.Version, m.State, m.Reason}, " ")))
			}
			return strings.Join(out, ",")
		}
		infer := func() error {
			_, err := c.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "hello", Inputs: []*pb.ModelInferRequest_InferInputTensor{
				{Name: "serving_default_dense_input:0", Datatype: "INT8", Shape: []int64{1, 1}, Contents: &pb.InferTensorContents{IntContents: []int32{-96}}}}})
			return err
		}
		md, err := c.ServerMetadata(ctx, &pb.ServerMetadataRequest{})
		if err != nil || !slices.Contains(md.Extensions, "model_repository") {
			t.Errorf("ServerMetadata %v %v; want model_repository among the extensions", md, err)
		}
		if got := index(); got != "hello 7 READY" {
			t.Errorf("index %q; want hello 7 READY", got)
		}
		if err := call("RepositoryModelUnload", &pb.RepositoryModelUnloadRequest{ModelName: "hello"}, &pb.RepositoryModelUnloadResponse{}); err != nil {
			t.Fatalf("RepositoryModelUnload: %v", err)
		}
		if got := index(); got != "hello 7 UNAVAILABLE unloaded" {
			t.Errorf("index after unload %q; want hello 7 UNAVAILABLE unloaded", got)
		}
		if err := infer(); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "has no available versions") {
			t.Errorf("ModelInfer after unload: %v; want NotFound, has no available versions", err)
		}
		if r, err := c.ModelReady(ctx, &pb.ModelReadyRequest{Name: "hello"}); err != nil || r.Ready {
			t.Errorf("ModelReady after unload: %v %v; want not ready", r, err)
		}
		if r, err := c.ServerReady(ctx, &pb.ServerReadyRequest{}); err != nil || !r.Ready {
			t.Errorf("ServerReady after unload: %v %v; want ready", r, err)
		}
		for _, p := range []map[string]*pb.ModelRepositoryParameter{
			{"file:1/model.tflite": {ParameterChoice: &pb.ModelRepositoryParameter_BytesParam{BytesParam: []byte("TFL3")}}},
			{"config": {ParameterChoice: &pb.ModelRepositoryParameter_StringParam{StringParam: "{}"}}},
		} {
			err := call("RepositoryModelLoad", &pb.RepositoryModelLoadRequest{ModelName: "hello", Parameters: p}, &pb.RepositoryModelLoadResponse{})
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "refused") {
				t.Errorf("RepositoryModelLoad with %v: %v; want InvalidArgument, refused", p, err)
			}
		}
		err = call("RepositoryModelLoad", &pb.RepositoryModelLoadRequest{ModelName: "nosuch"}, &pb.RepositoryModelLoadResponse{})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("RepositoryModelLoad of an unknown model: %v; want InvalidArgument", err)
		}
		if err := call("RepositoryModelLoad", &pb.RepositoryModelLoadRequest{ModelName: "hello"}, &pb.RepositoryModelLoadResponse{}); err != nil {
			t.Fatalf("RepositoryModelLoad: %v", err)
		}
		if got := index(); got != "hello 7 READY" {
			t.Errorf("index after load %q; want hello 7 READY", got)
		}
		if err := infer(); err != nil {
			t.Errorf("ModelInfer after load: %v", err)
		}
	})
}
