package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/edged-dev/edged/agent/grpcapi/inferencepb"
	"github.com/edged-dev/edged/agent/infer"
	agentstatus "github.com/edged-dev/edged/agent/status"
)

// Repository is the model repository extension on a device (the agent
// implements it): the index, and a local operator's load and unload of
// models the device is configured or was deployed with. Never files sent
// in a request.
type Repository interface {
	// RepositoryLoad serves the model named name again, or reloads it.
	RepositoryLoad(ctx context.Context, name string) error
	// RepositoryUnload stops serving the model named name (with
	// dependents, an ensemble's members too).
	RepositoryUnload(ctx context.Context, name string, dependents bool) error
	// Models are the served models, Missing the configured or unloaded
	// ones that do not serve, with the reason.
	Models() []infer.ModelInfo
	Missing() []agentstatus.Missing
}

// serviceDesc is the generated service with the model repository and
// statistics extensions' methods added (Triton's; the Open Inference
// Protocol's .proto has none), so that one inference.GRPCInferenceService
// answers all.
func serviceDesc() *grpc.ServiceDesc {
	d := inferencepb.GRPCInferenceService_ServiceDesc
	d.Methods = append(slices.Clone(d.Methods),
		unary("RepositoryIndex", (*service).RepositoryIndex),
		unary("RepositoryModelLoad", (*service).RepositoryModelLoad),
		unary("RepositoryModelUnload", (*service).RepositoryModelUnload),
		unary("ModelStatistics", (*service).ModelStatistics),
	)
	return &d
}

// unary describes a unary method of the service for the registry, as the
// generated code does for the others.
func unary[Req, Resp any](name string, call func(*service, context.Context, *Req) (*Resp, error)) grpc.MethodDesc {
	full := "/" + inferencepb.GRPCInferenceService_ServiceDesc.ServiceName + "/" + name
	return grpc.MethodDesc{MethodName: name, Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
		in := new(Req)
		if err := dec(in); err != nil {
			return nil, err
		}
		s := srv.(*service)
		if ic == nil {
			return call(s, ctx, in)
		}
		return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, func(ctx context.Context, req any) (any, error) {
			return call(s, ctx, req.(*Req))
		})
	}}
}

// RepositoryIndex lists the served models READY and the others
// UNAVAILABLE with the reason ("unloaded" for a local operator's unload).
func (s *service) RepositoryIndex(ctx context.Context, r *inferencepb.RepositoryIndexRequest) (*inferencepb.RepositoryIndexResponse, error) {
	if s.opts.Repository == nil {
		return nil, status.Error(codes.Unimplemented, "this endpoint has no model repository")
	}
	resp := &inferencepb.RepositoryIndexResponse{}
	for _, mi := range s.opts.Repository.Models() {
		state := "READY"
		if !mi.Ready {
			state = "UNAVAILABLE"
		}
		if r.GetReady() && state != "READY" {
			continue
		}
		resp.Models = append(resp.Models, &inferencepb.RepositoryIndexResponse_ModelIndex{Name: mi.Name, Version: mi.Version, State: state})
	}
	if !r.GetReady() {
		for _, m := range s.opts.Repository.Missing() {
			resp.Models = append(resp.Models, &inferencepb.RepositoryIndexResponse_ModelIndex{Name: m.Model, Version: m.Version, State: "UNAVAILABLE", Reason: m.Reason})
		}
	}
	sort.SliceStable(resp.Models, func(i, j int) bool { return resp.Models[i].Name < resp.Models[j].Name })
	return resp, nil
}

// RepositoryModelLoad serves a model again at the version the device's
// model store names active; its "config" and "file:…" parameters are
// refused (a device never serves a model sent in a request).
func (s *service) RepositoryModelLoad(ctx context.Context, r *inferencepb.RepositoryModelLoadRequest) (*inferencepb.RepositoryModelLoadResponse, error) {
	if err := s.control(ctx); err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(r.GetParameters()) {
		switch {
		case strings.HasPrefix(k, "file:"):
			return nil, badf("failed to load '%s': parameter %q refused: a device never serves model files sent in a request, only its configured files and signed deployments", r.GetModelName(), k)
		case k == "config":
			return nil, badf(`failed to load '%s': parameter "config" refused: a model's settings come from the device's configuration file or a signed deployment`, r.GetModelName())
		default:
			return nil, badf("failed to load '%s': unknown parameter %q (takes no parameters)", r.GetModelName(), k)
		}
	}
	if err := s.opts.Repository.RepositoryLoad(ctx, r.GetModelName()); err != nil {
		return nil, controlError("load", r.GetModelName(), err)
	}
	return &inferencepb.RepositoryModelLoadResponse{}, nil
}

// RepositoryModelUnload stops serving a model; unload_dependents (a
// bool_param) unloads an ensemble's members too.
func (s *service) RepositoryModelUnload(ctx context.Context, r *inferencepb.RepositoryModelUnloadRequest) (*inferencepb.RepositoryModelUnloadResponse, error) {
	if err := s.control(ctx); err != nil {
		return nil, err
	}
	dependents := false
	for _, k := range sortedKeys(r.GetParameters()) {
		p := r.GetParameters()[k]
		b, ok := p.GetParameterChoice().(*inferencepb.ModelRepositoryParameter_BoolParam)
		switch {
		case k != "unload_dependents":
			return nil, badf("failed to unload '%s': unknown parameter %q (takes only unload_dependents)", r.GetModelName(), k)
		case !ok:
			return nil, badf("failed to unload '%s': parameter %q must be a bool_param", r.GetModelName(), k)
		}
		dependents = b.BoolParam
	}
	if err := s.opts.Repository.RepositoryUnload(ctx, r.GetModelName(), dependents); err != nil {
		return nil, controlError("unload", r.GetModelName(), err)
	}
	return &inferencepb.RepositoryModelUnloadResponse{}, nil
}

// control checks that load and unload may be called: the endpoint has a
// repository, and without a token the caller is on loopback.
func (s *service) control(ctx context.Context) error {
	if s.opts.Repository == nil {
		return status.Error(codes.Unimplemented, "this endpoint has no model repository")
	}
	if s.opts.Token == "" {
		p, ok := peer.FromContext(ctx)
		if !ok || !loopback(p.Addr) {
			return status.Error(codes.PermissionDenied, "model load and unload are taken only from this device (loopback) or with the local API's token (http.token)")
		}
	}
	return nil
}

func loopback(a net.Addr) bool {
	if a == nil {
		return false
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		host = a.String()
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// controlError is a failed load or unload: InvalidArgument (the HTTP
// endpoint's 400), or the context's end.
func controlError(op, name string, err error) error {
	code := codes.InvalidArgument
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		code = codeOf(err)
	}
	return status.Error(code, fmt.Sprintf("failed to %s '%s': %v", op, name, err))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
