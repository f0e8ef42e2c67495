package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
	"gopkg.in/yaml.v3"
)

func runBundle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bundle", stdout, stderr)
	name := fs.String("name", "", "model name (required)")
	version := fs.Uint64("version", 0, "manifest version, greater than every earlier one of this model (required)")
	modelPath := fs.String("model", "", "the cpu variant: a .tflite the runtime loads (required)")
	var variants multiFlag
	fs.Var(&variants, "variant", "another variant as NAME=FILE, e.g. edgetpu=model_edgetpu.tflite (repeatable)")
	labels := fs.String("labels", "", "labels file, one label a line")
	profile := fs.String("profile", "", "drift reference profile (JSON)")
	policy := fs.String("policy", "", "canary policy (YAML or JSON)")
	ifaceChange := fs.Bool("interface-change", false, "let devices replace a version whose inputs or outputs (type or shape) differ from this model's; without it they refuse it")
	var kf keyFlags
	kf.register(fs, "model")
	out := fs.String("out", "", "bundle directory to create (required)")
	validFor := fs.Duration("valid-for", bundle.DefaultValidity, "how long devices may install the bundle")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" || *version == 0 || *modelPath == "" || *out == "" {
		return usageErrorf("bundle: --name, --version, --model and --out are required; see 'edgectl bundle --help'")
	}
	if *version > sign.MaxVersion {
		return fmt.Errorf("bundle: --version %d is above %d, the highest version a device accepts", *version, uint64(sign.MaxVersion))
	}
	set, err := resolveContext("")
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	key, err := kf.load(sign.KindModel, set)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	spec := bundle.Spec{Name: *name, Version: *version, Created: time.Now(), InterfaceChange: *ifaceChange}
	spec.Expires = spec.Created.Add(*validFor)
	add := func(variant, path string) error {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("bundle: variant %s: %w", variant, err)
		}
		spec.Models = append(spec.Models, bundle.Model{Variant: variant, Data: data})
		return nil
	}
	if err := add(bundle.VariantCPU, *modelPath); err != nil {
		return err
	}
	for _, v := range variants {
		variant, path, ok := strings.Cut(v, "=")
		if !ok || variant == "" || path == "" {
			return fmt.Errorf("bundle: --variant %q: want NAME=FILE", v)
		}
		if err := add(variant, path); err != nil {
			return err
		}
	}
	if *labels != "" {
		if spec.Labels, err = readLabels(*labels); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	}
	if *profile != "" {
		b, err := os.ReadFile(*profile)
		if err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		if !json.Valid(b) {
			return fmt.Errorf("bundle: profile %s is not valid JSON", *profile)
		}
		var c bytes.Buffer
		json.Compact(&c, b)
		spec.Profile = c.Bytes()
	}
	if *policy != "" {
		if spec.Policy, err = yamlToJSON(*policy); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	}
	b, err := bundle.Write(*out, spec, key)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	printManifest(stdout, b)
	return nil
}

func printManifest(w io.Writer, b *bundle.Bundle) {
	m := b.Manifest
	fmt.Fprintf(w, "%s: %s version %d, expires %s\n", b.Dir, m.Name, m.Version, m.Expires.Format(time.RFC3339))
	for _, blob := range m.Blobs {
		fmt.Fprintf(w, "  %-8s %s %d bytes\n", blob.Variant, blob.SHA256, blob.Size)
	}
	var in, out []bundle.TensorDesc
	if json.Unmarshal(m.Inputs, &in) == nil && json.Unmarshal(m.Outputs, &out) == nil && len(in) > 0 {
		fmt.Fprintf(w, "  takes    %s\n  gives    %s\n", tensorsText(in), tensorsText(out))
		if m.InterfaceChange {
			fmt.Fprintln(w, "  may replace a version that takes or gives other types or shapes (--interface-change)")
		}
	}
	for _, s := range m.Signatures {
		fmt.Fprintf(w, "  signed by %s\n", s.KeyID)
	}
}

// tensorsText writes tensors as "int8[1,96,96,1] float32[1,2]".
func tensorsText(ds []bundle.TensorDesc) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		dims := make([]string, len(d.Shape))
		for j, n := range d.Shape {
			dims[j] = fmt.Sprint(n)
		}
		parts[i] = d.DType + "[" + strings.Join(dims, ",") + "]"
	}
	return strings.Join(parts, " ")
}

func readLabels(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ls []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			ls = append(ls, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("labels %s: %w", path, err)
	}
	return ls, nil
}

// yamlToJSON reads a YAML (or JSON) document as JSON, which is how the
// manifest carries it.
func yamlToJSON(path string) (json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// The device refuses a bundle whose policy it cannot read: check it
	// here, with the same parser, before anything is signed.
	if _, err := canary.ParsePolicy(b); err != nil {
		return nil, fmt.Errorf("%s: %v (the fields are documented in examples/canary/policy.yaml)", path, err)
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return j, nil
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", stdout, stderr)
	root := fs.String("root", "", "root public key file (root.pub) (required)")
	dir := fs.String("bundle", "", "bundle directory (required)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if *root == "" || *dir == "" {
		return usageErrorf("verify: --root and --bundle are required")
	}
	pub, err := sign.LoadPublicKey(*root)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	b, err := bundle.Read(*dir, pub, sign.VerifyOptions{})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	printManifest(stdout, b)
	fmt.Fprintln(stdout, "OK")
	return nil
}
