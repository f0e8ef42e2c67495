package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/edged-dev/edged/boards"
)

func TestBoardCommand(t *testing.T) {
	tests := []struct {
		name      string
		fixture   string
		wantName  string
		threads   int
		delegates []string
		accels    int
	}{
		{"coral usb before firmware on x86", "coral-usb-x86", "generic-x86-64", 7, []string{"edgetpu", "cpu"}, 1},
		{"jetson orin nano", "jetson-orin-nano", "jetson-orin-nano", 5, []string{"gpu", "cpu"}, 1},
		{"pi 4", "rpi-4", "rpi-4b", 4, []string{"cpu"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := "../../../boards/testdata/" + tt.fixture
			var out, errb bytes.Buffer
			if err := run(context.Background(), []string{"board", "--json", "--root", root}, &out, &errb); err != nil {
				t.Fatalf("edgectl board --json --root %s: %v\n%s", root, err, errb.String())
			}
			var got struct {
				Name           string               `json:"name"`
				DefaultThreads int                  `json:"default_threads"`
				Delegates      []string             `json:"delegates"`
				Accelerators   []boards.Accelerator `json:"accelerators"`
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("edgectl board --json output %q: %v", out.String(), err)
			}
			if got.Name != tt.wantName || got.DefaultThreads != tt.threads || !reflect.DeepEqual(got.Delegates, tt.delegates) || len(got.Accelerators) != tt.accels {
				t.Errorf("edgectl board --json --root %s = %+v; want name %s, threads %d, delegates %q, %d accelerators",
					root, got, tt.wantName, tt.threads, tt.delegates, tt.accels)
			}

			out.Reset()
			if err := run(context.Background(), []string{"board", "--root", root}, &out, &errb); err != nil {
				t.Fatalf("edgectl board --root %s: %v", root, err)
			}
			if !strings.Contains(out.String(), tt.wantName) {
				t.Errorf("edgectl board --root %s = %q; want it to name %s", root, out.String(), tt.wantName)
			}
		})
	}
}

func TestBoardCommandNoData(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"board", "--root", t.TempDir()}, &out, &errb)
	if !errors.Is(err, boards.ErrNoData) {
		t.Errorf("edgectl board --root EMPTY error = %v; want ErrNoData", err)
	}
}
