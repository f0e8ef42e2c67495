// Package transfer moves blobs (models, agent binaries) from the operator
// to devices over MQTT, as retained chunks a device can fetch at its own
// pace and resume after any crash.
//
// # On the broker
//
//	edged/v1/blob/{sha256}/{index}   retained, QoS 1: raw bytes [index*chunk_size, ...)
//	edged/v1/blob/{sha256}/meta      retained, QoS 1: fleet.BlobMeta {"v":1,"sha256","size","chunk_size","count"}
//
// Publish writes the chunks and then the meta; Clear empties them again
// (edgectl gc). Retained messages make the broker the file server: a
// device that is offline during the push fetches later, and twenty
// devices cost the operator one upload. See DefaultChunkSize for the
// choice of 64 KiB.
//
// # On the device
//
// Receiver.Fetch subscribes to the chunks it still lacks, a window at a
// time and at QoS 0 (a lost chunk is asked for again; no broker keeps
// per-chunk acknowledgement state), writes each at its offset in {sha256}.part and records it in
// {sha256}.bitmap, which is written atomically after the part file is
// fsynced, every SyncEvery chunks and on exit. After a crash the bitmap
// may lag the part file, never lead it, so a resumed Fetch fetches again
// at most the SyncEvery chunks not yet recorded and the Window chunks that
// were in flight, never one the bitmap holds. FetchURL fills the same
// files from an https URL with Range requests. The assembled file must have the sha256 it was published
// under; a mismatch discards it. The sha256 only says the blob is the one
// named: whether it is one to install is for the signed manifest
// (ota/sign) to say.
package transfer
