// Package localapi is edged's local HTTP endpoint. It speaks the Open
// Inference Protocol (KServe v2 / Triton HTTP/REST, with the binary tensor
// data extension) so existing inference clients work, and serves health,
// Prometheus metrics, a JSON and an HTML status, pprof, and a per-operator
// profile of a served model.
//
// It binds to loopback by default; on any other address every request
// must carry the configured bearer token.
package localapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/inferstats"
	"github.com/edged-dev/edged/agent/status"
	"github.com/edged-dev/edged/internal/memlimit"
)

// Backend is what the endpoint serves: the agent.
type Backend interface {
	// Handle answers an inference request.
	infer.Handler
	// Model describes a served model (version "" the one serving now),
	// Models every one.
	Model(name, version string) (infer.ModelInfo, error)
	Models() []infer.ModelInfo
	// Admit says, before a request's body is read, whether the model can
	// take a request now (infer.ErrOverloaded when its queues are full):
	// overload then costs no decoding.
	Admit(name, version string) error
	// Ready reports whether every configured model is served.
	Ready() bool
	// Status is GET /v1/status and what the status page shows.
	Status() status.Device
	// Drift is every watched model's drift (GET /v1/drift); DriftPlots
	// the histograms of the worst features of each, for the page.
	Drift() []status.Drift
	DriftPlots(worst int) []status.DriftPlot
	// Feedback takes an application's outcome for an answered request
	// (POST /v1/feedback); canary.ErrNoCanary when no candidate is in
	// canary for it, canary.ErrNotCounted when it cannot count now.
	Feedback(ctx context.Context, f canary.RequestFeedback) error
}

// Frames gives the thumbnail of an input source's last picture as PNG
// (GET /v1/sources/{name}/frame); a Backend that has image sources
// implements it.
type Frames interface {
	Frame(source string) ([]byte, bool)
}

// Options configure the endpoint.
type Options struct {
	// Token, when set, is required as "Authorization: Bearer TOKEN".
	Token string
	// MaxRequestBytes bounds request bodies (413 beyond).
	MaxRequestBytes int64
	// RequestTimeout is the deadline of one inference (504 beyond).
	RequestTimeout time.Duration
	Gatherer       prometheus.Gatherer
	Registerer     prometheus.Registerer
	Pprof          bool
	// Profiler, with Pprof, serves GET /debug/profile: a per-operator
	// timing of a served model.
	Profiler Profiler
	Log      *slog.Logger
	// Version is reported by GET /v2.
	Version string
	// BodyBudget, if set, bounds the request-body bytes read and decoded
	// at once: an inference request takes its body's share before reading
	// it and waits (up to RequestTimeout; 503 beyond) while the budget is
	// spent.
	BodyBudget *memlimit.Budget
	// Stats, if set, is the statistics table this endpoint counts its
	// requests in and reports (shared with the gRPC service); else it has
	// its own.
	Stats *inferstats.Table
	// Repository, if set, takes the model repository extension's load
	// and unload (from loopback, or with Token).
	Repository Repository
	// Hosts, if not empty, are the host names (without port, any case) a
	// request's Host header may carry; others get 421. See HostsFor.
	Hosts []string
}

// HostsFor is the Hosts option for an endpoint listening on listen: on a
// loopback address, localhost, 127.0.0.1, ::1, the listen host and extra;
// elsewhere the listen host and extra, or none (any Host) without extra.
// Checking Host on loopback stops DNS rebinding: a web page whose name
// resolves to 127.0.0.1 reaches the endpoint from a browser on the
// device, but with its own name in Host.
func HostsFor(listen string, extra []string, loopback bool) []string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if !loopback && len(extra) == 0 {
		return nil
	}
	hosts := append([]string{}, extra...)
	if host != "" {
		hosts = append(hosts, host)
	}
	if loopback {
		hosts = append(hosts, "localhost", "127.0.0.1", "::1")
	}
	return hosts
}

// Server is the HTTP handler.
type Server struct {
	b    Backend
	opts Options
	mux  *http.ServeMux
	reqs *prometheus.CounterVec
	// stats are the statistics extension's (Options.Stats, or the
	// endpoint's own).
	stats *inferstats.Table
	// unmatched answers requests no route takes.
	unmatched http.Handler
}

