// Package bundle writes and reads model bundles: a directory holding a
// signed manifest (ota/sign) and the model files it names, each stored
// under its sha256.
//
//	DIR/manifest.json          sign.Manifest, Kind "model", signed
//	DIR/blobs/{sha256}         one file per variant (cpu, edgetpu, ...)
//
// Write checks every model with the runtime before signing, so a bundle
// never carries a file the device would refuse to load: the "cpu" variant
// (and any variant but "edgetpu") must pass tflite.Load; the "edgetpu"
// variant must parse and contain the Edge TPU custom op, which only an
// Edge TPU delegate runs. Read verifies the manifest against a root
// public key and every blob against the manifest.
package bundle

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/edged-dev/edged/ota/sign"
	"github.com/edged-dev/edged/runtime/tflite"
)

// Names in a bundle.
const (
	ManifestFile = "manifest.json"
	BlobDir      = "blobs"

	VariantCPU     = "cpu"
	VariantEdgeTPU = "edgetpu"
	// EdgeTPUOp is the custom op the Edge TPU compiler puts in a model.
	EdgeTPUOp = "edgetpu-custom-op"

	// DefaultValidity is how long a manifest may be installed when
	// Spec.Expires is zero.
	DefaultValidity = 30 * 24 * time.Hour
)

// Spec is what goes into a bundle.
type Spec struct {
	Name    string
	Version uint64
	Models  []Model // at least one; variants unique
	Labels  []string
	// Profile (a drift reference profile, agent/drift) and Policy (a
	// canary policy, agent/canary) are JSON, carried as they are.
	Profile json.RawMessage
	Policy  json.RawMessage
	// InterfaceChange lets devices replace a version whose inputs or
	// outputs differ from this one's (sign.Manifest.InterfaceChange).
	InterfaceChange bool
	// Created defaults to now; Expires to Created + DefaultValidity.
	Created time.Time
	Expires time.Time
}

// Model is one variant's model file.
type Model struct {
	Variant string
	Data    []byte
}

// Bundle is a bundle on disk.
type Bundle struct {
	Dir      string
	Manifest *sign.Manifest
	// Raw is manifest.json as signed: the payload of a deploy command.
	Raw []byte
}

// BlobPath is where blob lies in the bundle.
func (b *Bundle) BlobPath(blob sign.Blob) string { return filepath.Join(b.Dir, BlobDir, blob.SHA256) }

// TensorDesc describes a model input or output in the manifest's inputs
// and outputs members.
type TensorDesc struct {
	Name      string    `json:"name"`
	DType     string    `json:"dtype"`
	Shape     []int     `json:"shape"`
	Scale     []float32 `json:"scale,omitempty"`
	ZeroPoint []int32   `json:"zero_point,omitempty"`
}

// CheckModel reports why data cannot be the given variant of a model: a
// "cpu" (or other) variant that tflite.Load refuses, or an "edgetpu"
// variant without the Edge TPU op. It returns the parsed model.
func CheckModel(variant string, data []byte) (*tflite.Model, error) {
	if variant != VariantEdgeTPU {
		m, err := tflite.Load(data)
		if err != nil {
			return nil, fmt.Errorf("variant %q: %w", variant, err)
		}
		return m, nil
	}
	m, err := tflite.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("variant %q: %w", variant, err)
	}
	for _, sg := range m.Subgraphs {
		for i := range sg.Operators {
			if m.OpName(&sg.Operators[i]) == EdgeTPUOp {
				return m, nil
			}
		}
	}
	return nil, fmt.Errorf("variant %q: no %s operator; compile the model with edgetpu_compiler", variant, EdgeTPUOp)
}

// Write checks the models, writes their blobs and a manifest signed with
// key into dir, which must not exist or be empty, and returns the bundle.
func Write(dir string, spec Spec, key *sign.SigningKey) (*Bundle, error) {
	b, err := write(dir, spec, key)
	if err != nil {
		return nil, fmt.Errorf("writing the bundle %s: %w", dir, err)
	}
	return b, nil
}

