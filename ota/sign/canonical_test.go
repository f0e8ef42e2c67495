package sign

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		name string
		in   string
		drop string
		want string // written by hand from the rule in doc.go
	}{
		{"empty object", `{}`, "", `{}`},
		{"whitespace", " {\n\t\"a\" : 1 ,\r\n \"b\":[ 1 , 2 ] }\n", "", `{"a":1,"b":[1,2]}`},
		{"sorted keys", `{"b":1,"a":2,"A":3,"aa":4,"_":5}`, "", `{"A":3,"_":5,"a":2,"aa":4,"b":1}`},
		{"nested sorted", `{"z":{"y":1,"x":[{"d":1,"c":2}]}}`, "", `{"z":{"x":[{"c":2,"d":1}],"y":1}}`},
		{"code point order", `{"é":1,"z":2,"€":3}`, "", `{"z":2,"é":1,"€":3}`},
		{"drop top level only", `{"signatures":[1],"a":{"signatures":2}}`, "signatures", `{"a":{"signatures":2}}`},
		{"drop is exact", `{"Signatures":1,"signatures":2}`, "signatures", `{"Signatures":1}`},
		{"numbers as written", `{"a":1.0,"b":1e3,"c":-0,"d":18446744073709551615}`, "", `{"a":1.0,"b":1e3,"c":-0,"d":18446744073709551615}`},
		{"literals", `{"t":true,"f":false,"n":null}`, "", `{"f":false,"n":null,"t":true}`},
		{"unescaped", `{"s":"\u00e9\u20ac\/\u003c\u0026"}`, "", `{"s":"é€/<&"}`},
		{"escaped", `{"s":"\"\\\b\f\n\r\t\u0001\u001f\u007f"}`, "", "{\"s\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"}"},
		{"U+2028 literal", `{"s":"\u2028"}`, "", "{\"s\":\"\u2028\"}"},
		{"surrogate pair", `{"s":"\ud83d\ude00"}`, "", "{\"s\":\"\U0001F600\"}"},
		{"empty containers", `{"a":[],"b":{}}`, "", `{"a":[],"b":{}}`},
	}
	for _, tt := range tests {
		got, err := Canonical([]byte(tt.in), tt.drop)
		if err != nil {
			t.Errorf("Canonical(%s) error %v", tt.name, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Canonical(%s) = %s; want %s", tt.name, got, tt.want)
		}
	}
}

func TestCanonicalRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantMsg string
	}{
		{"empty", ``, "unexpected EOF"},
		{"array", `[1]`, "want a JSON object"},
		{"string", `"x"`, "want a JSON object"},
		{"truncated", `{"a":[1,2`, "unexpected EOF"},
		{"missing colon", `{"a" 1}`, "JSON at byte"},
		{"trailing comma", `{"a":1,}`, "JSON at byte"},
		{"trailing data", `{"a":1} {}`, "data after the JSON object"},
		{"trailing garbage", `{"a":1}x`, "JSON at byte"},
		{"duplicate key", `{"a":1,"b":2,"a":3}`, `key "a" appears twice`},
		{"nested duplicate", `{"x":[{"k":1,"k":1}]}`, `key "k" appears twice`},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "not valid UTF-8"},
		{"bare word", `{"a":tru}`, "JSON at byte"},
		{"too deep", `{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, "nested deeper than 64"},
		{"single quotes", `{'a':1}`, "JSON at byte"},
	}
	for _, tt := range tests {
		_, err := Canonical([]byte(tt.in), "")
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("Canonical(%s) error %v; want ErrMalformed mentioning %q", tt.name, err, tt.wantMsg)
		}
	}
}

func TestCanonicalDepthLimit(t *testing.T) {
	// 64 levels of nesting in total are allowed, 65 are not.
	ok := strings.Repeat(`{"a":`, 63) + `{}` + strings.Repeat(`}`, 63)
	if _, err := Canonical([]byte(ok), ""); err != nil {
		t.Errorf("Canonical(64 levels) error %v; want nil", err)
	}
	deep := strings.Repeat(`{"a":`, 64) + `{}` + strings.Repeat(`}`, 64)
	if _, err := Canonical([]byte(deep), ""); !errors.Is(err, ErrMalformed) {
		t.Errorf("Canonical(65 levels) error %v; want ErrMalformed", err)
	}
}
