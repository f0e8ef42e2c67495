// Package schemaobj holds the TFLite flatbuffer bindings with flatc's
// object API (ModelT and friends, Pack and UnPack), generated from
// spec/schema.fbs by scripts/gen-schema.sh. Do not edit.
//
// The accessors trust the buffer: callers must verify it first (load it
// with runtime/tflite); a malformed buffer panics here.
package schemaobj
