package agent

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edged-dev/edged/internal/testenv"
)

const profileConfig = `
version: 1
state_dir: %s
http:
  listen: 127.0.0.1:0
  token: s3cret
  max_request_bytes: 1048576
models:
  - name: mnv1
    version: "3"
    path: %s
  - name: mnv2
    version: "1"
    path: %s
`

// startProfileAgent runs an agent serving MobileNet v1 0.25 and v2 on
// loopback with a token.
func startProfileAgent(t *testing.T) (*Agent, string) {
	t.Helper()
	var paths []any
	for _, m := range []string{"mobilenet_v1_0.25_128_quant.tflite", "mobilenet_v2_1.0_224_quant.tflite"} {
		p, err := filepath.Abs("../testdata/models/" + m)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	a, url, stop := runConfig(t, fmt.Appendf(nil, profileConfig, append([]any{t.TempDir()}, paths...)...))
	t.Cleanup(stop)
	return a, url
}

// opcodeNames reads a .tflite file's flatbuffer directly (schema.fbs:
// Model.operator_codes is field 1, Model.subgraphs field 2,
// SubGraph.operators field 3, Operator.opcode_index field 0,
// OperatorCode.deprecated_builtin_code field 0 and builtin_code field 3)
// and names subgraph 0's operators in file order, which is the order
// they run in. names maps the builtin codes of schema.fbs the test models
// use.
func opcodeNames(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	names := map[int32]string{0: "ADD", 1: "AVERAGE_POOL_2D", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 22: "RESHAPE", 25: "SOFTMAX"}
	u32 := func(off int) int { return int(binary.LittleEndian.Uint32(b[off:])) }
	// field returns the absolute offset of a table's field, 0 if absent.
	field := func(table, id int) int {
		vt := table - int(int32(binary.LittleEndian.Uint32(b[table:])))
		vtLen := int(binary.LittleEndian.Uint16(b[vt:]))
		if 4+2*id >= vtLen {
			return 0
		}
		o := int(binary.LittleEndian.Uint16(b[vt+4+2*id:]))
		if o == 0 {
			return 0
		}
		return table + o
	}
	// vector returns the tables a vector field points to.
	vector := func(table, id int) []int {
		f := field(table, id)
		if f == 0 {
			return nil
		}
		v := f + u32(f)
		out := make([]int, u32(v))
		for i := range out {
			e := v + 4 + 4*i
			out[i] = e + u32(e)
		}
		return out
	}
	root := u32(0)
	var codes []string
	for _, oc := range vector(root, 1) {
		var code int32
		if f := field(oc, 0); f != 0 {
			code = int32(int8(b[f]))
		}
		if f := field(oc, 3); f != 0 {
			code = max(code, int32(binary.LittleEndian.Uint32(b[f:])))
		}
		name, ok := names[code]
		if !ok {
			t.Fatalf("%s: builtin code %d is not in the test's table", path, code)
		}
		codes = append(codes, name)
	}
	var ops []string
	for _, op := range vector(vector(root, 2)[0], 3) {
		idx := 0
		if f := field(op, 0); f != 0 {
			idx = u32(f)
		}
		ops = append(ops, codes[idx])
	}
	return ops
}

// tableRows counts the rows of a profile table that name want's
// operators in order, from index 0.
func tableRows(text string, want []string) int {
	rows := 0
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == strconv.Itoa(rows) && f[1] == want[rows] {
			rows++
			if rows == len(want) {
				break
			}
		}
	}
	return rows
}

// edgectlProfile prints the served model's profile with edgectl.
func edgectlProfile(t *testing.T, base string, want []string) {
	bin := filepath.Join(t.TempDir(), "edgectl")
	build := exec.Command(testenv.GoTool(t), "build", "-o", bin, "./cmd/edgectl")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/edgectl: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "bench", "--profile", "--url", base, "--model", "mnv1", "--runs", "2", "--token", "s3cret").CombinedOutput()
	if err != nil {
		t.Fatalf("edgectl bench --profile --url: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if rows := tableRows(string(out), want); rows != len(want) || !strings.HasPrefix(string(out), "mnv1 version 3 on "+base) {
		t.Errorf("edgectl printed %d of the %d operators in order:\n%s", rows, len(want), out)
	}
	out, err = exec.Command(bin, "bench", "--profile", "--url", base, "--model", "mnv1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "401") || !strings.Contains(string(out), "--token") {
		t.Errorf("edgectl without the token: %v\n%s; want a 401 that mentions --token", err, out)
	}
}

