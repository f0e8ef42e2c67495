// Package canary decides, on the device, whether a candidate model may
// replace the active one. It is a pure state machine: events in,
// decisions out, time from a Clock. No goroutines, no I/O; the agent
// routes requests, runs the models, feeds the machine, acts on its
// decisions and stores its state.
//
// # Phases
//
//	shadow ──Advance──► canary ──Promote──► promoted
//	   │                  │
//	   ├──────────────────┴──Rollback──► rolled_back (reason)
//	   └──────────────────┴──Hold──────► hold ──operator──► promoted | rolled_back
//
// In each phase:
//
//   - shadow: Route marks SampleRate of requests for a shadow run: the
//     candidate runs on the same input, its output is compared with the
//     active model's (Compare: top-1 agreement, mean and max absolute
//     difference of dequantized outputs) and discarded. The active model
//     serves everything.
//   - canary: Route sends CanaryFraction of requests to the candidate,
//     which serves them. Each arm keeps counters, a latency histogram (20
//     buckets a decade, narrowed to the smallest and largest values) and
//     the outcomes applications report (Feedback: right/wrong or a score).
//   - promoted, rolled_back: final. Every later event is ignored.
//   - hold: MaxDuration passed without enough evidence either way. The
//     active model serves everything until an operator calls Resolve.
//
// Route never sends a request to the candidate outside canary and
// promoted, and never both serves and shadows it.
//
// # Events and decisions
//
// Events are method calls: Shadow (a comparison), Served (a canary
// request), Feedback, Tick (time passes), Start (the agent started) and
// Resolve (an operator's promote or rollback). Each returns a Decision
// whose Action is Continue (nothing to do) or Advance, Promote, Rollback,
// Hold; the latter carry a reason written for an operator and the Figures
// behind it.
//
// A phase decides once it has MinSamples of evidence (shadow comparisons;
// requests served by the candidate in canary):
//
//   - shadow: candidate error rate > MaxErrorRate, top-1 disagreement >
//     MaxDisagreement, or a median candidate latency above
//     MaxLatencyRatio × the active median and slower by more than
//     MinLatencyDelta roll back; otherwise Advance. Medians, not means:
//     a collection or page fault in a few runs moves a mean of tens of
//     samples several-fold; the minimum difference keeps a ratio of two
//     tiny latencies (0.9 ms against 0.3 ms) from deciding. Counts that already
//     exceed the limit at MinSamples, whatever follows (one error under
//     the default 1% of 500 is not enough, six are), roll back at once.
//   - canary: error rate and latency ratio as in shadow (per arm, on served
//     requests). Then outcomes: with labels on both arms, the accuracies
//     are compared (Fisher's exact test when an expected cell of the 2×2
//     table is below 5, the pooled two-proportion z-test otherwise); with
//     only scores, the means (Welch's standard error, normal
//     approximation). Significantly worse (one-sided p < 1−Confidence)
//     rolls back; not behind promotes; behind but not significantly
//     waits for more evidence, and holds at MaxDuration rather than
//     promote a candidate that looks worse. Without feedback the
//     guardrails alone promote.
//
// The reason states the A/B result so that it holds at the chosen
// confidence: "candidate accuracy 0.750 vs 0.500 (n=60, 60), z
// p=0.00234 < 0.05: candidate better", or "... p=0.134 >= 0.05: no
// significant difference". The test is repeated as feedback arrives, so
// the real false-alarm rate of a rollback is above 1−Confidence; stopping
// a harmful candidate early is worth that.
//
// A Tick after MaxDuration in one phase holds; the agent ticks every few
// seconds. Only Tick, Start and decisions read the Clock, so the
// per-request path does not.
//
// Start records a start of the agent: CrashLoopStarts starts within
// CrashLoopWindow while in shadow or canary roll back, on the presumption
// that the candidate crashes the agent.
//
// # Sampling
//
// A Sampler hashes a request key (Key hashes a string id) with a seed:
// the same key always gets the same shadow membership and arm, so
// Feedback that arrives later is attributed with ArmOf, and a restart
// does not reshuffle. Route, Shadow and Served do not allocate.
//
// # Policy
//
// A Policy rides in the model bundle; ParsePolicy reads YAML or JSON
// strictly, fills what is missing from DefaultPolicy (min_samples 500,
// sample_rate 0.1, canary_fraction 0.1, max_disagreement 0.05,
// max_latency_ratio 1.5, min_latency_delta 1ms, max_error_rate 0.01, max_duration 24h,
// confidence 0.95, crash_loop_starts 3 in crash_loop_window 10m) and
// validates, naming the field ("policy.canary_fraction: must be in
// (0,1], got 0").
//
// # State
//
// Marshal writes everything needed to resume (policy, seed, phase and
// its start, recent starts, every counter and histogram, the outcome) as
// JSON with "v":1; Restore reads it back strictly and checks that the
// counters are consistent. A restored machine routes and decides exactly
// as the original would have.
//
// A Machine is not safe for concurrent use; the agent serialises events.
package canary
