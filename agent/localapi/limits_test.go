package localapi

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/edged-dev/edged/agent/infer"
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
	if _, in, err := decodeRequest(strconv.Itoa(len(js)), []byte(js+"ab"), fakeModel); err != nil || string(in[0].Data) != "ab" {
		t.Errorf("binary_data_size 2: %v, %v", in, err)
	}
}

// TestFlattenLimit: values beyond the shape are refused at the first one
// too many.
func TestFlattenLimit(t *testing.T) {
	if v, err := flatten([]byte("[1,2,3]"), 3); err != nil || len(v) != 3 {
		t.Errorf("flatten of 3 values, limit 3: %v, %v", v, err)
	}
	for _, doc := range []string{"[1,2,3,4]", "[[1,2],[3,4]]", "[1,2,3,x]"} {
		if _, err := flatten([]byte(doc), 3); err == nil || !strings.Contains(err.Error(), "more than 3 values") {
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
