// Package grpcapi serves the Open Inference Protocol over gRPC: the KServe
// v2 service inference.GRPCInferenceService (ServerLive, ServerReady,
// ServerMetadata, ModelReady, ModelMetadata, ModelInfer with typed or raw
// contents), from the stubs generated from the specification's .proto
// (inferencepb). It is off unless grpc.listen is set, and follows the HTTP
// endpoint's rules: a bearer token, when set, is required on every call.
package grpcapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/edged-dev/edged/agent/grpcapi/inferencepb"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/inferstats"
	"github.com/edged-dev/edged/runtime/tensor"
)

// Backend is what the service serves: the agent.
type Backend interface {
	infer.Handler
	// Model describes a served model (version "" the one serving now).
	Model(name, version string) (infer.ModelInfo, error)
	// Admit says whether the model can take a request now.
	Admit(name, version string) error
	// Ready reports whether every configured model is served.
	Ready() bool
}

// Options configure the service.
type Options struct {
	// Token, when set, is required as the "authorization: Bearer TOKEN"
	// metadata of every call.
	Token string
	// Version is ServerMetadata's version.
	Version string
	// MaxRequestBytes bounds a request message (16 MiB when 0).
	MaxRequestBytes int
	// Log takes handler panics (discarded when nil).
	Log *slog.Logger
	// Stats, if set, is the statistics table the service counts its
	// requests in (the HTTP endpoint's, which reports them).
	Stats *inferstats.Table
	// Repository, if set, answers the model repository extension
	// (RepositoryIndex, RepositoryModelLoad, RepositoryModelUnload; load
	// and unload from loopback or with Token).
	Repository Repository
}

// recovered turns a handler's panic into an Internal error: a handler bug
// must not take the daemon down (gRPC does not recover by itself).
func recovered(log *slog.Logger) grpc.UnaryServerInterceptor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("gRPC handler panicked", "method", info.FullMethod, "panic", p)
				resp, err = nil, status.Error(codes.Internal, "internal error")
			}
		}()
		return h(ctx, req)
	}
}

// NewServer returns a gRPC server with the service registered.
func NewServer(b Backend, opts Options) *grpc.Server {
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = 16 << 20
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(opts.MaxRequestBytes), grpc.ChainUnaryInterceptor(recovered(opts.Log), auth(opts.Token)))
	if opts.Stats == nil {
		opts.Stats = &inferstats.Table{}
	}
	srv.RegisterService(serviceDesc(), &service{b: b, opts: opts, stats: opts.Stats})
	return srv
}

// auth refuses calls without the token, as the HTTP endpoint does.
func auth(token string) grpc.UnaryServerInterceptor {
	want := []byte("Bearer " + token)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if token != "" {
			md, _ := metadata.FromIncomingContext(ctx)
			got := md.Get("authorization")
			if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), want) != 1 {
				return nil, status.Error(codes.Unauthenticated, "missing or wrong bearer token")
			}
		}
		return h(ctx, req)
	}
}

type service struct {
	inferencepb.UnimplementedGRPCInferenceServiceServer
	b     Backend
	opts  Options
	stats *inferstats.Table
}