// New builds the handler.
func New(b Backend, opts Options) *Server {
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = 16 << 20
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Stats == nil {
		opts.Stats = &inferstats.Table{}
	}
	s := &Server{b: b, opts: opts, mux: http.NewServeMux(), stats: opts.Stats}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edged_http_requests_total", Help: "Local API requests by route and status code."}, []string{"route", "code"})
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(s.reqs)
	}
	s.handle("GET /v2/health/live", "live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	})
	s.handle("GET /v2/health/ready", "ready", func(w http.ResponseWriter, r *http.Request) {
		if !b.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "missing": b.Status().Missing})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	})
	if opts.Version == "" {
		opts.Version = "dev"
	}
	extensions := []string{"binary_tensor_data", "classification", "statistics", "model_configuration"}
	if opts.Repository != nil {
		extensions = append(extensions, "model_repository", "model_repository(unload_dependents)")
	}
	serverMetadata := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"name": "edged", "version": opts.Version, "extensions": extensions})
	}
	// The specification names the path /v2/; clients use both.
	s.handle("GET /v2", "server", serverMetadata)
	s.handle("GET /v2/{$}", "server", serverMetadata)
	s.handle("GET /v2/models/{name}", "model", s.modelMetadata)
	s.handle("GET /v2/models/{name}/versions/{version}", "model", s.modelMetadata)
	s.handle("GET /v2/models/{name}/ready", "model_ready", s.modelReady)
	s.handle("GET /v2/models/{name}/versions/{version}/ready", "model_ready", s.modelReady)
	s.handle("POST /v2/repository/index", "repository", s.repositoryIndex)
	if opts.Repository != nil {
		s.handle("POST /v2/repository/models/{name}/load", "repository_load", s.loopbackOrToken(s.repositoryControl(true)))
		s.handle("POST /v2/repository/models/{name}/unload", "repository_unload", s.loopbackOrToken(s.repositoryControl(false)))
	}
	s.handle("GET /v2/models/{name}/config", "config", s.modelConfig)
	s.handle("GET /v2/models/{name}/versions/{version}/config", "config", s.modelConfig)
	s.handle("GET /v2/models/stats", "stats", s.modelStats)
	s.handle("GET /v2/models/{name}/stats", "stats", s.modelStats)
	s.handle("GET /v2/models/{name}/versions/{version}/stats", "stats", s.modelStats)
	s.handle("POST /v2/models/{name}/infer", "infer", s.infer)
	s.handle("POST /v2/models/{name}/versions/{version}/infer", "infer", s.infer)
	s.handle("GET /v1/status", "status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Status())
	})
	s.handle("GET /v1/drift", "drift", func(w http.ResponseWriter, r *http.Request) {
		d := b.Drift()
		if d == nil {
			d = []status.Drift{}
		}
		writeJSON(w, http.StatusOK, d)
	})
	if fr, ok := b.(Frames); ok {
		s.handle("GET /v1/sources/{name}/frame", "frame", func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			png, ok := fr.Frame(name)
			if !ok {
				writeError(w, http.StatusNotFound, fmt.Sprintf("source %q has no picture: there is no such source, its model does not take one, or it has not read yet", name))
				return
			}
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Write(png)
		})
	}
	s.handle("POST /v1/feedback", "feedback", s.feedback)
	s.handle("GET /{$}", "index", s.index)
	if opts.Gatherer != nil {
		s.mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{})))
	}
	if opts.Pprof {
		s.mux.Handle("/debug/pprof/", s.auth(http.HandlerFunc(pprof.Index)))
		s.mux.Handle("/debug/pprof/cmdline", s.auth(http.HandlerFunc(pprof.Cmdline)))
		s.mux.Handle("/debug/pprof/profile", s.auth(http.HandlerFunc(pprof.Profile)))
		s.mux.Handle("/debug/pprof/symbol", s.auth(http.HandlerFunc(pprof.Symbol)))
		s.mux.Handle("/debug/pprof/trace", s.auth(http.HandlerFunc(pprof.Trace)))
		if opts.Profiler != nil {
			s.handle("GET /debug/profile", "profile", s.profile)
		}
	}
	s.unmatched = s.auth(http.HandlerFunc(s.noRoute))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(s.opts.Hosts) > 0 && !s.hostAllowed(r.Host) {
		writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not served here; use one of %q (http.allowed_hosts adds names)", r.Host, s.opts.Hosts))
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unmatched.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// noRoute answers a request no route takes, in JSON: 405 with Allow when
// the path exists for other methods, 404 otherwise.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	rec := &headerRecorder{h: http.Header{}}
	h.ServeHTTP(rec, r)
	switch {
	case rec.code == http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.h.Get("Allow"))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rec.h.Get("Allow")))
	case rec.code >= 300 && rec.code < 400:
		// The mux's redirect to a cleaned path.
		w.Header().Set("Location", rec.h.Get("Location"))
		w.WriteHeader(rec.code)
	default:
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	}
}

