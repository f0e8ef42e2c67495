package localapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/edged-dev/edged/agent/canary"
)

// feedback handles POST /v1/feedback.
func (s *Server) feedback(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, canary.MaxFeedbackBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("feedback body larger than %d bytes", canary.MaxFeedbackBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	f, err := canary.ParseFeedback(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.b.Feedback(r.Context(), f); err != nil {
		if errors.Is(err, canary.ErrNotCounted) {
			writeJSON(w, http.StatusOK, map[string]any{"accepted": false, "reason": strings.TrimPrefix(err.Error(), canary.ErrNotCounted.Error()+": ")})
			return
		}
		code := http.StatusBadRequest
		if errors.Is(err, canary.ErrNoCanary) {
			code = http.StatusNotFound
		}
		writeError(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"accepted": true})
}