// codeOf maps an inference error to its gRPC status code.
func codeOf(err error) codes.Code {
	switch {
	case errors.Is(err, infer.ErrModelNotFound):
		return codes.NotFound
	case errors.Is(err, infer.ErrBadInput):
		return codes.InvalidArgument
	case errors.Is(err, infer.ErrOverloaded):
		return codes.ResourceExhausted
	case errors.Is(err, infer.ErrNotReady):
		return codes.Unavailable
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	return codes.Internal
}

func fail(err error) error { return status.Error(codeOf(err), err.Error()) }

func badf(format string, args ...any) error {
	return status.Error(codes.InvalidArgument, fmt.Sprintf(format, args...))
}

func (s *service) ServerLive(context.Context, *inferencepb.ServerLiveRequest) (*inferencepb.ServerLiveResponse, error) {
	return &inferencepb.ServerLiveResponse{Live: true}, nil
}

func (s *service) ServerReady(context.Context, *inferencepb.ServerReadyRequest) (*inferencepb.ServerReadyResponse, error) {
	return &inferencepb.ServerReadyResponse{Ready: s.b.Ready()}, nil
}

func (s *service) ServerMetadata(context.Context, *inferencepb.ServerMetadataRequest) (*inferencepb.ServerMetadataResponse, error) {
	ext := []string{"classification", "statistics"}
	if s.opts.Repository != nil {
		ext = append(ext, "model_repository", "model_repository(unload_dependents)")
	}
	return &inferencepb.ServerMetadataResponse{Name: "edged", Version: s.opts.Version, Extensions: ext}, nil
}

func (s *service) ModelReady(ctx context.Context, r *inferencepb.ModelReadyRequest) (*inferencepb.ModelReadyResponse, error) {
	mi, err := s.b.Model(r.GetName(), r.GetVersion())
	if err != nil {
		// A configured or unloaded model that does not serve is not
		// ready; only a model the device has not is an error.
		if s.opts.Repository != nil {
			for _, m := range s.opts.Repository.Missing() {
				if m.Model == r.GetName() {
					return &inferencepb.ModelReadyResponse{Ready: false}, nil
				}
			}
		}
		return nil, fail(err)
	}
	return &inferencepb.ModelReadyResponse{Ready: mi.Ready}, nil
}

func (s *service) ModelMetadata(ctx context.Context, r *inferencepb.ModelMetadataRequest) (*inferencepb.ModelMetadataResponse, error) {
	mi, err := s.b.Model(r.GetName(), r.GetVersion())
	if err != nil {
		return nil, fail(err)
	}
	md := &inferencepb.ModelMetadataResponse{Name: mi.Name, Versions: []string{mi.Version}, Platform: "tflite"}
	for _, sp := range mi.Inputs {
		md.Inputs = append(md.Inputs, &inferencepb.ModelMetadataResponse_TensorMetadata{Name: sp.Name, Datatype: infer.DatatypeName(sp.DType), Shape: shape64(sp.Shape)})
	}
	for _, sp := range mi.Outputs {
		md.Outputs = append(md.Outputs, &inferencepb.ModelMetadataResponse_TensorMetadata{Name: sp.Name, Datatype: infer.DatatypeName(sp.DType), Shape: shape64(sp.Shape)})
	}
	return md, nil
}

func shape64(s []int) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

func (s *service) ModelInfer(ctx context.Context, r *inferencepb.ModelInferRequest) (*inferencepb.ModelInferResponse, error) {
	start := time.Now()
	mi, err := s.b.Model(r.GetModelName(), r.GetModelVersion())
	if err != nil {
		return nil, fail(err)
	}
	resp, version, err := s.modelInfer(ctx, r, mi, start)
	if err != nil {
		s.stats.Fail(mi.Name, mi.Version, time.Since(start))
		return nil, err
	}
	s.stats.Success(mi.Name, version.Version, version.Request)
	return resp, nil
}

// answered is what the statistics need of an answered request.
type answered struct {
	Version string
	inferstats.Request
}

// modelInfer answers a request of a served model: a batch over a model
// of batch 1 split into one pipeline request per item (as over HTTP),
// outputs as raw contents, classified on request (the classification
// extension: a BYTES output of "value:index[:label]" strings).
func (s *service) modelInfer(ctx context.Context, r *inferencepb.ModelInferRequest, mi infer.ModelInfo, start time.Time) (*inferencepb.ModelInferResponse, answered, error) {
	var done answered
	if err := s.b.Admit(mi.Name, r.GetModelVersion()); err != nil {
		return nil, done, fail(err)
	}
	decode := time.Now()
	inputs, err := decodeInputs(r, mi)
	if err != nil {
		return nil, done, err
	}
	items, err := infer.SplitBatch(mi, inputs)
	if err != nil {
		return nil, done, fail(err)
	}
	// The outputs asked for, all when none is named, with their
	// classification counts (0: the values).
	type wanted struct{ k, classes int }
	want := make([]wanted, 0, len(mi.Outputs))
	for _, ro := range r.GetOutputs() {
		k := -1
		for i, sp := range mi.Outputs {
			if sp.Name == ro.GetName() {
				k = i
			}
		}
		if k < 0 {
			return nil, done, badf("model %q has no output %q", mi.Name, ro.GetName())
		}
		classes, err := classification(ro.GetParameters())
		if err != nil {
			return nil, done, badf("output %q: %v", ro.GetName(), err)
		}
		want = append(want, wanted{k, classes})
	}
	if len(want) == 0 {
		for i := range mi.Outputs {
			want = append(want, wanted{i, 0})
		}
	}
	decoded := time.Now()
	results, err := infer.RunItems(ctx, s.b, mi, r.GetModelVersion(), r.GetId(), items)
	if err != nil {
		return nil, done, fail(err)
	}
	ran := time.Now()
	outs := results[0].Outputs
	if len(items) > 1 {
		if outs, err = infer.JoinBatch(results); err != nil {
			return nil, done, status.Error(codes.Internal, err.Error())
		}
	}
	resp := &inferencepb.ModelInferResponse{ModelName: mi.Name, ModelVersion: mi.Version, Id: r.GetId()}
	if v := results[0].Version; v != "" {
		resp.ModelVersion = v
	}
	// Outputs go as raw contents, as Triton answers.
	for _, w := range want {
		if w.k >= len(outs) {
			return nil, done, status.Error(codes.Internal, "the model gave fewer outputs than it declares")
		}
		o := outs[w.k]
		if w.classes == 0 {
			resp.Outputs = append(resp.Outputs, &inferencepb.ModelInferResponse_InferOutputTensor{Name: mi.Outputs[w.k].Name, Datatype: infer.DatatypeName(o.DType), Shape: shape64(o.Shape)})
			resp.RawOutputContents = append(resp.RawOutputContents, o.Data)
			continue
		}
		vals, err := infer.Values(o.DType, o.Data)
		if err != nil {
			return nil, done, status.Error(codes.Internal, fmt.Sprintf("output %q: %v", mi.Outputs[w.k].Name, err))
		}
		rows := len(items)
		strs := infer.ClassifyRows(vals, o.DType, mi.Labels, w.classes, rows)
		shape := []int64{int64(len(strs))}
		if rows > 1 {
			shape = []int64{int64(rows), int64(len(strs) / rows)}
		}
		resp.Outputs = append(resp.Outputs, &inferencepb.ModelInferResponse_InferOutputTensor{Name: mi.Outputs[w.k].Name, Datatype: "BYTES", Shape: shape})
		resp.RawOutputContents = append(resp.RawOutputContents, infer.EncodeBytes(strs))
	}
	done = answered{Version: resp.ModelVersion, Request: inferstats.Request{Start: start, Decode: decode, Decoded: decoded, Ran: ran, Done: time.Now(),
		Size: len(items), Results: results, Cached: mi.Cached}}
	return resp, done, nil
}

// classification reads an output's "classification" parameter: a whole
// number of classes, 1 or more, as an int64_param or uint64_param (0
// when absent). Triton refuses anything else rather than ignoring it.
func classification(params map[string]*inferencepb.InferParameter) (int, error) {
	p, ok := params["classification"]
	if !ok {
		return 0, nil
	}
	var n uint64
	switch v := p.GetParameterChoice().(type) {
	case *inferencepb.InferParameter_Int64Param:
		if v.Int64Param < 1 {
			return 0, fmt.Errorf("classification %d: want a whole number of classes, 1 or more", v.Int64Param)
		}
		n = uint64(v.Int64Param)
	case *inferencepb.InferParameter_Uint64Param:
		n = v.Uint64Param
		if n < 1 {
			return 0, fmt.Errorf("classification %d: want a whole number of classes, 1 or more", n)
		}
	default:
		return 0, fmt.Errorf("classification: want an int64_param, the number of classes")
	}
	return int(min(n, 1<<31)), nil
}

// decodeInputs reads the request's inputs in the model's order: from
// raw_input_contents (one per input, in the request's order, as the
// protocol says) or the typed contents. Names, datatypes and shapes are
// the model's; FP32 for a quantized input is quantized with its
// parameters.
func decodeInputs(r *inferencepb.ModelInferRequest, mi infer.ModelInfo) ([]infer.Tensor, error) {
	ins := r.GetInputs()
	raw := r.GetRawInputContents()
	if len(raw) != 0 && len(raw) != len(ins) {
		return nil, badf("%d raw_input_contents for %d inputs; give one per input or none", len(raw), len(ins))
	}
	if len(ins) != len(mi.Inputs) {
		return nil, badf("model %q takes %d inputs; the request has %d", mi.Name, len(mi.Inputs), len(ins))
	}
	out := make([]infer.Tensor, len(mi.Inputs))
	seen := make([]bool, len(mi.Inputs))
	for j, in := range ins {
		pos := -1
		for i, sp := range mi.Inputs {
			if sp.Name == in.GetName() {
				pos = i
			}
		}
		if pos < 0 {
			return nil, badf("model %q has no input %q", mi.Name, in.GetName())
		}
		if seen[pos] {
			return nil, badf("input %q given twice", in.GetName())
		}
		seen[pos] = true
		spec := mi.Inputs[pos]
		dt, ok := infer.ParseDatatype(in.GetDatatype())
		if !ok {
			return nil, badf("input %q: datatype %q is not one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64", in.GetName(), in.GetDatatype())
		}
		shape, ok := requestShape(in.GetShape(), spec.Shape)
		if !ok {
			return nil, badf("input %q: shape %v; the model takes %v (or a batch of up to %d over its batch 1)", in.GetName(), in.GetShape(), spec.Shape, infer.MaxSplit)
		}
		if dt != spec.DType && (dt != tensor.Float32 || !spec.Quantizes()) {
			return nil, badf("input %q: datatype %s; the model takes %s (FP32 is accepted for quantized inputs)", in.GetName(), in.GetDatatype(), infer.DatatypeName(spec.DType))
		}
		n := tensor.NumElements(shape)
		var data []byte
		var err error
		if len(raw) != 0 {
			if in.GetContents() != nil {
				return nil, badf("input %q: contents and raw_input_contents both given", in.GetName())
			}
			if len(raw[j]) != n*dt.Size() {
				return nil, badf("input %q: %d raw bytes; %s%v needs %d", in.GetName(), len(raw[j]), in.GetDatatype(), shape, n*dt.Size())
			}
			data = raw[j]
			if dt != spec.DType {
				var vals []float64
				if vals, err = infer.Values(dt, data); err == nil {
					data, err = infer.EncodeReal(vals, spec)
				}
			}
		} else {
			vals := contents(in.GetContents(), dt)
			if len(vals) != n {
				return nil, badf("input %q: %d values in the contents for %s; shape %v needs %d", in.GetName(), len(vals), in.GetDatatype(), shape, n)
			}
			if dt == spec.DType {
				data, err = infer.Encode(vals, dt)
			} else {
				data, err = infer.EncodeReal(vals, spec)
			}
		}
		if err != nil {
			return nil, badf("input %q: %v", in.GetName(), err)
		}
		out[pos] = infer.Tensor{Name: spec.Name, DType: spec.DType, Shape: shape, Data: data}
	}
	return out, nil
}

// requestShape is a request's shape if the model takes it: its own, or a
// batch over its batch 1 (split into one pipeline request per item; at
// most infer.MaxSplit, which SplitBatch checks).
func requestShape(got []int64, model []int) ([]int, bool) {
	if len(got) != len(model) {
		return nil, false
	}
	shape := make([]int, len(got))
	for i, d := range got {
		if d < 0 || d > 1<<31 {
			return nil, false
		}
		shape[i] = int(d)
	}
	if tensor.SameShape(shape, model) || infer.BatchOf(shape, model) > 1 {
		return shape, true
	}
	return nil, false
}

// contents are the values of the typed field the protocol assigns to dt:
// bool_contents for BOOL, int_contents for INT8/16/32, int64_contents,
// uint_contents for UINT8/16/32, uint64_contents, fp32_contents,
// fp64_contents. Values in other fields do not count.
func contents(c *inferencepb.InferTensorContents, dt tensor.DType) []float64 {
	var out []float64
	switch dt {
	case tensor.Bool:
		for _, v := range c.GetBoolContents() {
			if v {
				out = append(out, 1)
			} else {
				out = append(out, 0)
			}
		}
	case tensor.Int8, tensor.Int16, tensor.Int32:
		for _, v := range c.GetIntContents() {
			out = append(out, float64(v))
		}
	case tensor.Int64:
		for _, v := range c.GetInt64Contents() {
			out = append(out, float64(v))
		}
	case tensor.UInt8, tensor.UInt16, tensor.UInt32:
		for _, v := range c.GetUintContents() {
			out = append(out, float64(v))
		}
	case tensor.UInt64:
		for _, v := range c.GetUint64Contents() {
			out = append(out, float64(v))
		}
	case tensor.Float32:
		for _, v := range c.GetFp32Contents() {
			out = append(out, float64(v))
		}
	case tensor.Float64:
		out = append(out, c.GetFp64Contents()...)
	}
	return out
}
