package canary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// RequestFeedback is an application's outcome for an answered request,
// posted to POST /v1/feedback (and over MQTT): exactly one of Label (the
// true class, compared with the served top-1), Correct or Score.
type RequestFeedback struct {
	Model   string   `json:"model,omitempty"` // optional when one model is in canary
	ID      string   `json:"id"`              // the inference request's id
	Label   *int     `json:"label,omitempty"`
	Correct *bool    `json:"correct,omitempty"`
	Score   *float64 `json:"score,omitempty"`
}

// ErrNoCanary is returned for feedback when no candidate is in canary
// for it (404 on the local API).
var ErrNoCanary = errors.New("no model in canary")

// ErrNotCounted is returned for feedback that arrives when it cannot
// count: the candidate is in shadow or held, or its evaluation ended
// (the local API answers 200 with "accepted": false and the reason; the
// application did nothing wrong).
var ErrNotCounted = errors.New("feedback not counted")

// MaxFeedbackBytes bounds a feedback document; a real one is under 200 bytes.
const MaxFeedbackBytes = 4 << 10

// ParseFeedback decodes one feedback document strictly: unknown fields,
// trailing data, a missing id or not exactly one outcome are errors.
func ParseFeedback(b []byte) (RequestFeedback, error) {
	var f RequestFeedback
	if len(b) > MaxFeedbackBytes {
		return f, fmt.Errorf("feedback: %d bytes; want at most %d", len(b), MaxFeedbackBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return RequestFeedback{}, fmt.Errorf("feedback: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return RequestFeedback{}, errors.New("feedback: trailing data after the JSON object")
	}
	if f.ID == "" {
		return RequestFeedback{}, errors.New(`feedback: "id" is required: the id of the inference request`)
	}
	n := 0
	for _, set := range []bool{f.Label != nil, f.Correct != nil, f.Score != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return RequestFeedback{}, fmt.Errorf(`feedback: %d of "label", "correct", "score" given; want exactly one`, n)
	}
	if f.Label != nil && *f.Label < 0 {
		return RequestFeedback{}, fmt.Errorf("feedback: label %d; want a class index >= 0", *f.Label)
	}
	if f.Score != nil && (math.IsNaN(*f.Score) || math.IsInf(*f.Score, 0)) {
		return RequestFeedback{}, errors.New("feedback: score must be a finite number")
	}
	return f, nil
}
