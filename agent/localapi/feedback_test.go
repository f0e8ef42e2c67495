package localapi

import (
	"testing"
)

// TestRequestID: the request's id reaches the backend with the model and
// version, so that a canary can route by it and score feedback naming it.
func TestRequestID(t *testing.T) {
	for _, id := range []string{"r1", ""} {
		b := &fakeBackend{}
		w := post(New(b, Options{}), "/v2/models/m/versions/1/infer", `{"id":"`+id+`","inputs":[{"name":"in","shape":[2],"datatype":"UINT8","data":[12,20]}]}`)
		if w.Code != 200 {
			t.Fatalf("id %q: status %d %s", id, w.Code, w.Body)
		}
		if b.req == nil || b.req.ID != id || b.req.Model != "m" || b.req.Version != "1" {
			t.Errorf("id %q: backend got %+v; want id %q, model m, version 1", id, b.req, id)
		}
	}
}
