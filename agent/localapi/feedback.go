package localapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
)

// Feedback is an application's outcome for an answered request, posted to
// POST /v1/feedback (and over MQTT): exactly one of Label (the true class,
// compared with the served top-1), Correct or Score.
type Feedback struct {
	Model   string   `json:"model,omitempty"` // optional when one model is in canary
	ID      string   `json:"id"`              // the inference request's id
	Label   *int     `json:"label,omitempty"`
	Correct *bool    `json:"correct,omitempty"`
	Score   *float64 `json:"score,omitempty"`
}

// ErrNoCanary is returned by a FeedbackFunc when no candidate is in
// canary for the feedback: 404.
var ErrNoCanary = errors.New("no model in canary")

// maxFeedbackBytes bounds a feedback body; a real one is under 200 bytes.
const maxFeedbackBytes = 4 << 10

// ParseFeedback decodes one feedback document strictly: unknown fields,
// trailing data, a missing id or not exactly one outcome are errors.
func ParseFeedback(b []byte) (Feedback, error) {
	var f Feedback
	if len(b) > maxFeedbackBytes {
		return f, fmt.Errorf("feedback: %d bytes; want at most %d", len(b), maxFeedbackBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Feedback{}, fmt.Errorf("feedback: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Feedback{}, errors.New("feedback: trailing data after the JSON object")
	}
	if f.ID == "" {
		return Feedback{}, errors.New(`feedback: "id" is required: the id of the inference request`)
	}
	n := 0
	for _, set := range []bool{f.Label != nil, f.Correct != nil, f.Score != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return Feedback{}, fmt.Errorf(`feedback: %d of "label", "correct", "score" given; want exactly one`, n)
	}
	if f.Label != nil && *f.Label < 0 {
		return Feedback{}, fmt.Errorf("feedback: label %d; want a class index >= 0", *f.Label)
	}
	if f.Score != nil && (math.IsNaN(*f.Score) || math.IsInf(*f.Score, 0)) {
		return Feedback{}, errors.New("feedback: score must be a finite number")
	}
	return f, nil
}

// feedback handles POST /v1/feedback.
func (s *Server) feedback(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFeedbackBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("feedback body larger than %d bytes", maxFeedbackBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	f, err := ParseFeedback(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.opts.Feedback == nil {
		writeError(w, http.StatusNotFound, ErrNoCanary.Error())
		return
	}
	if err := s.opts.Feedback(r.Context(), f); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, ErrNoCanary) {
			code = http.StatusNotFound
		}
		writeError(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"accepted": true})
}
