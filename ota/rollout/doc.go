// Package rollout plans and drives the rollout of a model to a fleet in
// waves, for "edgectl rollout". The planner (Rollout) is pure: events in
// (a device's status report, a tick), decisions out, time from a Clock.
// The Driver connects it to the broker: it sends the deploy and rollback
// commands over MQTT, feeds back the status each device writes, and
// stores the planner's state in a File after every event so that a new
// Driver on the same file ("edgectl rollout resume") continues after the
// process dies.
//
// # Plan
//
// Waves are cumulative targets, counts or percentages of the fleet
// ("1,5%,25%,100%"): wave k brings the number of updated devices up to its
// target, rounded up, and adds at least one device while any remain (so
// 5% of 10 devices after a first wave of 1 is one more device, not none);
// waves left with nothing to add are dropped. A plan that stops short of
// 100% leaves the rest of the fleet alone. For 200 devices the default
// waves are 1, 9, 40 and 150 devices; for 1000, 1, 49, 200 and 750.
//
// Devices are put in waves at New, in id order or in a shuffle fixed by
// Plan.Seed (splitmix64 Fisher–Yates over the sorted ids: the same on
// every platform, whatever order the ids came in).
//
// # Devices
//
// Each device is pending (not sent the deploy), deploying, or has an
// outcome: active (serving the model), rolled_back (its own canary
// rejected the model), failed (it reported an error) or timeout (silent
// for DeviceTimeout since the deploy or its last report). rolled_back,
// failed and timeout are failures. A report after a timeout replaces it.
//
// # Decisions
//
// After every event the rollout, while running:
//
//   - starts wave 0 on the first event (StartWave with its device ids);
//   - aborts when at least AbortAfter devices have an outcome and the
//     failures among them exceed AbortFailures (Abort);
//   - starts the next wave as soon as ceil(Success × wave size) devices
//     of the current one are active (StartWave);
//   - aborts when the current wave can no longer reach that many (its
//     active plus deploying devices are too few);
//   - finishes when the last wave has succeeded and no device is still
//     deploying (Finish).
//
// Abort names every device that was sent the deploy and has not rolled
// back by itself, failed and timed-out ones included (they may hold a
// half-installed model): edgectl sends each a rollback. After Abort or
// Finish, reports are still recorded, for the status view, but decide
// nothing.
//
// # State
//
// Marshal writes the plan, the wave sizes, every device's wave, status,
// time and reason, the phase and the reason it ended, as JSON with
// "v":1. Restore reads it back strictly and checks it for consistency.
package rollout