// headerRecorder keeps the status and headers the mux's own answer sets.
type headerRecorder struct {
	h    http.Header
	code int
}

func (r *headerRecorder) Header() http.Header { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return len(b), nil
}
func (r *headerRecorder) WriteHeader(code int) { r.code = code }

// hostAllowed reports whether a Host header names this endpoint.
func (s *Server) hostAllowed(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport // no port
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	for _, h := range s.opts.Hosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

func (s *Server) handle(pattern, route string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				// A handler bug must not take the daemon down.
				s.opts.Log.Error("local API handler panicked", "route", route, "panic", p)
				if !sw.wrote {
					writeError(sw, http.StatusInternalServerError, "internal error")
				}
			}
			s.reqs.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		}()
		h(sw, r)
	})))
}

func (s *Server) auth(h http.Handler) http.Handler {
	if s.opts.Token == "" {
		return h
	}
	want := []byte("Bearer " + s.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="edged"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	w.code, w.wrote = code, true
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// statusOf maps an inference error to its HTTP status.
func statusOf(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, infer.ErrModelNotFound):
		return http.StatusNotFound
	case errors.Is(err, infer.ErrBadInput):
		return http.StatusBadRequest
	case errors.Is(err, infer.ErrOverloaded):
		return http.StatusTooManyRequests
	case errors.Is(err, infer.ErrNotReady):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusInternalServerError
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	mi, err := s.b.Model(r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, metadataOf(mi))
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	mi, err := s.b.Model(r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		for _, m := range s.b.Status().Missing {
			if m.Model == r.PathValue("name") {
				writeJSON(w, http.StatusServiceUnavailable, map[string]any{"name": m.Model, "ready": false, "reason": m.Reason})
				return
			}
		}
		writeError(w, statusOf(err), err.Error())
		return
	}
	if !mi.Ready {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"name": mi.Name, "ready": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": mi.Name, "ready": true})
}

type tensorMetadata struct {
	Name      string  `json:"name"`
	Datatype  string  `json:"datatype"`
	Shape     []int   `json:"shape"`
	Scale     float32 `json:"scale,omitempty"`
	ZeroPoint *int32  `json:"zero_point,omitempty"`
}

type modelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions"`
	Platform string           `json:"platform"`
	Inputs   []tensorMetadata `json:"inputs"`
	Outputs  []tensorMetadata `json:"outputs"`
	SHA256   string           `json:"sha256"`
	Labels   int              `json:"labels,omitempty"`
}

func metadataOf(mi infer.ModelInfo) modelMetadata {
	md := modelMetadata{Name: mi.Name, Versions: []string{mi.Version}, Platform: "tflite", SHA256: mi.SHA256, Labels: len(mi.Labels)}
	conv := func(specs []infer.TensorSpec) []tensorMetadata {
		out := make([]tensorMetadata, len(specs))
		for i, sp := range specs {
			out[i] = tensorMetadata{Name: sp.Name, Datatype: infer.DatatypeName(sp.DType), Shape: sp.Shape}
			if out[i].Shape == nil {
				out[i].Shape = []int{}
			}
			if sp.Quantized {
				zp := sp.ZeroPoint
				out[i].Scale, out[i].ZeroPoint = sp.Scale, &zp
			}
		}
		return out
	}
	md.Inputs, md.Outputs = conv(mi.Inputs), conv(mi.Outputs)
	return md
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	page := statusPage{Ready: s.b.Ready(), Status: s.b.Status(), Models: map[string]modelMetadata{}, Drift: s.b.DriftPlots(3), Now: time.Now()}
	for _, m := range s.b.Models() {
		page.Models[m.Name] = metadataOf(m)
	}
	// ?refresh=N reloads the page every N seconds (2..3600) for browsers
	// without JavaScript.
	if n, err := strconv.Atoi(r.URL.Query().Get("refresh")); err == nil {
		page.Refresh = min(max(n, 2), 3600)
	}
	if err := page.render(w); err != nil {
		s.opts.Log.Warn("status page", "err", err)
	}
}
