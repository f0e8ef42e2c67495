package localapi

import (
	"encoding/json"
	"io"
	"net/http"
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
			list = append(list, repositoryEntry{Name: m.Model, State: "UNAVAILABLE", Reason: m.Reason})
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
