package localapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/edged-dev/edged/runtime/tflite"
)

// Profiler times every operator of a served model for GET /debug/profile.
// The agent implements it on an interpreter of its own: requests never
// wait for a profile.
type Profiler interface {
	// ProfileModel runs a served model (version "" the one serving now)
	// runs times with every operator timed. It returns ErrProfileBusy
	// while another profile runs.
	ProfileModel(ctx context.Context, name, version string, runs int) (*tflite.Profile, error)
}

var (
	// ErrProfileBusy: one profile runs at a time (409).
	ErrProfileBusy = errors.New("another profile is running; try again when it ends")
	// ErrNotProfilable: the model has no operators of its own to time,
	// an ensemble (400).
	ErrNotProfilable = errors.New("cannot profile")
)

// Bounds of GET /debug/profile's runs parameter and its time budget.
const (
	profileDefaultRuns = 20
	profileMaxRuns     = 1000
	profileBudget      = 30 * time.Second
)

// ModelProfile is GET /debug/profile's JSON answer.
type ModelProfile struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	// Inputs says what the timed runs were given.
	Inputs string `json:"inputs"`
	*tflite.Profile
}

// profile serves GET /debug/profile?model=NAME[&version=V][&runs=N][&format=text].
func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("model")
	if name == "" {
		writeError(w, http.StatusBadRequest, "name the model to profile: /debug/profile?model=NAME")
		return
	}
	runs := profileDefaultRuns
	if v := q.Get("runs"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > profileMaxRuns {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("runs=%q: want a whole number from 1 to %d", v, profileMaxRuns))
			return
		}
		runs = n
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "text" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format=%q: want json or text", format))
		return
	}
	info, err := s.b.Model(name, q.Get("version"))
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), profileBudget)
	defer cancel()
	p, err := s.opts.Profiler.ProfileModel(ctx, info.Name, info.Version, runs)
	switch {
	case errors.Is(err, ErrProfileBusy):
		writeError(w, http.StatusConflict, err.Error())
		return
	case errors.Is(err, ErrNotProfilable):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("profiling model %q took longer than %s; ask for fewer runs", name, profileBudget))
		return
	case err != nil:
		writeError(w, statusOf(err), fmt.Sprintf("profiling model %q: %v", name, err))
		return
	}
	mp := ModelProfile{Model: info.Name, Version: info.Version, Inputs: "zeros", Profile: p}
	if format != "text" {
		writeJSON(w, http.StatusOK, mp)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "model %s version %s: %d operators timed over %d runs on zero inputs (edged's runtime, its own interpreter)\n\n", mp.Model, mp.Version, len(p.Ops), p.Runs)
	p.WriteText(w)
}
