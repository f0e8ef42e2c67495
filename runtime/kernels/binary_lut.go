package kernels

// lutMinElems is the output size from which an 8-bit binary operator
// runs from a full 256×256 table of results (binary8.go): building it at
// Prepare costs 65 536 evaluations of its arithmetic (about 0.3 ms) and
// 64 KiB, after which every element is
// one load instead of about 4 ns of requantization, so the table has paid
// for itself after some 20 invocations of a 4096-element op — a daemon
// runs millions. A variable so that tests can take the table path on small
// tensors.
var lutMinElems = 1 << 12
