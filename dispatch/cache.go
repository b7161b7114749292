package dispatch

import "sync"

// flight is a small bounded cache whose misses are filled once however many
// goroutines ask at the same moment: the first fills, the others wait for
// its result. Entries leave in insertion order when the cache is full;
// failed fills are not kept.
type flight[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	items map[K]*flightEntry[V]
	order []K // insertion order, oldest first; may name keys already gone
}

type flightEntry[V any] struct {
	done chan struct{}
	val  V
	err  error
}

func newFlight[K comparable, V any](max int) *flight[K, V] {
	return &flight[K, V]{max: max, items: make(map[K]*flightEntry[V], max)}
}

// get returns the value of k, calling fill on a miss.
func (f *flight[K, V]) get(k K, fill func() (V, error)) (V, error) {
	f.mu.Lock()
	if e, ok := f.items[k]; ok {
		f.mu.Unlock()
		<-e.done
		return e.val, e.err
	}
	e := &flightEntry[V]{done: make(chan struct{})}
	f.items[k] = e
	f.order = append(f.order, k)
	f.evict()
	f.mu.Unlock()

	e.val, e.err = fill()
	close(e.done)
	if e.err != nil {
		f.forget(k, e)
	}
	return e.val, e.err
}

// evict drops the oldest entries past the bound. Waiters already holding an
// evicted entry still get its value.
func (f *flight[K, V]) evict() {
	drop := 0
	for len(f.items) > f.max && drop < len(f.order) {
		delete(f.items, f.order[drop])
		drop++
	}
	// Dropping from the front is a reslice: a full cache drops one entry
	// per insert, and compacting each time would cost a pass over all.
	clear(f.order[:drop])
	f.order = f.order[drop:]
	if len(f.order) <= 2*f.max {
		return
	}
	// Compact: keep only keys still present, so order stays bounded even
	// when forgotten keys leave holes in it.
	kept := f.order[:0]
	for _, k := range f.order {
		if _, ok := f.items[k]; ok {
			kept = append(kept, k)
		}
	}
	clear(f.order[len(kept):])
	f.order = kept
}

// forget removes k if it still holds e.
func (f *flight[K, V]) forget(k K, e *flightEntry[V]) {
	f.mu.Lock()
	if f.items[k] == e {
		delete(f.items, k)
	}
	f.mu.Unlock()
}

// drop removes k whatever it holds (a value found out of date).
func (f *flight[K, V]) drop(k K) {
	f.mu.Lock()
	delete(f.items, k)
	f.mu.Unlock()
}
