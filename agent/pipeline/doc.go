// Package pipeline assembles the request pipeline of one model version
// from its stages, each an infer.Middleware that does one job and hands
// the request on:
//
//	metrics → check → drift tap → cache → batcher → executor
//
// Metrics times and counts every request (Prometheus and the telemetry
// counters); check refuses inputs that do not fit the model, once, before
// anything else sees them; the drift tap offers answered requests to the
// model's drift monitor; the cache (agent/cache) answers repeated inputs;
// the batcher (agent/batch.Pool) groups requests; the executor runs each
// batch on the model's delegate chain, whose CPU fallback runs a batch as
// one invocation where the graph allows. A model without accelerators has
// a chain of one CPU link.
//
// Above the pipelines, the agent's router picks the version that serves a
// request (and, during a canary, the arm), and retries on the new version
// a request that met a version being swapped out.
package pipeline
