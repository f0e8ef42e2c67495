package bundle

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/ota/sign/signtest"
	"github.com/edged-dev/edged/runtime/tflite"
)

func model(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../testdata/models", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func keys(t *testing.T) (*sign.RootKey, *sign.SigningKey) {
	t.Helper()
	k := signtest.New(t)
	return k.Root, k.Model
}

func TestCheckModel(t *testing.T) {
	cpu := model(t, "mobilenet_v1_0.25_128_quant.tflite")
	tpu := model(t, "fizzbuzz_model_quant_edgetpu.tflite")
	tests := []struct {
		name, variant string
		data          []byte
		wantErr       error
		wantIn        string
	}{
		{name: "cpu", variant: VariantCPU, data: cpu},
		{name: "edgetpu", variant: VariantEdgeTPU, data: tpu},
		{name: "edgetpu as cpu", variant: VariantCPU, data: tpu, wantErr: tflite.ErrUnsupportedOp, wantIn: EdgeTPUOp},
		{name: "cpu as edgetpu", variant: VariantEdgeTPU, data: cpu, wantIn: "no edgetpu-custom-op operator"},
		{name: "not a model", variant: VariantCPU, data: []byte("hello"), wantErr: tflite.ErrMalformed},
		{name: "not a model as edgetpu", variant: VariantEdgeTPU, data: []byte("hello"), wantErr: tflite.ErrMalformed},
	}
	for _, tc := range tests {
		_, err := CheckModel(tc.variant, tc.data)
		wantAny := tc.wantErr != nil || tc.wantIn != ""
		if (err != nil) != wantAny || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || (err != nil && !strings.Contains(err.Error(), tc.wantIn)) {
			t.Errorf("CheckModel(%s) = %v; want error %v containing %q", tc.name, err, tc.wantErr, tc.wantIn)
		}
	}
}

func TestWriteRead(t *testing.T) {
	root, key := keys(t)
	cpu := model(t, "mobilenet_v1_0.25_128_quant.tflite")
	tpu := model(t, "fizzbuzz_model_quant_edgetpu.tflite")
	dir := filepath.Join(t.TempDir(), "b")
	spec := Spec{Name: "mnet", Version: 3, Models: []Model{{VariantCPU, cpu}, {VariantEdgeTPU, tpu}},
		Labels: []string{"cat", "dog"}, Policy: json.RawMessage(`{"min_samples":100}`)}
	w, err := Write(dir, spec, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Read(dir, root.Public(), sign.VerifyOptions{Name: "mnet", LastVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	m := b.Manifest
	if m.Name != "mnet" || m.Version != 3 || len(m.Blobs) != 2 || m.Blobs[0].Size != int64(len(cpu)) || m.Blobs[1].Size != int64(len(tpu)) {
		t.Errorf("manifest %+v; want mnet v3 with blobs of %d and %d bytes", m, len(cpu), len(tpu))
	}
	if string(b.Raw) != string(w.Raw) {
		t.Error("Read's Raw differs from Write's")
	}
	// mobilenet_v1_0.25_128_quant takes one uint8 image of 128x128x3.
	var in []TensorDesc
	if err := json.Unmarshal(m.Inputs, &in); err != nil || len(in) != 1 || in[0].DType != "uint8" || len(in[0].Shape) != 4 || in[0].Shape[1] != 128 {
		t.Errorf("inputs %s (%v); want one uint8 [1 128 128 3]", m.Inputs, err)
	}
	if _, err := Write(dir, spec, key); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Write into the bundle again = %v; want a not-empty error", err)
	}

	other, _ := keys(t)
	tamper := func(dir string) {
		p := filepath.Join(dir, BlobDir, m.Blobs[1].SHA256)
		data, _ := os.ReadFile(p)
		data[len(data)/2] ^= 1
		os.WriteFile(p, data, 0o644)
	}
	tests := []struct {
		name    string
		change  func(dir string)
		root    *sign.RootKey
		opts    sign.VerifyOptions
		wantErr error
		wantIn  string
	}{
		{name: "tampered blob", change: tamper, root: root, wantErr: sign.ErrDigestMismatch, wantIn: "variant edgetpu"},
		{name: "missing blob", change: func(dir string) { os.Remove(filepath.Join(dir, BlobDir, m.Blobs[0].SHA256)) }, root: root,
			wantErr: os.ErrNotExist, wantIn: "variant cpu"},
		{name: "tampered manifest", change: func(dir string) {
			p := filepath.Join(dir, ManifestFile)
			data, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(data), `"dog"`, `"cow"`, 1)), 0o644)
		}, root: root, wantErr: sign.ErrBadSignature},
		{name: "other root", root: other, wantErr: sign.ErrUntrustedKey},
		{name: "replay", root: root, opts: sign.VerifyOptions{Name: "mnet", LastVersion: 3}, wantErr: sign.ErrReplay},
	}
	for _, tc := range tests {
		d := filepath.Join(t.TempDir(), "b")
		if _, err := Write(d, spec, key); err != nil {
			t.Fatal(err)
		}
		if tc.change != nil {
			tc.change(d)
		}
		_, err := Read(d, tc.root.Public(), tc.opts)
		if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantIn) {
			t.Errorf("Read(%s) = %v; want %v containing %q", tc.name, err, tc.wantErr, tc.wantIn)
		}
	}
}

func TestWriteRefuses(t *testing.T) {
	_, key := keys(t)
	tests := []struct {
		name   string
		spec   Spec
		wantIn string
	}{
		{name: "no model", spec: Spec{Name: "m", Version: 1}, wantIn: "no model"},
		{name: "edgetpu model as cpu", spec: Spec{Name: "m", Version: 1, Models: []Model{{VariantCPU, model(t, "fizzbuzz_model_quant_edgetpu.tflite")}}}, wantIn: EdgeTPUOp},
		{name: "bad policy", spec: Spec{Name: "m", Version: 1, Models: []Model{{VariantCPU, model(t, "iris.tflite")}}, Policy: json.RawMessage("{")}, wantIn: "not valid JSON"},
		{name: "version 0", spec: Spec{Name: "m", Models: []Model{{VariantCPU, model(t, "iris.tflite")}}}, wantIn: "version is 0"},
	}
	for _, tc := range tests {
		dir := filepath.Join(t.TempDir(), "b")
		_, err := Write(dir, tc.spec, key)
		if err == nil || !strings.Contains(err.Error(), tc.wantIn) {
			t.Errorf("Write(%s) = %v; want an error containing %q", tc.name, err, tc.wantIn)
		}
		if _, serr := os.Stat(dir); serr == nil {
			t.Errorf("Write(%s) failed but created %s", tc.name, dir)
		}
	}
}