// TestDebugProfile profiles a served model through the local API and
// checks the table against the model file.
func TestDebugProfile(t *testing.T) {
	a, base := startProfileAgent(t)
	auth := map[string]string{"Authorization": "Bearer s3cret"}

	// MobileNet v1's layers (Howard et al. 2017, table 1): a
	// convolution, 13 depthwise-separable pairs, average pooling, the
	// 1×1 logits convolution; this export then reshapes to [1,1001] and
	// applies softmax.
	mnv1, _ := filepath.Abs("../testdata/models/mobilenet_v1_0.25_128_quant.tflite")
	want := opcodeNames(t, mnv1)
	documented := []string{"CONV_2D"}
	for range 13 {
		documented = append(documented, "DEPTHWISE_CONV_2D", "CONV_2D")
	}
	documented = append(documented, "AVERAGE_POOL_2D", "CONV_2D", "RESHAPE", "SOFTMAX")
	if strings.Join(want, " ") != strings.Join(documented, " ") {
		t.Fatalf("the file's operators %v are not MobileNet v1's %v: the flatbuffer reader is wrong", want, documented)
	}

	if code, body, _ := do(t, "GET", base+"/debug/profile?model=mnv1", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("without the token: %d %s; want 401", code, body)
	}
	code, body, h := do(t, "GET", base+"/debug/profile?model=mnv1&runs=3", "", auth)
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("profile: %d %s %s", code, h.Get("Content-Type"), body)
	}
	var p struct {
		Model, Version string
		Runs           int
		Ops            []struct {
			Index    int
			Op       string
			Shape    []int
			Type     string
			MedianUS float64 `json:"median_us"`
			Share    float64
		}
		Types []struct {
			Op    string
			Count int
		}
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Model != "mnv1" || p.Version != "3" || p.Runs != 3 {
		t.Errorf("model %q version %q runs %d; want mnv1, 3, 3", p.Model, p.Version, p.Runs)
	}
	if len(p.Ops) != len(want) {
		t.Fatalf("%d operators; the model file has %d", len(p.Ops), len(want))
	}
	var share float64
	for i, o := range p.Ops {
		if o.Index != i || o.Op != want[i] {
			t.Errorf("row %d: index %d op %s; want index %d op %s", i, o.Index, o.Op, i, want[i])
		}
		if o.MedianUS <= 0 {
			t.Errorf("row %d (%s): median %v µs; want > 0", i, o.Op, o.MedianUS)
		}
		share += o.Share
	}
	if math.Abs(share-1) > 1e-6 {
		t.Errorf("shares sum to %v; want 1", share)
	}
	// The model's output: uint8 [1,1001] (the ImageNet classes and a
	// background class).
	if last := p.Ops[len(p.Ops)-1]; fmt.Sprint(last.Shape) != "[1 1001]" || last.Type != "uint8" {
		t.Errorf("last operator's output %v %s; want [1 1001] uint8", last.Shape, last.Type)
	}
	counts := map[string]int{}
	for _, ty := range p.Types {
		counts[ty.Op] = ty.Count
	}
	if counts["CONV_2D"] != 15 || counts["DEPTHWISE_CONV_2D"] != 13 || counts["AVERAGE_POOL_2D"] != 1 {
		t.Errorf("by type %v; want 15 CONV_2D, 13 DEPTHWISE_CONV_2D, 1 AVERAGE_POOL_2D", counts)
	}

	code, body, h = do(t, "GET", base+"/debug/profile?model=mnv1&runs=2&format=text", "", auth)
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("text profile: %d %s %s", code, h.Get("Content-Type"), body)
	}
	if rows := tableRows(string(body), want); rows != len(want) {
		t.Errorf("the text table has %d of the %d operators in order:\n%s", rows, len(want), body)
	}
	if !testing.Short() {
		t.Run("edgectl", func(t *testing.T) { edgectlProfile(t, base, want) })
	}

	for _, c := range []struct {
		query string
		code  int
	}{
		{"model=nosuch", http.StatusNotFound},
		{"model=mnv1&version=9", http.StatusNotFound},
		{"", http.StatusBadRequest},
		{"model=mnv1&runs=0", http.StatusBadRequest},
		{"model=mnv1&runs=1001", http.StatusBadRequest},
		{"model=mnv1&runs=x", http.StatusBadRequest},
		{"model=mnv1&format=xml", http.StatusBadRequest},
	} {
		code, body, _ := do(t, "GET", base+"/debug/profile?"+c.query, "", auth)
		var e struct{ Error string }
		if code != c.code || json.Unmarshal(body, &e) != nil || e.Error == "" {
			t.Errorf("?%s: %d %s; want %d with an error message", c.query, code, body, c.code)
		}
	}

	// A long profile of MobileNet v2 (1000 runs) runs on its own
	// interpreter: a second profile is refused, and the model answers
	// requests while the first runs.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	long := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/debug/profile?model=mnv2&runs=1000", nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			long <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		long <- resp.StatusCode
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if !a.profiling.TryLock() {
			break
		}
		a.profiling.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the long profile did not start in 10 s")
		}
	}
	if code, body, _ := do(t, "GET", base+"/debug/profile?model=mnv1&runs=1", "", auth); code != http.StatusConflict {
		t.Errorf("a second profile: %d %s; want 409", code, body)
	}
	hdr := `{"inputs":[{"name":"input","shape":[1,224,224,3],"datatype":"UINT8","parameters":{"binary_data_size":150528}}]}`
	req := hdr + strings.Repeat("\x80", 150528)
	for i := range 3 {
		code, body, _ := do(t, "POST", base+"/v2/models/mnv2/infer", req, map[string]string{"Authorization": "Bearer s3cret",
			"Inference-Header-Content-Length": strconv.Itoa(len(hdr)), "Content-Type": "application/octet-stream"})
		if code != http.StatusOK {
			t.Fatalf("request %d while profiling: %d %s", i, code, body)
		}
	}
	select {
	case code := <-long:
		t.Fatalf("the 1000-run profile ended (%d) before the requests: the check proves nothing", code)
	default:
	}
	cancel()
	<-long
}
