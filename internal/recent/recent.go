// Package recent keeps the last N values of something (events, command
// statuses, samples of a figure) in a fixed ring, for status pages.
package recent

import "sync"

// Ring holds the last Cap values added. Its methods are safe for
// concurrent use; the zero Ring holds nothing (use New).
type Ring[T any] struct {
	mu   sync.Mutex
	buf  []T
	next int
	full bool
}

// New returns a ring of n values (n ≥ 1).
func New[T any](n int) *Ring[T] {
	return &Ring[T]{buf: make([]T, max(n, 1))}
}

// Add appends v, dropping the oldest value when the ring is full.
func (r *Ring[T]) Add(v T) {
	r.mu.Lock()
	r.buf[r.next] = v
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// Update replaces the newest value for which match is true with v, or
// adds v when there is none; it keeps the ring's order otherwise.
func (r *Ring[T]) Update(v T, match func(T) bool) {
	r.mu.Lock()
	n := r.lenLocked()
	for i := 1; i <= n; i++ {
		j := (r.next - i + len(r.buf)) % len(r.buf)
		if match(r.buf[j]) {
			r.buf[j] = v
			r.mu.Unlock()
			return
		}
	}
	r.mu.Unlock()
	r.Add(v)
}

func (r *Ring[T]) lenLocked() int {
	if r.full {
		return len(r.buf)
	}
	return r.next
}

// Len is the number of values held.
func (r *Ring[T]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lenLocked()
}

// Oldest returns the values held, oldest first.
func (r *Ring[T]) Oldest() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.lenLocked()
	out := make([]T, n)
	for i := range n {
		out[i] = r.buf[(r.next-n+i+len(r.buf))%len(r.buf)]
	}
	return out
}

// Newest returns the values held, newest first.
func (r *Ring[T]) Newest() []T {
	out := r.Oldest()
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
