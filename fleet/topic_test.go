package fleet

import (
	"errors"
	"strings"
	"testing"
)

const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestBuilders(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"state", StateTopic("pi-7"), "edged/v1/dev/pi-7/state"},
		{"telemetry", TelemetryTopic("pi-7"), "edged/v1/dev/pi-7/telemetry"},
		{"drift", DriftTopic("pi-7"), "edged/v1/dev/pi-7/drift"},
		{"events", EventsTopic("pi-7"), "edged/v1/dev/pi-7/events"},
		{"command", CommandTopic("pi-7", "deploy", "c1"), "edged/v1/dev/pi-7/cmd/deploy/c1"},
		{"status", StatusTopic("pi-7", "deploy", "c1"), "edged/v1/dev/pi-7/cmd/deploy/c1/status"},
		{"group command", GroupCommandTopic("north", "ping", "c2"), "edged/v1/group/north/cmd/ping/c2"},
		{"chunk", BlobChunkTopic(sum, 12), "edged/v1/blob/" + sum + "/12"},
		{"meta", BlobMetaTopic(sum), "edged/v1/blob/" + sum + "/meta"},
		{"command filter", CommandFilter("pi-7"), "edged/v1/dev/pi-7/cmd/+/+"},
		{"group filter", GroupCommandFilter("north"), "edged/v1/group/north/cmd/+/+"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s topic = %q; want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestParseTopic(t *testing.T) {
	tests := []struct {
		topic   string
		want    Topic
		wantErr string
	}{
		{topic: "edged/v1/dev/pi-7/state", want: Topic{Kind: KindState, Device: "pi-7"}},
		{topic: "edged/v1/dev/pi-7/telemetry", want: Topic{Kind: KindTelemetry, Device: "pi-7"}},
		{topic: "edged/v1/dev/pi-7/drift", want: Topic{Kind: KindDrift, Device: "pi-7"}},
		{topic: "edged/v1/dev/pi-7/events", want: Topic{Kind: KindEvents, Device: "pi-7"}},
		{topic: "edged/v1/dev/pi-7/cmd/deploy/c1", want: Topic{Kind: KindCommand, Device: "pi-7", Op: "deploy", CmdID: "c1"}},
		{topic: "edged/v1/dev/pi-7/cmd/deploy/c1/status", want: Topic{Kind: KindStatus, Device: "pi-7", Op: "deploy", CmdID: "c1"}},
		{topic: "edged/v1/group/north/cmd/ping/c2", want: Topic{Kind: KindGroupCommand, Group: "north", Op: "ping", CmdID: "c2"}},
		{topic: "edged/v1/blob/" + sum + "/0", want: Topic{Kind: KindBlobChunk, SHA256: sum, Index: 0}},
		{topic: "edged/v1/blob/" + sum + "/1048575", want: Topic{Kind: KindBlobChunk, SHA256: sum, Index: 1048575}},
		{topic: "edged/v1/blob/" + sum + "/meta", want: Topic{Kind: KindBlobMeta, SHA256: sum}},
		{topic: "edged/v1/dev/gerät-ü/state", want: Topic{Kind: KindState, Device: "gerät-ü"}},

		{topic: "", wantErr: "want prefix edged/v1/"},
		{topic: "edged/v2/dev/a/state", wantErr: "want prefix"},
		{topic: "edged/v1", wantErr: "want prefix"},
		{topic: "edged/v1/", wantErr: `level ""`},
		{topic: "edged/v1/dev", wantErr: "want dev/{id}/KIND"},
		{topic: "edged/v1/dev/a", wantErr: "want dev/{id}/KIND"},
		{topic: "edged/v1/dev//state", wantErr: "device id: empty id"},
		{topic: "edged/v1/dev/+/state", wantErr: `device id: id "+" contains '+'`},
		{topic: "edged/v1/dev/#/state", wantErr: `contains '#'`},
		{topic: "edged/v1/dev/a\x00b/state", wantErr: "control or space character U+0000"},
		{topic: "edged/v1/dev/a b/state", wantErr: "control or space character U+0020"},
		{topic: "edged/v1/dev/\xff/state", wantErr: "not valid UTF-8"},
		{topic: "edged/v1/dev/../state", wantErr: "reserved"},
		{topic: "edged/v1/dev/" + strings.Repeat("a", 129) + "/state", wantErr: "id of 129 bytes; want at most 128"},
		{topic: "edged/v1/dev/a/status", wantErr: "want state, telemetry, drift, events or cmd/{command}"},
		{topic: "edged/v1/dev/a/cmd/deploy", wantErr: "want dev/{id}/cmd/{op}/{cmdid}"},
		{topic: "edged/v1/dev/a/cmd/deploy/c1/other", wantErr: "want dev/{id}/cmd/{op}/{cmdid} or .../status"},
		{topic: "edged/v1/dev/a/cmd/deploy/c1/status/x", wantErr: "at most 6"},
		{topic: "edged/v1/dev/a/cmd/deploy/", wantErr: "command id: empty id"},
		{topic: "edged/v1/dev/a/cmd//c1", wantErr: "op: empty id"},
		{topic: "edged/v1/group/north/cmd/ping", wantErr: "want group/{group}/cmd/{op}/{cmdid}"},
		{topic: "edged/v1/group/north/xxx/ping/c", wantErr: "want group/{group}/cmd/{op}/{cmdid}"},
		{topic: "edged/v1/group/+/cmd/ping/c", wantErr: "group: "},
		{topic: "edged/v1/blob/abc/0", wantErr: "want 64 hex digits"},
		{topic: "edged/v1/blob/" + strings.ToUpper(sum) + "/0", wantErr: "lowercase hex"},
		{topic: "edged/v1/blob/" + sum + "/01", wantErr: "without leading zeros"},
		{topic: "edged/v1/blob/" + sum + "/-1", wantErr: "want decimal digits"},
		{topic: "edged/v1/blob/" + sum + "/1048576", wantErr: "want at most 1048575"},
		{topic: "edged/v1/blob/" + sum + "/99999999", wantErr: "without leading zeros"},
		{topic: "edged/v1/blob/" + sum + "/", wantErr: "chunk index"},
		{topic: "edged/v1/blob/" + sum, wantErr: "want blob/{sha256}/{index}"},
	}
	for _, tt := range tests {
		got, err := ParseTopic(tt.topic)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadTopic) {
				t.Errorf("ParseTopic(%q) = %+v, %v; want an ErrBadTopic containing %q", tt.topic, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTopic(%q) = %+v, %v; want %+v", tt.topic, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.topic {
			t.Errorf("ParseTopic(%q).String() = %q; want the topic back", tt.topic, s)
		}
	}
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{
		"edged/v1/dev/pi-7/state", "edged/v1/dev/a/cmd/deploy/c1/status", "edged/v1/group/g/cmd/ping/c",
		"edged/v1/blob/" + sum + "/7", "edged/v1/blob/" + sum + "/meta", "edged/v1/dev/+/#", "edged/v1//////",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		got, err := ParseTopic(topic)
		if err != nil {
			if got != (Topic{}) {
				t.Fatalf("ParseTopic(%q) = %+v with error %v; want the zero Topic", topic, got, err)
			}
			return
		}
		// A topic that parses is canonical: it builds back to itself, has
		// no wildcard, and its ids are valid.
		if s := got.String(); s != topic {
			t.Fatalf("ParseTopic(%q).String() = %q", topic, s)
		}
		if strings.ContainsAny(topic, "+#\x00") {
			t.Fatalf("ParseTopic(%q) accepted a wildcard or NUL", topic)
		}
		for _, id := range []string{got.Device, got.Group, got.Op, got.CmdID} {
			if id != "" && ValidID(id) != nil {
				t.Fatalf("ParseTopic(%q) returned invalid id %q", topic, id)
			}
		}
	})
}
