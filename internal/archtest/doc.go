// Package archtest holds the test that keeps edged's imports pointing
// down: the layers of docs/ARCHITECTURE.md, as a table in
// imports_test.go. It has no code of its own.
package archtest
