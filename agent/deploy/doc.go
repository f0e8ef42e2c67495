// Package deploy changes the models (and the binary) of a device on the
// fleet's commands: deploy, rollback and promote of models with their
// canary, update-agent of edged itself, and at start the models the
// store holds. It works on the agent through Host, a small interface the
// agent implements, and talks to the fleet through the agent's link.
//
// # Deploy and rollback
//
// A deploy command carries a signed manifest. The deployer verifies it
// against the root key with the store's highest version as the replay
// bound, fetches the cpu variant (and the edgetpu variant when an Edge
// TPU here would run it) over MQTT (or its https URL) with
// resume, checks its sha256 and size against the manifest, stages it in
// ota/store, loads it and runs a smoke inference on zero inputs within
// ota.smoke_timeout, and only then promotes it and swaps it in; requests
// in flight finish on the old version. At every step a failure leaves the
// old version serving. The states written to the command's status topic:
//
//	downloading (progress, every 10%) -> verified -> staged -> active
//	rejected   the manifest is expired, replayed, unsigned, tampered, ...
//	failed     a download or write error; the command is retried when it
//	           is delivered again (the next reconnect or start)
//	rolled_back the new version did not load or its smoke inference failed
//
// A promoted version is on probation until it has served for
// ota.crash_loop.window without the agent restarting; then it is marked
// good. Restarts within the window after a promotion count towards a
// crash loop (ota/store), which rolls it back on the next start. So a
// model that crashes the agent on real inputs does not keep it down,
// while one that survived the window is not rolled back by later,
// unrelated restarts.
//
// Before a model's first deployment, the config's file is copied into the
// store as the active version (when its version is a number below the new
// one), so that rollback and crash loops have a version to return to.
// From then on the store's active version serves, not the config's file.
//
// Commands are retained and come again after every reconnect and
// restart; the deployer remembers the command ids it finished in
// commands.db beside the store and answers a repeated one with its
// recorded status instead of acting again.
//
// # Shadow and canary
//
// On-device shadow and canary of a deployed model. A deploy
// whose manifest carries a canary policy does not promote after its smoke
// test: the active version keeps serving and the candidate is loaded
// beside it as a rollout, which agent/canary's Machine drives:
//
//	shadow  a sampled share of requests also runs on the candidate, off
//	        the serving path (a bounded queue and one goroutine; a full
//	        queue drops the sample, never delays the answer); outputs are
//	        compared and fed to the machine.
//	canary  the candidate serves canary_fraction of requests, routed by
//	        the request id (the same id always gets the same arm, so
//	        feedback can be attributed); per-arm latency and errors, and
//	        the outcomes posted to /v1/feedback or the feedback topic.
//	promote store.Promote and an atomic swap; status active.
//	rollback the candidate is closed, the store keeps the old version
//	        active (the candidate was only staged); status rolled_back.
//	hold    the active version serves everything until a promote or
//	        rollback command.
//
// Every phase change is written to the deploy command's status topic and
// as an update event. The machine's state is kept in canary.db beside the
// store after every decision and every tick, so a restart resumes the
// evaluation; each start is fed to the machine, whose crash-loop rule
// rolls back a candidate that keeps taking the agent down.
//
// # Self-update
//
// An update-agent command carries a signed manifest of an edged binary;
// ota/selfupdate swaps it in and the new process proves itself healthy
// within its trial, or the old binary comes back.
package deploy
