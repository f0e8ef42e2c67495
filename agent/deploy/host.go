package deploy

import (
	"context"

	"github.com/edged-dev/edged/agent/config"
	"github.com/edged-dev/edged/agent/infer"
	"github.com/edged-dev/edged/fleet"
)

// Version is one loaded version of a model: serving, a candidate under
// evaluation, or just loaded.
type Version interface {
	// Handle runs a request through the version's pipeline.
	infer.Handler
	Info() infer.ModelInfo
	// Close stops the version once the requests it accepted are
	// answered, or ctx ends.
	Close(ctx context.Context)
}

// Host is what the deployer needs of the agent it deploys to (the agent
// implements it): the configured models, loading and serving versions,
// routing a model's requests through a canary, and the device's state.
type Host interface {
	// ConfigModel is the configured model named name.
	ConfigModel(name string) (config.Model, bool)
	// Load loads a model version and runs its smoke inference, without
	// serving it.
	Load(mc config.Model) (Version, error)
	// Serve serves v (which Load returned) in place of the version of its
	// model serving now; requests in flight finish on the old one.
	Serve(v Version)
	// Serving is the version of the model named name serving now.
	Serving(name string) (Version, bool)
	// Route sends the requests for the model named name that name no
	// version through r, or stops doing so when r is nil.
	Route(name string, r *Rollout)
	// BackendPresent reports whether the backend named name is on this
	// host now (the edgetpu variant is fetched only then).
	BackendPresent(ctx context.Context, name string) bool
	// Birth is the device's state, as its retained birth message says it.
	Birth() fleet.State
	// Note sets the reason shown in the status of the model named name
	// (why a version other than the deployed one serves); "" clears it.
	Note(name, reason string)
}
