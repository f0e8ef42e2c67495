package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/status"
)

// Triton's model repository extension (the index) and model configuration
// extension, as far as a device's configured models have them.

// repositoryEntry is one model of POST /v2/repository/index.
type repositoryEntry struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
}

// repositoryIndex lists the configured models: those served READY, those
// that are not UNAVAILABLE with the reason. The body may be empty or
// {"ready": true} (only the ready ones), as in Triton.
func (s *Server) repositoryIndex(w http.ResponseWriter, r *http.Request) {
	var q struct {
		Ready *bool `json:"ready"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
	if err != nil {
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &q); err != nil {
			writeError(w, http.StatusBadRequest, "malformed JSON request: "+err.Error())
			return
		}
	}
	list := []repositoryEntry{}
	for _, mi := range s.b.Models() {
		state := "READY"
		if !mi.Ready {
			state = "UNAVAILABLE"
		}
		list = append(list, repositoryEntry{Name: mi.Name, Version: mi.Version, State: state})
	}
	if q.Ready == nil || !*q.Ready {
		for _, m := range s.b.Status().Missing {
			list = append(list, repositoryEntry{Name: m.Model, Version: m.Version, State: "UNAVAILABLE", Reason: m.Reason})
		}
	} else {
		kept := list[:0]
		for _, e := range list {
			if e.State == "READY" {
				kept = append(kept, e)
			}
		}
		list = kept
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	writeJSON(w, http.StatusOK, list)
}

// modelConfig is GET /v2/models/{name}[/versions/{v}]/config: Triton's
// field names where they mean the same (max_batch_size, input, output with
// data_type TYPE_* and dims, instance_group, dynamic_batching), and
// edged's own: whether a batch runs as one invocation, the delegate chain
// with each backend's variant and state, the result cache, the labels.
type modelConfig struct {
	Name            string          `json:"name"`
	Version         string          `json:"version"`
	Platform        string          `json:"platform"`
	MaxBatchSize    int             `json:"max_batch_size"`
	Batchable       bool            `json:"batchable"`
	Input           []configTensor  `json:"input"`
	Output          []configTensor  `json:"output"`
	InstanceGroup   []instanceGroup `json:"instance_group"`
	DynamicBatching map[string]int  `json:"dynamic_batching"`
	Delegates       []configBackend `json:"delegates"`
	ResultCache     map[string]bool `json:"response_cache"`
	Labels          int             `json:"labels"`
	SHA256          string          `json:"sha256"`
}

type configTensor struct {
	Name     string `json:"name"`
	DataType string `json:"data_type"`
	Dims     []int  `json:"dims"`
}

type instanceGroup struct {
	Count int    `json:"count"`
	Kind  string `json:"kind"`
}

type configBackend struct {
	Delegate string `json:"delegate"`
	Variant  string `json:"variant,omitempty"`
	Fallback bool   `json:"fallback,omitempty"`
	State    string `json:"state,omitempty"`
}

func (s *Server) modelConfig(w http.ResponseWriter, r *http.Request) {
	mi, err := s.b.Model(r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	var st status.Model
	for _, m := range s.b.Status().Models {
		if m.Name == mi.Name {
			st = m
		}
	}
	tensors := func(specs []infer.TensorSpec) []configTensor {
		out := make([]configTensor, len(specs))
		for i, sp := range specs {
			out[i] = configTensor{Name: sp.Name, DataType: "TYPE_" + infer.DatatypeName(sp.DType), Dims: sp.Shape}
			if out[i].Dims == nil {
				out[i].Dims = []int{}
			}
		}
		return out
	}
	c := modelConfig{Name: mi.Name, Version: mi.Version, Platform: "tflite", MaxBatchSize: mi.MaxBatch, Batchable: st.Batchable,
		Input: tensors(mi.Inputs), Output: tensors(mi.Outputs),
		InstanceGroup:   []instanceGroup{{Count: max(st.Instances, 1), Kind: "KIND_CPU"}},
		DynamicBatching: map[string]int{"max_queue_size": st.Capacity},
		Delegates:       []configBackend{}, ResultCache: map[string]bool{"enable": mi.Cached},
		Labels: len(mi.Labels), SHA256: mi.SHA256}
	for _, d := range st.Delegates {
		c.Delegates = append(c.Delegates, configBackend{Delegate: d.Delegate, Variant: d.Variant, Fallback: d.Fallback, State: d.State})
	}
	writeJSON(w, http.StatusOK, c)
}

// Repository is the model repository extension's load and unload on a
// device (the agent implements it). A device loads only the models it is
// configured with or was deployed with a signature: never files sent in a
// request.
type Repository interface {
	// RepositoryLoad serves the model named name again, or reloads it,
	// at the version its model store names active (the configured file
	// when none is). ErrNoSuchModel when the device has no such model.
	RepositoryLoad(ctx context.Context, name string) error
	// RepositoryUnload stops serving the model named name (and, with
	// dependents, an ensemble's members) until it is loaded again or the
	// agent restarts; its files and deployment state are kept.
	RepositoryUnload(ctx context.Context, name string, dependents bool) error
}

// ErrNoSuchModel is a load or unload of a model the device has not.
var ErrNoSuchModel = errors.New("no such model")

// maxControlBytes bounds a load or unload request's body.
const maxControlBytes = 64 << 10

// repositoryControl is POST /v2/repository/models/{name}/load and
// /unload. The body may be empty or {"parameters": {...}}; load takes
// none (Triton's "config" and "file:…" overrides are refused: a device
// never serves a model from a request), unload takes unload_dependents.
// Success is 200 with an empty body, a failure 400 with {"error"}, as
// the extension says.
func (s *Server) repositoryControl(load bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		op := "unload"
		if load {
			op = "load"
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a %s request is at most %d bytes: model files cannot be sent to a device, only deployed to it signed", op, maxControlBytes))
				return
			}
			writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
			return
		}
		dependents, err := parseControl(body, load)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("failed to %s '%s': %v", op, name, err))
			return
		}
		if load {
			err = s.opts.Repository.RepositoryLoad(r.Context(), name)
		} else {
			err = s.opts.Repository.RepositoryUnload(r.Context(), name, dependents)
		}
		if err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				code = statusOf(err)
			}
			writeError(w, code, fmt.Sprintf("failed to %s '%s': %v", op, name, err))
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	}
}

// parseControl reads a load or unload body: whether unload_dependents is
// set, or why the request is refused.
func parseControl(body []byte, load bool) (dependents bool, err error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return false, nil
	}
	var req struct {
		Parameters map[string]json.RawMessage `json:"parameters"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return false, fmt.Errorf("malformed JSON request: %v", err)
	}
	if dec.More() {
		return false, errors.New("malformed JSON request: more than one JSON value")
	}
	keys := make([]string, 0, len(req.Parameters))
	for k := range req.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := req.Parameters[k]
		switch {
		case load && strings.HasPrefix(k, "file:"):
			return false, fmt.Errorf("parameter %q refused: a device never serves model files sent in a request, only its configured files and signed deployments", k)
		case load && k == "config":
			return false, errors.New(`parameter "config" refused: a model's settings come from the device's configuration file or a signed deployment`)
		case !load && k == "unload_dependents":
			if err := json.Unmarshal(v, &dependents); err != nil {
				return false, fmt.Errorf("parameter %q must be true or false", k)
			}
		default:
			takes := "takes no parameters"
			if !load {
				takes = "takes only unload_dependents"
			}
			return false, fmt.Errorf("unknown parameter %q (%s)", k, takes)
		}
	}
	return dependents, nil
}

// loopbackOrToken guards the endpoints that change what the device
// serves: without a token they answer only clients on loopback. (A
// non-loopback listen address needs a token anyway; this holds should a
// proxy or a later option change that.)
func (s *Server) loopbackOrToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token == "" && !loopbackAddr(r.RemoteAddr) {
			writeError(w, http.StatusForbidden, "model load and unload are taken only from this device (loopback) or with the local API's token (http.token)")
			return
		}
		// A browser says where a page's request comes from: a page of
		// another site (which a browser on the device may show) must not
		// unload models through it. Other clients send no Origin.
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || !strings.EqualFold(u.Host, r.Host) {
				writeError(w, http.StatusForbidden, fmt.Sprintf("a web page of %s cannot load or unload models here", o))
				return
			}
		}
		h(w, r)
	}
}

// loopbackAddr reports whether a "host:port" is a loopback address.
func loopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
