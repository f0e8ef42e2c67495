package localapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/internal/memlimit"
	"github.com/edged-dev/edged/runtime/tensor"
)

// TestBinaryDataSizeBounds: sizes that do not fit the bytes left are
// refused as bad input, including those a conversion to int would turn
// negative (2^63 and above) — never a panic.
func TestBinaryDataSizeBounds(t *testing.T) {
	for _, size := range []string{"9223372036854775808", "18446744073709551616", "1e19", "1e300", "3", "-1", "1.5", `"2"`} {
		js := `{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","parameters":{"binary_data_size":` + size + `}}]}`
		_, _, err := decodeRequest(strconv.Itoa(len(js)), []byte(js+"ab"), fakeModel)
		if !errors.Is(err, infer.ErrBadInput) || !strings.Contains(err.Error(), "binary_data_size") {
			t.Errorf("binary_data_size %s: %v; want bad input naming binary_data_size", size, err)
		}
	}
	js := `{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","parameters":{"binary_data_size":2}}]}`
	if _, in, err := decodeRequest(strconv.Itoa(len(js)), []byte(js+"ab"), fakeModel); err != nil || string(in.items[0][0].Data) != "ab" {
		t.Errorf("binary_data_size 2: %v, %v", in, err)
	}
}

// TestFlattenLimit: values beyond the shape are refused at the first one
// too many.
func TestFlattenLimit(t *testing.T) {
	if v, err := flatten([]byte("[1,2,3]"), 3, []int{3}); err != nil || len(v) != 3 {
		t.Errorf("flatten of 3 values, limit 3: %v, %v", v, err)
	}
	for _, doc := range []string{"[1,2,3,4]", "[[1,2,3],[4,5,6]]", "[1,2,3,x]"} {
		if _, err := flatten([]byte(doc), 3, []int{1, 3}); err == nil || !strings.Contains(err.Error(), "more than 3 values") {
			t.Errorf("flatten(%s, 3) error %v; want more than 3 values", doc, err)
		}
	}
}

