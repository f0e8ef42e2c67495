package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
)

// makeKeys runs keys init in a new directory and returns it and the
// signing key's path.
func makeKeys(t *testing.T) (dir, signing string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "keys")
	if out, err := edgectl(t, "keys", "init", dir); err != nil {
		t.Fatalf("keys init: %v\n%s", err, out)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "model-*.key"))
	if len(m) != 1 {
		t.Fatalf("model keys after init: %v; want 1", m)
	}
	return dir, m[0]
}

func TestKeys(t *testing.T) {
	dir, _ := makeKeys(t)
	// One key per role, named by it.
	for _, f := range []string{"root.key", "model-*.key", "agent-*.key", "command-*.key"} {
		m, _ := filepath.Glob(filepath.Join(dir, f))
		if len(m) != 1 {
			t.Fatalf("%s: %v; want one file", f, m)
		}
		st, err := os.Stat(m[0])
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, st.Mode().Perm(), err)
		}
	}
	if out, err := edgectl(t, "keys", "init", dir); err == nil || !strings.Contains(err.Error(), "already holds a root key") {
		t.Errorf("keys init twice = %v\n%s; want a refusal", err, out)
	}
	if out, err := edgectl(t, "keys", "rotate", dir, "--purpose", "model+agent"); err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "model*.key"))
	if len(m) != 2 {
		t.Fatalf("model keys after rotate: %v; want model-ID.key and model+agent-ID.key", m)
	}
	root, err := sign.LoadPublicKey(filepath.Join(dir, "root.pub"))
	if err != nil {
		t.Fatal(err)
	}
	// Both keys sign manifests the root accepts.
	for _, p := range m {
		dir, err := bundleWith(t, p, "iris.tflite")
		if err != nil {
			t.Fatalf("bundle with %s: %v\n%s", p, err, dir)
		}
		if _, err := bundle.Read(dir, root, sign.VerifyOptions{}); err != nil {
			t.Errorf("bundle signed by %s: %v", filepath.Base(p), err)
		}
	}
}

// bundleWith runs edgectl bundle with model as the cpu variant.
func bundleWith(t *testing.T, key, model string, extra ...string) (string, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bundle")
	args := append([]string{"bundle", "--name", "m", "--version", "7", "--model", filepath.Join(models, model), "--key", key, "--out", out}, extra...)
	msg, err := edgectl(t, args...)
	if err != nil {
		return msg, err
	}
	return out, nil
}

var models = "../../../testdata/models"

func TestBundleVerify(t *testing.T) {
	keys, key := makeKeys(t)
	tmp := t.TempDir()
	labels := filepath.Join(tmp, "labels.txt")
	profile := filepath.Join(tmp, "profile.json")
	policy := filepath.Join(tmp, "canary.yaml")
	os.WriteFile(labels, []byte("cat\n\ndog\n"), 0o644)
	os.WriteFile(profile, []byte(`{ "features": [1, 2] }`), 0o644)
	os.WriteFile(policy, []byte("min_samples: 200\nmax_latency_ratio: 1.5\n"), 0o644)
	dir, err := bundleWith(t, key, "mobilenet_v1_0.25_128_quant.tflite",
		"--variant", "edgetpu="+filepath.Join(models, "fizzbuzz_model_quant_edgetpu.tflite"),
		"--labels", labels, "--profile", profile, "--policy", policy)
	if err != nil {
		t.Fatalf("bundle: %v\n%s", err, dir)
	}
	root := filepath.Join(keys, "root.pub")
	out, err := edgectl(t, "verify", "--root", root, "--bundle", dir)
	if err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("verify = %v\n%s; want OK", err, out)
	}
	// MobileNet v1 0.25/128 quantized: uint8 image in, 1001 uint8 scores out.
	if !strings.Contains(out, "takes    uint8[1,128,128,3]") || !strings.Contains(out, "gives    uint8[1,1001]") {
		t.Errorf("verify does not show the model's interface:\n%s", out)
	}
	pub, _ := sign.LoadPublicKey(root)
	b, err := bundle.Read(dir, pub, sign.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pol map[string]float64
	json.Unmarshal(b.Manifest.Policy, &pol)
	if got := strings.Join(b.Manifest.Labels, ","); got != "cat,dog" || pol["min_samples"] != 200 || pol["max_latency_ratio"] != 1.5 ||
		string(b.Manifest.Profile) != `{"features":[1,2]}` {
		t.Errorf("manifest labels %q, policy %s, profile %s; want cat,dog, the YAML as JSON, the profile compacted", got, b.Manifest.Policy, b.Manifest.Profile)
	}

	// A changed byte in the edgetpu blob: verify names the blob.
	tpu, _ := b.Manifest.Blob("edgetpu")
	p := b.BlobPath(tpu)
	data, _ := os.ReadFile(p)
	data[100] ^= 0x40
	os.WriteFile(p, data, 0o644)
	out, err = edgectl(t, "verify", "--root", root, "--bundle", dir)
	if err == nil || !strings.Contains(err.Error(), "variant edgetpu") || !strings.Contains(err.Error(), tpu.SHA256) ||
		!strings.Contains(err.Error(), "sha256 mismatch") {
		t.Errorf("verify(tampered) = %v\n%s; want a sha256 mismatch naming blob %s (variant edgetpu)", err, out, tpu.SHA256)
	}

	// Another root does not accept the bundle.
	otherKeys, _ := makeKeys(t)
	if _, err := edgectl(t, "verify", "--root", filepath.Join(otherKeys, "root.pub"), "--bundle", dir); err == nil ||
		!strings.Contains(err.Error(), "untrusted signing key") {
		t.Errorf("verify with another root = %v; want untrusted signing key", err)
	}
}

func TestBundleRefuses(t *testing.T) {
	_, key := makeKeys(t)
	tests := []struct {
		name   string
		model  string
		extra  []string
		wantIn string
	}{
		{name: "edgetpu model as cpu", model: "fizzbuzz_model_quant_edgetpu.tflite", wantIn: "edgetpu-custom-op"},
		{name: "cpu model as edgetpu", model: "iris.tflite", extra: []string{"--variant", "edgetpu=" + filepath.Join(models, "iris.tflite")},
			wantIn: "no edgetpu-custom-op operator"},
		{name: "bad variant flag", model: "iris.tflite", extra: []string{"--variant", "edgetpu"}, wantIn: "want NAME=FILE"},
		{name: "version 2^64-1", model: "iris.tflite", extra: []string{"--version", "18446744073709551615"}, wantIn: "above 9007199254740992"},
		{name: "version 2^53+1", model: "iris.tflite", extra: []string{"--version", "9007199254740993"}, wantIn: "above 9007199254740992"},
	}
	for _, tc := range tests {
		msg, err := bundleWith(t, key, tc.model, tc.extra...)
		if err == nil || !strings.Contains(err.Error(), tc.wantIn) {
			t.Errorf("bundle(%s) = %v\n%s; want an error containing %q", tc.name, err, msg, tc.wantIn)
		}
	}
}
