package drift

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const validProfile = `{
 "v": 1,
 "model": "person_detect",
 "features": [
  {"name": "input0.c0.mean", "edges": [-0.5, 0, 0.5], "counts": [10, 20, 20, 10],
   "stats": {"count": 60, "mean": 0, "std": 0.6, "min": -1.5, "max": 1.5,
             "quantiles": [{"p": 0.5, "v": 0}, {"p": 0.95, "v": 1}]}},
  {"name": "input0[0]", "edges": [0.25], "counts": [5, 5], "step": 0.5,
   "stats": {"count": 10, "mean": 0.25, "std": 0.25, "min": 0, "max": 0.5}}
 ],
 "classes": {"labels": ["no person", "person"], "counts": [70, 30]}
}`

func TestUnmarshalValid(t *testing.T) {
	p, err := Unmarshal([]byte(validProfile))
	if err != nil {
		t.Fatalf("Unmarshal(valid) error: %v", err)
	}
	if got, want := p.Features[0].Bins(), 4; got != want {
		t.Errorf("Bins() = %d; want %d", got, want)
	}
	if got, want := p.Classes.Counts, []uint64{70, 30}; !reflect.DeepEqual(got, want) {
		t.Errorf("classes.counts = %v; want %v", got, want)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	q, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal(Marshal(p)): %v", err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("round trip changed the profile:\n%+v\n%+v", p, q)
	}
}

func TestUnmarshalInvalid(t *testing.T) {
	tests := []struct {
		name    string
		old     string // replaced in validProfile (first occurrence)
		new     string
		wantErr string
	}{
		{"version", `"v": 1`, `"v": 2`, "v: got 2; want 1"},
		{"unknown field", `"model"`, `"modle"`, `unknown field "modle"`},
		{"unsorted edges", `[-0.5, 0, 0.5]`, `[-0.5, 0.5, 0]`, "features[0] (input0.c0.mean).edges[2]: 0 not above edges[1] = 0.5"},
		{"equal edges", `[-0.5, 0, 0.5]`, `[-0.5, 0, 0]`, "edges[2]: 0 not above"},
		{"no edges", `"edges": [0.25]`, `"edges": []`, "features[1] (input0[0]).edges: 0 edges"},
		{"counts mismatch", `[10, 20, 20, 10]`, `[10, 20, 20]`, "counts: 3 counts for 3 edges; want 4"},
		{"zero counts", `[5, 5]`, `[0, 0]`, "features[1] (input0[0]).counts: all zero"},
		{"negative count", `[5, 5]`, `[5, -5]`, "cannot unmarshal number -5"},
		{"duplicate name", `"input0[0]"`, `"input0.c0.mean"`, `features[1].name: "input0.c0.mean" already used by features[0]`},
		{"empty name", `"input0[0]"`, `""`, "features[1].name: empty"},
		{"std negative", `"std": 0.6`, `"std": -0.6`, "stats.std: -0.6 is negative"},
		{"mean outside", `"mean": 0, "std": 0.6`, `"mean": 2, "std": 0.6`, "min -1.5, mean 2, max 1.5 are not in order"},
		{"count below binned", `"count": 60`, `"count": 59`, "stats.count: 59, fewer than the 60 values binned"},
		{"quantile order", `{"p": 0.95, "v": 1}`, `{"p": 0.25, "v": 1}`, "stats.quantiles[1]: (p 0.25, v 1) does not follow (p 0.5, v 0)"},
		{"quantile outside", `{"p": 0.95, "v": 1}`, `{"p": 0.95, "v": 9}`, "stats.quantiles[1].v: 9 not in [min -1.5, max 1.5]"},
		{"negative step", `"step": 0.5`, `"step": -0.5`, "step: -0.5"},
		{"one class", `[70, 30]`, `[70]`, "classes.counts: 1 classes; want 2"},
		{"labels mismatch", `["no person", "person"]`, `["person"]`, "classes.labels: 1 labels for 2 classes"},
		{"trailing data", "\n}", "\n} {}", "trailing data"},
		{"not json", `{`, `[`, "invalid character"},
		{"null", validProfile, `null`, "v: got 0; want 1"},
		{"nothing", validProfile, `{"v": 1, "features": []}`, "features: empty and no classes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(validProfile, tt.old, tt.new, 1)
			if in == validProfile {
				t.Fatalf("test replaces %q, which is not in the profile", tt.old)
			}
			_, err := Unmarshal([]byte(in))
			if err == nil {
				t.Fatalf("Unmarshal(%s) = nil error; want %q", tt.name, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidProfile) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Unmarshal(%s) error = %v; want ErrInvalidProfile and %q", tt.name, err, tt.wantErr)
			}
		})
	}
}

// FuzzProfile: Unmarshal never panics; what it accepts marshals to a
// stable encoding and can drive a window and a comparison.
func FuzzProfile(f *testing.F) {
	f.Add([]byte(validProfile))
	f.Add([]byte(`{"v":1,"classes":{"counts":[1,0]}}`))
	f.Add([]byte(`{"v":1,"features":[{"name":"x","edges":[1e308],"counts":[1,0],"stats":{"count":1,"mean":0,"std":0,"min":0,"max":0}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Unmarshal(data)
		if err != nil {
			return
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatalf("Marshal of an accepted profile: %v", err)
		}
		q, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(p)): %v", err)
		}
		b2, err := q.Marshal()
		if err != nil || string(b) != string(b2) {
			t.Fatalf("round trip changed the profile:\n%s\n%s (%v)", b, b2, err)
		}
		w, err := NewWindow(p)
		if err != nil {
			t.Fatalf("NewWindow of an accepted profile: %v", err)
		}
		x := make([]float64, len(p.Features))
		for i := range x {
			x[i] = p.Features[i].Stats.Mean
		}
		class := NoClass
		if p.Classes != nil {
			class = 0
		}
		if err := w.Add(x, class); err != nil {
			t.Fatalf("Window.Add: %v", err)
		}
		_ = Compare(p, w)
	})
}
