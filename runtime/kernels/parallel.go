package kernels

import (
	"runtime"
	"sync"
)

// parallelTask is work split into nparts independent parts.
type parallelTask interface {
	runPart(part, nparts int)
}

// parallelJob is one part handed to a pool worker. It is sent by value, so
// queueing it does not allocate.
type parallelJob struct {
	task         parallelTask
	part, nparts int
	wg           *sync.WaitGroup
}

// parallelMaxWorkers bounds the pool; more threads than this are clamped.
const parallelMaxWorkers = 64

// parallelPool is one process-wide set of worker goroutines shared by all
// kernels of all interpreters. Workers are started lazily, up to the
// largest Threads-1 ever requested, and live for the life of the process:
// their number is bounded, so no interpreter leaks goroutines, and Eval
// neither spawns goroutines nor allocates.
var parallelPool struct {
	mu      sync.Mutex
	workers int
	jobs    chan parallelJob
}

func parallelWorker(jobs <-chan parallelJob) {
	for j := range jobs {
		j.task.runPart(j.part, j.nparts)
		j.wg.Done()
	}
}

// parallelReserve starts workers so that n parts can run at once (the
// caller runs one of them). Constructors call it so that Eval never has to.
func parallelReserve(n int) {
	n = min(n, parallelMaxWorkers+1)
	if n <= 1 {
		return
	}
	p := &parallelPool
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jobs == nil {
		p.jobs = make(chan parallelJob, parallelMaxWorkers)
	}
	for p.workers < n-1 {
		go parallelWorker(p.jobs)
		p.workers++
	}
}

// parallelMinWork is the least work (multiply-adds) worth handing to
// another goroutine: below it, the hand-off costs more than it saves.
// Tests lower it to split small shapes.
var parallelMinWork = 1 << 17

// parallelThreads is the number of parts to split work of the given
// number of units and multiply-adds into: at most cfg.Threads, at most
// units, at least 1, and no part smaller than parallelMinWork.
func parallelThreads(cfg *Config, units, work int) int {
	n := min(max(cfg.Threads, 1), units, parallelMaxWorkers+1, work/parallelMinWork)
	return max(n, 1)
}

// parallelRun runs t's nparts parts, part 0 on the calling goroutine and
// the others on pool workers (reserved beforehand with parallelReserve),
// and returns when all are done. wg belongs to the caller's kernel so that
// nothing is allocated here.
func parallelRun(t parallelTask, nparts int, wg *sync.WaitGroup) {
	if nparts <= 1 {
		t.runPart(0, 1)
		return
	}
	wg.Add(nparts - 1)
	for i := 1; i < nparts; i++ {
		parallelPool.jobs <- parallelJob{task: t, part: i, nparts: nparts, wg: wg}
	}
	// The send readied a worker in this P's runnext slot, which an idle P
	// steals late or not at all (its spinning Ms give up first): the parts
	// then ran one after the other, and two threads were slower than one.
	// Yielding puts this goroutine on the global queue, which an idle P
	// takes at once, and runs the worker here. A worker that spins for
	// work instead of parking was tried and was slower on a 2-vCPU VM.
	runtime.Gosched()
	t.runPart(0, nparts)
	wg.Wait()
}

// parallelRange is the part-th of nparts near-equal slices of [0, n).
func parallelRange(part, nparts, n int) (lo, hi int) {
	// n and nparts are small (tile and block counts), so the products fit
	// in a 32-bit int.
	return n * part / nparts, n * (part + 1) / nparts
}
