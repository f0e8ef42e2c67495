package recent

import (
	"slices"
	"testing"
)

func TestRing(t *testing.T) {
	r := New[int](3)
	if got := r.Newest(); len(got) != 0 {
		t.Errorf("empty ring Newest() = %v; want nothing", got)
	}
	for i := 1; i <= 5; i++ {
		r.Add(i)
	}
	if got, want := r.Oldest(), []int{3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("Oldest() after 1..5 = %v; want %v", got, want)
	}
	if got, want := r.Newest(), []int{5, 4, 3}; !slices.Equal(got, want) {
		t.Errorf("Newest() after 1..5 = %v; want %v", got, want)
	}
	r.Update(40, func(v int) bool { return v == 4 })
	r.Update(6, func(v int) bool { return v == 99 }) // not held: added, 3 dropped
	if got, want := r.Oldest(), []int{40, 5, 6}; !slices.Equal(got, want) {
		t.Errorf("Oldest() after updates = %v; want %v", got, want)
	}
	if r.Len() != 3 {
		t.Errorf("Len() = %d; want 3", r.Len())
	}
}
