package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/edged-dev/edged/fleet"
	"github.com/edged-dev/edged/ota/bundle"
	"github.com/edged-dev/edged/ota/sign"
)

// checkStored verifies a version's files before they are loaded: every
// file against the sha256 the store recorded when it staged it, and for a
// deployed version (one with a manifest; a configured file adopted before
// the first deployment has none) the manifest's signature and the model
// files' sha256 against it. Bytes flipped on the disk, a file replaced or
// a manifest edited are caught here, not served.
func (d *Deployer) checkStored(name string, version uint64) error {
	sums, err := d.db.Verify(name, version)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(d.st.Path(name, version, fileManifest))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("model %s version %d: %w", name, version, err)
	}
	m, err := sign.VerifyStored(raw, d.root, sign.KindModel, name, nil)
	if err != nil {
		return fmt.Errorf("model %s version %d: %w", name, version, err)
	}
	if m.Version != version {
		return fmt.Errorf("model %s version %d: %w: the stored manifest is of version %d", name, version, sign.ErrMismatch, m.Version)
	}
	for _, f := range []struct{ variant, file string }{{bundle.VariantCPU, FileModel}, {bundle.VariantEdgeTPU, fileEdgeTPU}} {
		sum, stored := sums[f.file]
		b, signed := m.Blob(f.variant)
		switch {
		case !stored && f.variant == bundle.VariantCPU:
			return fmt.Errorf("model %s version %d: no %s in the store", name, version, f.file)
		case !stored:
		case !signed:
			return fmt.Errorf("model %s version %d: %w: %s is stored but the manifest has no %s variant", name, version, sign.ErrDigestMismatch, f.file, f.variant)
		case sum != b.SHA256:
			return fmt.Errorf("model %s version %d: %w: %s has sha256 %s; the signed manifest says %s", name, version, sign.ErrDigestMismatch, f.file, sum, b.SHA256)
		}
	}
	return nil
}

// prepareStored checks a version's files and loads it.
func (d *Deployer) prepareStored(ctx context.Context, name string, version uint64) (Version, error) {
	if err := d.checkStored(name, version); err != nil {
		return nil, err
	}
	return d.prepare(ctx, d.modelConfig(name, version))
}

// serveStoredModel serves the store's active version of a model, checked
// first. A version whose files are damaged, or that does not load, is
// dropped (it can never be installed again: the store keeps its version
// as the floor) for the previous version, and that one the same way; with
// neither, the configured file serves (ok false). Each fallback is an
// event and the model's status reason.
func (d *Deployer) serveStoredModel(name string) (Version, bool) {
	for {
		m, ok, err := d.st.Model(name)
		if err != nil || !ok || m.Active == 0 {
			return nil, false
		}
		err = d.checkStored(name, m.Active)
		if err == nil {
			s, err := d.prepare(context.Background(), d.modelConfig(name, m.Active))
			if err == nil {
				if !m.Good {
					d.probation(name, m.Active, m.Changed)
				}
				return s, true
			}
			// Its files are intact, so the cause is this run's (memory,
			// a backend); the store keeps it for the next start.
			d.fallback(name, m.Active, err, "the configured model")
			return nil, false
		}
		next, derr := d.db.Drop(name, m.Active)
		if derr != nil {
			d.fallback(name, m.Active, err, "the configured model")
			d.log.Error("cannot drop the version that cannot serve", "model", name, "version", m.Active, "err", derr)
			return nil, false
		}
		to := "the configured model"
		if next.Active != 0 {
			to = fmt.Sprintf("version %d", next.Active)
		}
		d.fallback(name, m.Active, err, to)
	}
}

// fallback reports that a stored version cannot serve and what serves
// instead: in the log, as an event and as the model's status reason.
func (d *Deployer) fallback(name string, version uint64, err error, to string) {
	reason := fmt.Sprintf("version %d cannot serve (%v); serving %s", version, err, to)
	d.log.Error("stored model version cannot serve; falling back", "model", name, "version", version, "to", to, "err", err)
	d.event(fleet.Event{Kind: "error", Model: name, Detail: detail(map[string]any{
		"op": "start", "version": version, "check": sign.Check(err), "reason": reason,
	})})
	d.host.Note(name, reason)
}
