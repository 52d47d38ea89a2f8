package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryCap is how many callers a [Memory] store holds at most: 131 072,
// about 4 MB. A caller costs nothing once its window has passed (its burst
// refilled): it is forgotten by the next sweep. When a flood of
// distinct callers fills a shard, a new caller evicts an expired one if the
// few it looks at include one, otherwise any one: that caller's next request
// finds a full burst, so under such a flood the limit errs open for a few
// callers rather than letting memory grow.
const MemoryCap = 1 << 17

const memShards = 64

// Memory is a [Store] in this process's memory: each replica of a fleet
// keeps its own, so N replicas allow about N times the limit. Keys are
// hashed to 64 bits with a per-process seed.
type Memory struct {
	seed     maphash.Seed
	perShard int
	// nextSweep is when the next Take forgets every expired caller (Unix ns).
	nextSweep atomic.Int64
	shards    [memShards]memShard
}

type memShard struct {
	mu  sync.Mutex
	tat map[uint64]int64 // key hash → TAT in Unix nanoseconds
	_   [48]byte         // keep shards on separate cache lines
}

// NewMemory returns an empty store that holds at most MemoryCap callers.
func NewMemory() *Memory { return newMemory(MemoryCap) }

func newMemory(capacity int) *Memory {
	m := &Memory{seed: maphash.MakeSeed(), perShard: max(capacity/memShards, 1)}
	for i := range m.shards {
		m.shards[i].tat = make(map[uint64]int64)
	}
	return m
}

// Take runs one GCRA step for key at now. It never fails.
func (m *Memory) Take(_ context.Context, key string, now time.Time, p Policy) (Decision, error) {
	n := now.UnixNano()
	if next := m.nextSweep.Load(); n >= next && m.nextSweep.CompareAndSwap(next, n+int64(max(p.window(), time.Second))) {
		m.sweep(n)
	}
	h := maphash.String(m.seed, key)
	s := &m.shards[h%memShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	tat, known := s.tat[h]
	d, next := step(tat, n, p)
	if d.Allowed {
		if !known && len(s.tat) >= m.perShard {
			s.evict(n)
		}
		s.tat[h] = next
	}
	return d, nil
}

// sweep forgets the callers whose burst has refilled by now: once per
// window (at least a second), one shard at a time, so that an idle caller
// costs nothing after its window; about 1 ms at the cap.
func (m *Memory) sweep(now int64) {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for k, tat := range s.tat {
			if tat <= now {
				delete(s.tat, k)
			}
		}
		s.mu.Unlock()
	}
}

// evict makes room for one caller: an expired one among the first few the
// map's random iteration order yields, or else the first of them.
func (s *memShard) evict(now int64) {
	const look = 8
	var first uint64
	i := 0
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
			return
		}
		if i == 0 {
			first = k
		}
		if i++; i == look {
			break
		}
	}
	delete(s.tat, first)
}

// Len is how many callers the store holds.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}
