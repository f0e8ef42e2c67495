package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/deploy"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/agent/localapi"
	"github.com/edged-dev/edged/fleet"
)

// A local operator's model repository control (Triton's model repository
// extension, through the local API): unloading a model stops serving it
// until it is loaded again or the agent restarts; its files, the model
// store and any rollout are left as they are. Loading serves the version
// the model store names active (the configured file when none is), the
// same one a restart would serve, and under the deployer's lock, so no
// deployment, rollback or canary decision interleaves.

// The Agent is the local API's model repository.
var _ localapi.Repository = (*Agent)(nil)

// unloadedModel is a model a local operator unloaded: since when, and the
// version that serves once it is loaded (as far as this process knows;
// Load reads the store again).
type unloadedModel struct {
	since time.Time
	info  infer.ModelInfo
}

// unloadedError is the answer to a request for an unloaded model, in
// Triton's words: no available versions (not found) when no version is
// named, "not at ready state" (unavailable) for a version.
type unloadedError struct {
	name, version string
	since         time.Time
}

func (e *unloadedError) Error() string {
	again := fmt.Sprintf("unloaded on this device at %s UTC; POST /v2/repository/models/%s/load serves it again", e.since.UTC().Format("15:04:05"), e.name)
	if e.version == "" {
		return fmt.Sprintf("Request for unknown model: '%s' has no available versions (%s)", e.name, again)
	}
	return fmt.Sprintf("'%s' version %s is not at ready state (%s)", e.name, e.version, again)
}

func (e *unloadedError) Is(target error) bool {
	if e.version == "" {
		return target == infer.ErrModelNotFound
	}
	return target == infer.ErrNotReady
}

// parkedVersion stands for the version of an unloaded model in the
// deployer's eyes (Serving): its description, nothing loaded.
type parkedVersion struct{ info infer.ModelInfo }

func (p parkedVersion) Info() infer.ModelInfo { return p.info }
func (p parkedVersion) Handle(context.Context, *infer.Request) (*infer.Response, error) {
	return nil, fmt.Errorf("%w: model %q is unloaded", infer.ErrNotReady, p.info.Name)
}
func (p parkedVersion) Close(context.Context) {}

// knownLocked reports whether name is a configured, served or unloaded model.
// The caller holds mu.
func (a *Agent) knownLocked(name string) bool {
	if a.models[name] != nil || a.unloaded[name] != nil {
		return true
	}
	return slices.ContainsFunc(a.cfg.Models, func(mc config.Model) bool { return mc.Name == name })
}

// RepositoryUnload implements localapi.Repository: the model stops serving.
// Requests its batchers accepted are answered first; later ones get the
// unloaded error. With dependents, an ensemble's members are unloaded
// too. A member of a loaded ensemble is refused. Unloading an unloaded
// model does nothing.
func (a *Agent) RepositoryUnload(ctx context.Context, name string, dependents bool) error {
	a.repoMu.Lock()
	defer a.repoMu.Unlock()
	names := []string{name}
	a.mu.Lock()
	if !a.knownLocked(name) {
		a.mu.Unlock()
		return fmt.Errorf("%w: no model %q on this device", localapi.ErrNoSuchModel, name)
	}
	if mc, ok := a.ConfigModel(name); ok && mc.Ensemble != nil && dependents {
		names = append(names, mc.Ensemble.Members...)
	}
	for _, n := range names {
		if user := a.ensembleUsingLocked(n, names); user != "" {
			a.mu.Unlock()
			return fmt.Errorf("model %q is a member of ensemble %q, which serves; unload %q first (or with unload_dependents)", n, user, user)
		}
	}
	var closing []*servedModel
	now := time.Now()
	for _, n := range names {
		if a.unloaded[n] != nil {
			continue
		}
		u := &unloadedModel{since: now, info: infer.ModelInfo{Name: n}}
		if s := a.models[n]; s != nil {
			u.info = s.info
			closing = append(closing, s)
			delete(a.models, n)
		}
		if a.unloaded == nil {
			a.unloaded = map[string]*unloadedModel{}
		}
		a.unloaded[n] = u
	}
	a.mu.Unlock()
	for _, s := range closing {
		a.modelInfo.DeleteLabelValues(s.info.Name, s.info.Version, s.info.SHA256)
		a.log.Info("model unloaded by a local operator", "model", s.info.Name, "version", s.info.Version)
		a.repositoryEvent("unload", s.info.Name, s.info.Version, "")
		// Requests its batchers accepted finish on it.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.RequestTimeout.D())
			defer cancel()
			s.close(ctx)
		}()
	}
	return nil
}

// ensembleUsingLocked names a serving ensemble, not among leaving, that
// has name as a member ("" when none). The caller holds mu.
func (a *Agent) ensembleUsingLocked(name string, leaving []string) string {
	for _, mc := range a.cfg.Models {
		if mc.Ensemble == nil || a.models[mc.Name] == nil || slices.Contains(leaving, mc.Name) {
			continue
		}
		if slices.Contains(mc.Ensemble.Members, name) {
			return mc.Name
		}
	}
	return ""
}

// RepositoryLoad implements localapi.Repository: the model serves (again) at
// the version the model store names active, checked as at a start, or its
// configured file when the store has none (or for an ensemble, whose
// members must serve). A model that serves is reloaded the same way,
// swapped in without dropping a request. A version that fails to load
// leaves the model as it was: no other version is tried.
func (a *Agent) RepositoryLoad(ctx context.Context, name string) error {
	a.repoMu.Lock()
	defer a.repoMu.Unlock()
	a.mu.RLock()
	known := a.knownLocked(name)
	a.mu.RUnlock()
	if !known {
		return fmt.Errorf("%w: no model %q on this device", localapi.ErrNoSuchModel, name)
	}
	var served *servedModel
	install := func(v deploy.Version) {
		served = v.(*servedModel)
		a.swapIn(served, true)
	}
	mc, configured := a.ConfigModel(name)
	var err error
	if a.ota != nil && !(configured && mc.Ensemble != nil) {
		err = a.ota.ServeActive(ctx, name, install)
	} else if !configured {
		err = fmt.Errorf("model %q is not in the configuration", name)
	} else {
		var v deploy.Version
		if v, err = a.Load(mc); err == nil {
			install(v)
		}
	}
	if err != nil {
		return fmt.Errorf("loading model %q: %w", name, err)
	}
	a.repositoryEvent("load", name, served.info.Version, "")
	return nil
}

// repositoryEvent records a local operator's load or unload (events and
// the status page).
func (a *Agent) repositoryEvent(op, name, version, reason string) {
	det := map[string]any{"op": op, "by": "local API"}
	if version != "" {
		det["version"] = version
	}
	if reason != "" {
		det["reason"] = reason
	}
	b, _ := json.Marshal(det)
	if err := a.event(fleet.Event{Kind: "model", Model: name, Detail: b}); err != nil {
		a.log.Warn("event not queued", "model", name, "err", err)
	}
}

// errUnloadedLocked is the error of a request for an unloaded model (nil when
// it is not unloaded). The caller holds mu.
func (a *Agent) errUnloadedLocked(name, version string) error {
	u := a.unloaded[name]
	if u == nil {
		return nil
	}
	return &unloadedError{name: name, version: version, since: u.since}
}
