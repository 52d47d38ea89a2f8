package oidc

import (
	"crypto/sha256"
	"sync"
	"time"
)

// cache keeps verified principals by the SHA-256 of their token, each until
// its token's exp (plus leeway, at most MaxCacheAge), and at most max of
// them. A full cache first drops what has expired, then an arbitrary
// quarter (Go's map order is random), so a flood of distinct valid tokens
// cannot grow it.
type cache struct {
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]cacheEntry
	max int
}

type cacheEntry struct {
	p     *Principal
	until time.Time
}

func newCache(max int) *cache {
	return &cache{m: make(map[[sha256.Size]byte]cacheEntry), max: max}
}

func (c *cache) get(key [sha256.Size]byte, now time.Time) *Principal {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil
	}
	return e.p
}

func (c *cache) put(key [sha256.Size]byte, p *Principal, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.max*3/4 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = cacheEntry{p: p, until: until}
}

func (c *cache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
