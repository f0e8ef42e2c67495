// Package compress rewrites TFLite models to make them smaller or faster:
// post-training int8 quantization with a calibration set, low-rank
// factorization of fully-connected layers and magnitude pruning. It reads a
// model with runtime/tflite (which verifies the whole file first), edits
// flatc's object form of it (internal/schema) and writes a new file that
// runtime/tflite and TFLite itself load.
package compress
