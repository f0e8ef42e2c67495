package agent

import (
	"context"
	"fmt"

	"github.com/edged-dev/edged/agent/canary"
	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/deploy"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/fleet"
)

// The Agent is the host agent/deploy changes models on.
var _ deploy.Host = (*Agent)(nil)

// ConfigModel implements deploy.Host.
func (a *Agent) ConfigModel(name string) (config.Model, bool) {
	for _, mc := range a.cfg.Models {
		if mc.Name == name {
			return mc, true
		}
	}
	return config.Model{}, false
}

// Load implements deploy.Host: a version loaded with its pipeline, not
// served.
func (a *Agent) Load(mc config.Model) (deploy.Version, error) {
	s, err := a.prepareModel(mc)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Serve implements deploy.Host. For a model a local operator unloaded, v
// is closed: it is the version that serves once the model is loaded.
func (a *Agent) Serve(v deploy.Version) { a.swapIn(v.(*servedModel), false) }

// Serving implements deploy.Host. For a model a local operator unloaded,
// it is the version that serves once the model is loaded (nothing loaded),
// so that commands naming it apply.
func (a *Agent) Serving(name string) (deploy.Version, bool) {
	a.mu.RLock()
	s, u := a.models[name], a.unloaded[name]
	a.mu.RUnlock()
	switch {
	case s != nil:
		return s, true
	case u != nil && u.info.Version != "":
		return parkedVersion{info: u.info}, true
	}
	return nil, false
}

// Route implements deploy.Host.
func (a *Agent) Route(name string, r *deploy.Rollout) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r == nil {
		delete(a.rollouts, name)
		return
	}
	if a.rollouts == nil {
		a.rollouts = map[string]*deploy.Rollout{}
	}
	a.rollouts[name] = r
}

// BackendPresent implements deploy.Host.
func (a *Agent) BackendPresent(ctx context.Context, name string) bool {
	return a.dl.present(ctx, name)
}

// Birth implements deploy.Host.
func (a *Agent) Birth() fleet.State { return a.birth() }

// Note implements deploy.Host.
func (a *Agent) Note(name, reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if reason == "" {
		delete(a.notes, name)
		return
	}
	if a.notes == nil {
		a.notes = map[string]string{}
	}
	a.notes[name] = reason
}

// Feedback takes an application's outcome for a request served during a
// canary (POST /v1/feedback).
func (a *Agent) Feedback(ctx context.Context, f canary.RequestFeedback) error {
	if a.ota == nil {
		return fmt.Errorf("%w: this device takes no deployments", canary.ErrNoCanary)
	}
	return a.ota.Feedback(ctx, f)
}

// EnableSelfUpdate takes update-agent commands on the fleet link when
// ota: is enabled, confirms a binary on trial once the agent is healthy
// (or rolls it back at its deadline and restarts), and reports an outcome
// the previous process could not. Call it once, before Run; the watch
// ends with ctx.
func (a *Agent) EnableSelfUpdate(ctx context.Context, su deploy.SelfUpdate) error {
	if a.ota != nil && su.Updater != nil {
		// The highest version installed, kept beside the models' floors:
		// a lost updater state file never lets an older binary in.
		su.Updater.Floor, su.Accepted = a.ota.AgentVersion, a.ota.RecordAgentVersion
	}
	return deploy.EnableSelfUpdate(ctx, a.cfg, a.link, a.updateHealthy, a.log, su)
}

// updateHealthy is the new binary's test: every model served, the
// inference path not stuck, and, with a fleet, the broker reached, since
// a binary that cannot take the next update must not be kept.
func (a *Agent) updateHealthy() bool {
	select {
	case <-a.ready:
	default:
		return false
	}
	if ok, _ := a.Healthy(); !ok || !a.Ready() {
		return false
	}
	return a.link == nil || a.link.Client().Stats().Connected
}

// Info implements deploy.Version.
func (s *servedModel) Info() infer.ModelInfo { return s.info }

// Handle implements deploy.Version: the version's pipeline.
func (s *servedModel) Handle(ctx context.Context, req *infer.Request) (*infer.Response, error) {
	return s.handler.Handle(ctx, req)
}

// Close implements deploy.Version.
func (s *servedModel) Close(ctx context.Context) { s.close(ctx) }