func write(dir string, spec Spec, key *sign.SigningKey) (*Bundle, error) {
	if len(spec.Models) == 0 {
		return nil, errors.New("no model")
	}
	if spec.Created.IsZero() {
		spec.Created = time.Now()
	}
	if spec.Expires.IsZero() {
		spec.Expires = spec.Created.Add(DefaultValidity)
	}
	m := &sign.Manifest{
		V: 1, Kind: sign.KindModel, Name: spec.Name, Version: spec.Version,
		Created: spec.Created.UTC().Truncate(time.Second), Expires: spec.Expires.UTC().Truncate(time.Second),
		Labels: spec.Labels, Profile: spec.Profile, Policy: spec.Policy, InterfaceChange: spec.InterfaceChange,
	}
	for _, raw := range []json.RawMessage{spec.Profile, spec.Policy} {
		if raw != nil && !json.Valid(raw) {
			return nil, errors.New("profile or policy is not valid JSON")
		}
	}
	var described bool
	for _, md := range spec.Models {
		tm, err := CheckModel(md.Variant, md.Data)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(md.Data)
		m.Blobs = append(m.Blobs, sign.Blob{Variant: md.Variant, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(md.Data))})
		if !described || md.Variant == VariantCPU {
			// The cpu variant's tensors are the model's interface; an Edge
			// TPU model's graph may differ inside but not at its edges.
			if m.Inputs, m.Outputs, err = describe(tm); err != nil {
				return nil, err
			}
			described = true
		}
	}
	if err := sign.Sign(m, key); err != nil {
		return nil, err
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	raw = append(raw, '\n')

	if err := emptyDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, BlobDir), 0o755); err != nil {
		return nil, err
	}
	b := &Bundle{Dir: dir, Manifest: m, Raw: raw}
	for i, md := range spec.Models {
		if err := os.WriteFile(b.BlobPath(m.Blobs[i]), md.Data, 0o644); err != nil {
			return nil, err
		}
	}
	// The manifest last: a directory with a manifest is a whole bundle.
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), raw, 0o644); err != nil {
		return nil, err
	}
	return b, nil
}

func emptyDir(dir string) error {
	es, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(es) > 0 {
		return fmt.Errorf("directory is not empty (%d entries); a bundle is written into a new directory", len(es))
	}
	return nil
}

func describe(m *tflite.Model) (in, out json.RawMessage, err error) {
	if len(m.Subgraphs) == 0 {
		return nil, nil, errors.New("model has no subgraph")
	}
	sg := m.Subgraphs[0]
	list := func(idx []int) (json.RawMessage, error) {
		ds := make([]TensorDesc, 0, len(idx))
		for _, i := range idx {
			ti := sg.Tensors[i]
			d := TensorDesc{Name: ti.Name, DType: ti.Type.String(), Shape: ti.Shape}
			if ti.Quant != nil {
				d.Scale, d.ZeroPoint = ti.Quant.Scale, ti.Quant.ZeroPoint
			}
			ds = append(ds, d)
		}
		return json.Marshal(ds)
	}
	if in, err = list(sg.Inputs); err != nil {
		return nil, nil, err
	}
	out, err = list(sg.Outputs)
	return in, out, err
}

// Read reads the bundle in dir, verifies its manifest against root with
// opts (Kind defaults to sign.KindModel) and every blob against the
// manifest. A blob that is missing or differs is named in the error.
func Read(dir string, root ed25519.PublicKey, opts sign.VerifyOptions) (*Bundle, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("reading a bundle: %w", err)
	}
	if opts.Kind == "" {
		opts.Kind = sign.KindModel
	}
	m, err := sign.Verify(raw, root, opts)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	b := &Bundle{Dir: dir, Manifest: m, Raw: raw}
	for _, blob := range m.Blobs {
		if err := verifyFile(b.BlobPath(blob), blob); err != nil {
			return nil, fmt.Errorf("bundle %s: model file %s (variant %s): %w", dir, blob.SHA256, blob.Variant, err)
		}
	}
	return b, nil
}

func verifyFile(path string, blob sign.Blob) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return sign.VerifyBlob(blob, f)
}
