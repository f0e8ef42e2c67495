package fleet

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEncode(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		msg  Message
		want string
	}{
		{"offline will", &State{State: Offline}, `{"v":1,"state":"offline"}`},
		{"birth", &State{State: Online, Version: "0.4.0", Board: "Raspberry Pi 4 Model B Rev 1.4", Accelerators: []string{"edgetpu-usb"},
			Models: []ModelState{{Name: "kws", Active: "3", Previous: "2"}}, Uptime: 61, Time: at},
			`{"v":1,"state":"online","version":"0.4.0","board":"Raspberry Pi 4 Model B Rev 1.4","accelerators":["edgetpu-usb"],` +
				`"models":[{"name":"kws","active":"3","previous":"2"}],"uptime_s":61,"time":"2026-03-01T12:00:00Z"}`},
		{"event without seq", &Event{Time: at, Kind: "fallback", Model: "kws", Detail: json.RawMessage(`{"from":"edgetpu"}`)},
			`{"v":1,"time":"2026-03-01T12:00:00Z","kind":"fallback","model":"kws","detail":{"from":"edgetpu"}}`},
		{"ping", &Command{Op: OpPing, ID: "c1", Issued: at}, `{"v":1,"op":"ping","id":"c1","issued":"2026-03-01T12:00:00Z"}`},
		{"status", &CommandStatus{ID: "c1", State: "downloading", Progress: 0.5, Time: at},
			`{"v":1,"id":"c1","state":"downloading","progress":0.5,"time":"2026-03-01T12:00:00Z"}`},
		{"blob meta", &BlobMeta{SHA256: sum, Size: 3_600_000, ChunkSize: 65536, Count: 55},
			`{"v":1,"sha256":"` + sum + `","size":3600000,"chunk_size":65536,"count":55}`},
	}
	for _, tt := range tests {
		got, err := Encode(tt.msg)
		if err != nil || string(got) != tt.want {
			t.Errorf("Encode(%s) = %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
}

func TestDecode(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		into    Message
		want    Message
		wantErr string
	}{
		{name: "command", in: `{"v":1,"op":"deploy","id":"c-9","payload":{"manifest":"x"},"issued":"2026-03-01T12:00:00Z","expires":"2026-03-02T12:00:00Z"}`,
			into: &Command{}, want: &Command{V: 1, Op: "deploy", ID: "c-9", Payload: json.RawMessage(`{"manifest":"x"}`), Issued: at, Expires: at.Add(24 * time.Hour)}},
		{name: "will", in: `{"v":1,"state":"offline"}`, into: &State{}, want: &State{V: 1, State: Offline}},
		{name: "event with seq", in: `{"seq":17,"v":1,"time":"2026-03-01T12:00:00Z","kind":"rollout"}`, into: &Event{},
			want: &Event{V: 1, Seq: 17, Time: at, Kind: "rollout"}},
		{name: "blob meta empty", in: `{"v":1,"sha256":"` + sum + `","size":0,"chunk_size":1024,"count":0}`, into: &BlobMeta{},
			want: &BlobMeta{V: 1, SHA256: sum, ChunkSize: 1024}},
		{name: "telemetry", in: `{"v":1,"time":"2026-03-01T12:00:00Z","models":[{"name":"kws","inferences":10,"p99_ms":4.5}]}`, into: &Telemetry{},
			want: &Telemetry{V: 1, Time: at, Models: []ModelTelemetry{{Name: "kws", Inferences: 10, P99: 4.5}}}},

		{name: "v2", in: `{"v":2,"state":"online"}`, into: &State{}, wantErr: `"v":2; this build reads 1`},
		{name: "v float", in: `{"v":1.0,"state":"online"}`, into: &State{}, wantErr: `"v":1.0`},
		{name: "no v", in: `{"state":"online"}`, into: &State{}, wantErr: `no "v"`},
		{name: "not json", in: `hello`, into: &State{}, wantErr: "invalid character"},
		{name: "array", in: `[1]`, into: &State{}, wantErr: "cannot unmarshal array"},
		// Reports from a newer agent: fields this build does not know,
		// at the top and inside, are ignored.
		{name: "state with a new field", in: `{"v":1,"state":"online","colour":"red","models":[{"name":"kws","active":"3","pinned":true}]}`,
			into: &State{}, want: &State{V: 1, State: Online, Models: []ModelState{{Name: "kws", Active: "3"}}}},
		{name: "telemetry with new fields", in: `{"v":1,"time":"2026-03-01T12:00:00Z","energy":{"mj":12},"models":[{"name":"kws","inferences":10,"npu_ms":2}]}`,
			into: &Telemetry{}, want: &Telemetry{V: 1, Time: at, Models: []ModelTelemetry{{Name: "kws", Inferences: 10}}}},
		{name: "status with a new field", in: `{"v":1,"id":"c","state":"running","eta_s":40,"time":"2026-03-01T12:00:00Z"}`,
			into: &CommandStatus{}, want: &CommandStatus{V: 1, ID: "c", State: StatusRunning, Time: at}},
		{name: "event with a new field", in: `{"v":1,"time":"2026-03-01T12:00:00Z","kind":"rollout","severity":"info"}`,
			into: &Event{}, want: &Event{V: 1, Time: at, Kind: "rollout"}},
		// What a device acts on stays strict.
		{name: "command with an unknown field", in: `{"v":1,"op":"ping","id":"c","issued":"2026-03-01T12:00:00Z","force":true}`,
			into: &Command{}, wantErr: `unknown field "force"`},
		{name: "blob meta with an unknown field", in: `{"v":1,"sha256":"` + sum + `","size":0,"chunk_size":1024,"count":0,"codec":"zstd"}`,
			into: &BlobMeta{}, wantErr: `unknown field "codec"`},
		{name: "trailing", in: `{"v":1,"state":"online"} {}`, into: &State{}, wantErr: "after top-level value"},
		{name: "bad state", in: `{"v":1,"state":"asleep"}`, into: &State{}, wantErr: `state "asleep"; want "online" or "offline"`},
		{name: "bad op", in: `{"v":1,"op":"format-disk","id":"c","issued":"2026-03-01T12:00:00Z"}`, into: &Command{}, wantErr: `op "format-disk"; want one of`},
		{name: "bad id", in: `{"v":1,"op":"ping","id":"a/b","issued":"2026-03-01T12:00:00Z"}`, into: &Command{}, wantErr: `id: id "a/b" contains '/'`},
		{name: "no issued", in: `{"v":1,"op":"ping","id":"c"}`, into: &Command{}, wantErr: "issued: must be set"},
		{name: "expires before issued", in: `{"v":1,"op":"ping","id":"c","issued":"2026-03-01T12:00:00Z","expires":"2026-03-01T11:00:00Z"}`,
			into: &Command{}, wantErr: "expires 2026-03-01T11:00:00Z is not after issued"},
		{name: "progress", in: `{"v":1,"id":"c","state":"running","progress":1.5,"time":"2026-03-01T12:00:00Z"}`, into: &CommandStatus{}, wantErr: "progress 1.5; want 0..1"},
		{name: "count", in: `{"v":1,"sha256":"` + sum + `","size":1025,"chunk_size":1024,"count":1}`, into: &BlobMeta{}, wantErr: "count 1; size 1025 in chunks of 1024 needs 2"},
		{name: "chunk size", in: `{"v":1,"sha256":"` + sum + `","size":10,"chunk_size":0,"count":1}`, into: &BlobMeta{}, wantErr: "chunk_size 0"},
		{name: "event kind", in: `{"v":1,"time":"2026-03-01T12:00:00Z","kind":""}`, into: &Event{}, wantErr: "kind: empty id"},
		{name: "too large", in: `{"v":1,"state":"online","board":"` + strings.Repeat("x", MaxMessageSize) + `"}`, into: &State{}, wantErr: "want at most 262144"},
	}
	for _, tt := range tests {
		err := Decode([]byte(tt.in), tt.into)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Decode(%s) error = %v; want one containing %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(tt.into, tt.want) {
			t.Errorf("Decode(%s) = %+v, %v; want %+v", tt.name, tt.into, err, tt.want)
		}
	}
	if err := Decode([]byte(`{"v":3}`), &State{}); !errors.Is(err, ErrVersion) {
		t.Errorf("Decode(v3) = %v; want ErrVersion", err)
	}
}

func TestCommandExpired(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := Command{Issued: at, Expires: at.Add(time.Hour)}
	for _, tt := range []struct {
		now  time.Time
		want bool
	}{{at, false}, {at.Add(time.Hour - 1), false}, {at.Add(time.Hour), true}} {
		if got := c.Expired(tt.now); got != tt.want {
			t.Errorf("Expired(%v) = %v; want %v", tt.now, got, tt.want)
		}
	}
	if (&Command{Issued: at}).Expired(at.Add(1000 * time.Hour)) {
		t.Error("a command without expiry expired")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"state":"offline"}`,
		`{"v":1,"op":"deploy","id":"c-9","payload":{"m":1},"issued":"2026-03-01T12:00:00Z"}`,
		`{"v":1,"id":"c","state":"running","progress":0.5,"time":"2026-03-01T12:00:00Z"}`,
		`{"v":1,"sha256":"` + sum + `","size":1025,"chunk_size":1024,"count":2}`,
		`{"v":1,"seq":3,"time":"2026-03-01T12:00:00Z","kind":"x","detail":[1,2]}`,
		`{"v":1,"time":"2026-03-01T12:00:00Z","metrics":{"a":1}}`,
		`{"v":2}`, `null`, `{"v":1,"state":"online","models":[{"name":""}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range []Message{&State{}, &Telemetry{}, &Event{}, &Command{}, &CommandStatus{}, &BlobMeta{}} {
			if Decode(data, m) != nil {
				continue
			}
			// What decodes is valid: it encodes again, and that decodes
			// to the same message.
			b, err := Encode(m)
			if err != nil {
				t.Fatalf("Decode(%q) into %T accepted a message Encode refuses: %v", data, m, err)
			}
			again := reflect.New(reflect.TypeOf(m).Elem()).Interface().(Message)
			if err := Decode(b, again); err != nil {
				t.Fatalf("Decode(Encode(%T)) = %v for %s", m, err, b)
			}
		}
	})
}
