package deploy

import (
	"context"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/ota/store"
	"github.com/edged-dev/edged/ota/transfer"
)

// Phase is the candidate's phase now.
func (r *Rollout) Phase() canary.Phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m.Phase()
}

// ArmOf is the arm that serves a request with this id in canary.
func (r *Rollout) ArmOf(id string) canary.Arm {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m.ArmOf(canary.Key(id))
}

// StoredModel is the store's record of a model.
func (d *Deployer) StoredModel(name string) (store.Model, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.Model(name)
}

// OnProgress makes f see every download progress, on the command
// handler's goroutine (a progress display; tests). Set it before the
// agent runs.
func (d *Deployer) OnProgress(f func(context.Context, transfer.Progress)) { d.onProgress = f }

// WrapStore puts wrap's Store between the deployer and ota/store until
// restore is called: tests inject write errors with it.
func (d *Deployer) WrapStore(wrap func(Store) Store) (restore func()) {
	d.mu.Lock()
	d.st = wrap(d.st)
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		d.st = d.db
		d.mu.Unlock()
	}
}
