// Package selfupdate replaces the running edged binary with a signed new
// one and takes it back if the new one does not become healthy.
//
// # Names and versions
//
// An agent manifest (ota/sign, kind "agent") is named "edged" and holds
// one blob per platform, named by Variant: "linux-amd64", "linux-arm64",
// "linux-armv7", "linux-armv6" (GOOS-GOARCH, with GOARM spelled out for
// 32-bit ARM). Release files are named edged-VARIANT, and edgectl
// update-agent derives the variant from that name.
//
// The manifest version is the release "MAJOR.MINOR.PATCH" packed into one
// integer, MAJOR*1000000 + MINOR*1000 + PATCH (ParseVersion), so the
// replay bound of ota/sign orders releases: a device refuses a manifest not
// newer than the binary it runs. A build whose version is not a release
// ("dev") counts as 0 and accepts any signed update.
//
// # One update
//
//	Verify    signature chain, kind "agent", name "edged", not expired,
//	          newer than the running binary, not rolled back here before,
//	          a blob for this Variant
//	Apply     sha256 and size of the download against the manifest;
//	          state file: pending {version, deadline, starts: 0, old path};
//	          minio/selfupdate writes .edged.new (checking the sha256 again),
//	          fsync, renames edged -> edged.old and .edged.new -> edged,
//	          directory fsync
//	(exit)    the caller exits with ExitRestart; systemd starts the new file
//	Check     at the next start, before the configuration is read: counts
//	          the start; past the deadline or MaxStarts, renames edged.old
//	          back over edged and returns ErrRestart; else returns a Trial
//	Trial     Wait polls the agent's health: healthy -> Confirm (pending
//	          dropped, edged.old kept until the next update); deadline ->
//	          rollback and ErrRestart
//
// The pending record is written before the swap, so a crash at any point
// leaves either the old binary (Check sees a version that is not the
// pending one and records the update as failed) or the new one under
// watch. A new binary that reports another version than its manifest
// (recognised by its sha256) was mislabelled at release and is rolled
// back at its first start. A binary that crashes before it is healthy is restarted by
// systemd and counted by Check; one that hangs is killed by the watchdog
// and counted, or rolled back by Wait at the deadline.
//
// # State
//
// The state file (StateFile, JSON) lives beside the executable by default,
// in a directory that must be writable for the swap anyway, and is
// replaced atomically (temporary file, fsync, rename, directory fsync). It
// also keeps the last outcome, so that the command that caused a restart
// can be answered after it, and a rolled-back version is not installed
// again when its retained command comes back.
//
// # What it does not handle
//
// A new binary that dies before main reaches Check (a bad ELF, a panic in
// an init function) is never counted: systemd's StartLimitBurst stops it
// and the device needs edged.old restored by hand or by an OnFailure unit.
// minio/selfupdate swaps with two renames; a power cut between them leaves
// no file at the executable's path, only edged.old.
package selfupdate
