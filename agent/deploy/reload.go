package deploy

import (
	"context"
	"errors"
	"fmt"
)

// ServeActive loads the model named name again, as a local operator's
// load asks: the version the store names active, its files checked as at
// a start, or without one the configured model; install serves what
// loaded. The deployer's lock is held throughout, so no deployment,
// rollback or canary decision changes the model between reading the
// store and serving. Unlike a start, a version that fails its check or
// its load is neither dropped nor replaced by another: the error is
// returned and nothing changes.
func (d *Deployer) ServeActive(ctx context.Context, name string, install func(Version)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("the agent is stopping")
	}
	m, ok, err := d.st.Model(name)
	if err != nil {
		return err
	}
	mc, configured := d.host.ConfigModel(name)
	switch {
	case ok && m.Active != 0:
		if err := d.checkStored(name, m.Active); err != nil {
			return err
		}
		mc = d.modelConfig(name, m.Active)
	case !configured:
		return fmt.Errorf("model %q has no active version in the model store and is not in the configuration", name)
	}
	v, err := d.prepare(ctx, mc)
	if err != nil {
		return err
	}
	install(v)
	return nil
}