// TestDecodeLargeBodyMemory: a 16 MiB JSON body whose data has millions of
// values for a two-value input is refused having allocated next to
// nothing beyond the body itself: the data is not copied, the values
// beyond the shape are never stored.
func TestDecodeLargeBodyMemory(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"inputs":[{"name":"in","shape":[2],"datatype":"UINT8","data":[0`)
	for b.Len() < 16<<20 {
		b.WriteString(",0")
	}
	b.WriteString(`]}]}`)
	body := b.Bytes()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err := decodeRequest("", body, fakeModel)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, infer.ErrBadInput) || !strings.Contains(err.Error(), "more than 2 values") {
		t.Fatalf("decode: %v; want more than 2 values", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10 {
		t.Errorf("decoding a %d-byte body allocated %d bytes; want under 64 KiB", len(body), alloc)
	}
}

// TestReadBody: a declared length above the limit is refused before
// reading; declared and undeclared lengths within it are read whole.
func TestReadBody(t *testing.T) {
	for _, tt := range []struct {
		name    string
		body    string
		length  int64 // -1: not declared
		limit   int64
		want    string
		wantErr bool
	}{
		{"declared", "hello", 5, 10, "hello", false},
		{"undeclared", "hello", -1, 10, "hello", false},
		{"declared too large", "hello", 5, 4, "", true},
		{"undeclared too large", "hello", -1, 4, "", true},
		{"shorter than declared", "hel", 5, 10, "", true},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
		r.ContentLength = tt.length
		got, err := readBody(httptest.NewRecorder(), r, tt.limit)
		if (err != nil) != tt.wantErr || string(got) != tt.want {
			t.Errorf("readBody(%s) = %q, %v; want %q, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
		var mbe *http.MaxBytesError
		if strings.Contains(tt.name, "too large") && !errors.As(err, &mbe) {
			t.Errorf("readBody(%s) error %v; want a MaxBytesError (413)", tt.name, err)
		}
	}
}

func TestHostsFor(t *testing.T) {
	for _, tt := range []struct {
		listen   string
		extra    []string
		loopback bool
		want     []string
	}{
		{"127.0.0.1:9410", nil, true, []string{"127.0.0.1", "localhost", "127.0.0.1", "::1"}},
		{"[::1]:9410", []string{"edge.local"}, true, []string{"edge.local", "::1", "localhost", "127.0.0.1", "::1"}},
		{"0.0.0.0:9410", nil, false, nil},
		{"10.0.0.5:9410", []string{"cam.example"}, false, []string{"cam.example", "10.0.0.5"}},
	} {
		if got := HostsFor(tt.listen, tt.extra, tt.loopback); !slices.Equal(got, tt.want) {
			t.Errorf("HostsFor(%s, %v, %v) = %q; want %q", tt.listen, tt.extra, tt.loopback, got, tt.want)
		}
	}
}

// TestHostCheck: on loopback, a request naming another host (a page that
// rebound its name to 127.0.0.1) is refused before any handler runs.
func TestHostCheck(t *testing.T) {
	s := New(&fakeBackend{}, Options{Hosts: HostsFor("127.0.0.1:9410", []string{"edge.local"}, true)})
	for host, want := range map[string]int{
		"127.0.0.1:9410": 200, "localhost:9410": 200, "LocalHost": 200, "[::1]:9410": 200, "edge.local:80": 200,
		"evil.example:9410": 421, "127.0.0.1.evil.example": 421, "": 421, "localhost.:9410": 421,
	} {
		r := httptest.NewRequest(http.MethodGet, "/v2/health/live", nil)
		r.Host = host
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Host %q: %d %s; want %d", host, w.Code, w.Body, want)
		}
	}
}

// blockingBackend holds every inference until release is closed.
type blockingBackend struct {
	fakeBackend
	started chan struct{}
	release chan struct{}
}

func (b *blockingBackend) Handle(ctx context.Context, req *infer.Request) (*infer.Response, error) {
	b.started <- struct{}{}
	<-b.release
	d := req.Inputs[0].Data
	return &infer.Response{Outputs: []infer.Tensor{{Name: "out", DType: tensor.UInt8, Shape: []int{3}, Data: []byte{d[0], d[1], d[0] + d[1]}}}}, nil
}

// TestBodyBudget: while requests hold the body budget, another large one
// waits for its share and gets 503 when its timeout comes first; once the
// budget is free it is served.
func TestBodyBudget(t *testing.T) {
	b := &blockingBackend{started: make(chan struct{}, 4), release: make(chan struct{})}
	budget := memlimit.NewBudget(10<<10, time.Hour)
	defer budget.Close()
	srv := httptest.NewServer(New(b, Options{MaxRequestBytes: 8 << 10, RequestTimeout: 200 * time.Millisecond, BodyBudget: budget}))
	defer srv.Close()
	padded := body + strings.Repeat(" ", 6<<10-len(body)) // 6 KiB: a valid request
	post := func() (int, string) {
		resp, err := http.Post(srv.URL+"/v2/models/m/infer", "application/json", strings.NewReader(padded))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	first := make(chan int)
	go func() { code, _ := post(); first <- code }()
	<-b.started // the first holds 6 KiB of 10 until released
	if code, msg := post(); code != http.StatusServiceUnavailable || !strings.Contains(msg, "body_memory") {
		t.Errorf("second 6 KiB request while 6 of 10 KiB are held: %d %s; want 503 naming http.body_memory", code, msg)
	}
	close(b.release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first request: %d; want 200", code)
	}
	if code, msg := post(); code != http.StatusOK {
		t.Errorf("request after the release: %d %s; want 200", code, msg)
	}
}

// TestCountItems: items of JSON arrays and objects counted by hand,
// commas inside strings and nested values not counted.
func TestCountItems(t *testing.T) {
	for _, tt := range []struct {
		json string
		want int
	}{
		{`null`, 0},
		{`[]`, 0},
		{`{ }`, 0},
		{`[ 1 ]`, 1},
		{`[1,2,3]`, 3},
		{`[[1,2],[3,4,5]]`, 2},
		{`{"a,b":[1,2],"c":{"d":1,"e":2}}`, 2},
		{`["\",", "\\", ","]`, 3},
		{`[{},{},{}]`, 3},
	} {
		if got := countItems([]byte(tt.json), 100); got != tt.want {
			t.Errorf("countItems(%s) = %d; want %d", tt.json, got, tt.want)
		}
	}
	// It stops once past the limit.
	if got := countItems([]byte(`[1,2,3,4,5,6]`), 3); got != 4 {
		t.Errorf("countItems with limit 3 = %d; want 4 (one past the limit)", got)
	}
}

// TestDecodeBounds: lists and maps past their bounds are refused before
// they are decoded, so that a body of tiny items does not decode into
// many times its size; lists at their bounds still decode.
func TestDecodeBounds(t *testing.T) {
	rep := func(item string, n int) string { return strings.TrimSuffix(strings.Repeat(item+",", n), ",") }
	params := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"p%d":1`, i)
		}
		return "{" + b.String() + "}"
	}
	for _, tt := range []struct {
		name, body, want string
	}{
		{"inputs", `{"inputs":[` + rep("{}", 1025) + `]}`, "inputs: more than 1024 items"},
		{"inputs at the bound", `{"inputs":[` + rep("{}", 1024) + `]}`, "takes 1 inputs; the request has 1024"},
		{"outputs", `{"inputs":[],"outputs":[` + rep(`{"name":"x"}`, 1025) + `]}`, "outputs: more than 1024 items"},
		{"shape", `{"inputs":[{"name":"in","shape":[` + rep("1", 33) + `],"datatype":"UINT8","data":[1]}]}`, "shape: more than 32 items"},
		{"shape at the bound", `{"inputs":[{"name":"in","shape":[` + rep("1", 32) + `],"datatype":"UINT8","data":[1]}]}`, "the model takes [2]"},
		{"request parameters", `{"parameters":` + params(257) + `,"inputs":[]}`, "parameters: more than 256 items"},
		{"input parameters", `{"inputs":[{"name":"in","parameters":` + params(257) + `}]}`, "parameters: more than 256 items"},
		{"output parameters", `{"inputs":[],"outputs":[{"name":"x","parameters":` + params(257) + `}]}`, "parameters: more than 256 items"},
	} {
		_, _, err := decodeRequest("", []byte(tt.body), fakeModel)
		if !errors.Is(err, infer.ErrBadInput) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want a bad input error with %q", tt.name, err, tt.want)
		}
	}

	// 4.6 million empty inputs (a 14 MB body) took 1.6 GiB when they
	// were decoded.
	body := []byte(`{"inputs":[` + rep("{}", 4600000) + `]}`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, err := decodeRequest("", body, fakeModel)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "inputs: more than 1024 items") {
		t.Fatalf("4.6 million inputs: %v; want refused", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("decoding a %d-byte body of empty inputs allocated %d bytes; want under 1 MiB", len(body), alloc)
	}
}
