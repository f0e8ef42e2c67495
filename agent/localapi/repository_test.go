package localapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeRepository records the loads and unloads it is asked for.
type fakeRepository struct{ calls []string }

func (f *fakeRepository) RepositoryLoad(_ context.Context, name string) error {
	f.calls = append(f.calls, "load "+name)
	return nil
}

func (f *fakeRepository) RepositoryUnload(_ context.Context, name string, dependents bool) error {
	if dependents {
		name += " with dependents"
	}
	f.calls = append(f.calls, "unload "+name)
	return nil
}

// TestRepositoryControlAccess: load and unload change what the device
// serves, so without a token only loopback clients reach them; with one,
// the token is what counts. The extension is announced only when the
// endpoint has a repository.
func TestRepositoryControlAccess(t *testing.T) {
	for _, tc := range []struct {
		name, token, remote, auth string
		want                      int
	}{
		{"loopback v4", "", "127.0.0.1:4000", "", 200},
		{"loopback v6", "", "[::1]:4000", "", 200},
		{"other host without token", "", "192.0.2.7:4000", "", 403},
		{"other host with token", "s3cret", "192.0.2.7:4000", "Bearer s3cret", 200},
		{"other host, wrong token", "s3cret", "192.0.2.7:4000", "Bearer nope", 401},
		{"loopback, token missing", "s3cret", "127.0.0.1:4000", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := &fakeRepository{}
			s := New(&fakeBackend{}, Options{Token: tc.token, Repository: repo})
			for _, op := range []string{"load", "unload"} {
				r := httptest.NewRequest("POST", "/v2/repository/models/m/"+op, nil)
				r.RemoteAddr = tc.remote
				if tc.auth != "" {
					r.Header.Set("Authorization", tc.auth)
				}
				w := httptest.NewRecorder()
				s.ServeHTTP(w, r)
				if w.Code != tc.want {
					t.Errorf("POST %s from %s = %d %s; want %d", op, tc.remote, w.Code, w.Body, tc.want)
				}
			}
			want := ""
			if tc.want == 200 {
				want = "load m,unload m"
			}
			if got := strings.Join(repo.calls, ","); got != want {
				t.Errorf("calls %q; want %q", got, want)
			}
		})
	}
	t.Run("cross-origin", func(t *testing.T) {
		repo := &fakeRepository{}
		s := New(&fakeBackend{}, Options{Repository: repo})
		for origin, want := range map[string]int{"http://evil.example": 403, "http://127.0.0.1:9410": 200, "null": 403} {
			r := httptest.NewRequest("POST", "http://127.0.0.1:9410/v2/repository/models/m/unload", nil)
			r.RemoteAddr = "127.0.0.1:4000"
			r.Header.Set("Origin", origin)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != want {
				t.Errorf("unload from a page of %s = %d %s; want %d", origin, w.Code, w.Body, want)
			}
		}
		if got := strings.Join(repo.calls, ","); got != "unload m" {
			t.Errorf("calls %q; want the same-origin unload alone", got)
		}
	})
	t.Run("unload_dependents", func(t *testing.T) {
		repo := &fakeRepository{}
		s := New(&fakeBackend{}, Options{Repository: repo})
		for body, want := range map[string]int{`{"parameters":{"unload_dependents":true}}`: 200, `{"parameters":{"unload_dependents":"yes"}}`: 400} {
			r := httptest.NewRequest("POST", "/v2/repository/models/e/unload", strings.NewReader(body))
			r.RemoteAddr = "127.0.0.1:4000"
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != want {
				t.Errorf("unload %s = %d %s; want %d", body, w.Code, w.Body, want)
			}
		}
		if got := strings.Join(repo.calls, ","); got != "unload e with dependents" {
			t.Errorf("calls %q; want one unload with dependents", got)
		}
	})
	t.Run("without a repository", func(t *testing.T) {
		s := New(&fakeBackend{}, Options{})
		if w := post(s, "/v2/repository/models/m/load", ""); w.Code != http.StatusNotFound {
			t.Errorf("load without a repository = %d; want 404", w.Code)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/v2", nil))
		if strings.Contains(w.Body.String(), "model_repository") {
			t.Errorf("server metadata %s announces model_repository without a repository", w.Body)
		}
	})
}

// FuzzParseControl: no body panics the parser of load and unload
// requests, and a load it lets through carries no parameter (no
// configuration, no model file).
func FuzzParseControl(f *testing.F) {
	for _, s := range []string{"", `{}`, `{"parameters":{}}`, `{"parameters":{"unload_dependents":true}}`,
		`{"parameters":{"file:1/model.tflite":"AAAA"}}`, `{"PARAMETERS":{"config":"{}"}}`, `{"parameters":null}`, `[]`, `{"parameters":{"a":1}} {}`} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, load bool) {
		dependents, err := parseControl(body, load)
		if err != nil || !load {
			return
		}
		var req struct {
			Parameters map[string]json.RawMessage `json:"parameters"`
		}
		if dependents || (json.Unmarshal(body, &req) == nil && len(req.Parameters) > 0) {
			t.Errorf("load body %q accepted with parameters %v", body, req.Parameters)
		}
	})
}
