package qr

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// Cache is an in-memory LRU cache of rendered codes, bounded by the bytes of the images it
// holds, keyed by the text and the (normalized) render options. Each entry has a strong ETag
// derived from its content. Concurrent requests for the same missing entry render it once.
// A Cache is safe for concurrent use.
type Cache struct {
	max    int
	render func(string, RenderOptions) ([]byte, string, error) // Render; tests count calls

	mu       sync.Mutex
	size     int
	lru      *list.List // of *cacheEntry, most recent first
	entries  map[cacheKey]*list.Element
	inflight map[cacheKey]*flight
}

type cacheKey struct {
	text string
	o    RenderOptions
}

type cacheEntry struct {
	key         cacheKey
	body        []byte
	contentType string
	etag        string
}

type flight struct {
	done  chan struct{}
	entry *cacheEntry
	err   error
}

// NewCache returns a cache holding at most maxBytes of images (and their keys). An image larger
// than that is rendered but not kept.
func NewCache(maxBytes int) *Cache {
	return &Cache{
		max:      maxBytes,
		render:   Render,
		lru:      list.New(),
		entries:  map[cacheKey]*list.Element{},
		inflight: map[cacheKey]*flight{},
	}
}

// Get returns the rendered image for text and options, its content type and its ETag (quoted,
// strong: a hash of the body), rendering it on a miss. The body is shared: callers must not
// modify it. Errors are Render's.
func (c *Cache) Get(text string, o RenderOptions) (body []byte, contentType, etag string, err error) {
	o, err = o.normalize()
	if err != nil {
		return nil, "", "", err
	}
	k := cacheKey{text, o}
	c.mu.Lock()
	if el, ok := c.entries[k]; ok {
		c.lru.MoveToFront(el)
		e := el.Value.(*cacheEntry)
		c.mu.Unlock()
		return e.body, e.contentType, e.etag, nil
	}
	if f, ok := c.inflight[k]; ok {
		c.mu.Unlock()
		<-f.done
		if f.err != nil {
			return nil, "", "", f.err
		}
		return f.entry.body, f.entry.contentType, f.entry.etag, nil
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[k] = f
	c.mu.Unlock()

	b, ct, err := c.render(text, o)
	if err == nil {
		sum := sha256.Sum256(b)
		f.entry = &cacheEntry{key: k, body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	}
	f.err = err

	c.mu.Lock()
	delete(c.inflight, k)
	if err == nil {
		c.add(f.entry)
	}
	c.mu.Unlock()
	close(f.done)
	if err != nil {
		return nil, "", "", err
	}
	return f.entry.body, f.entry.contentType, f.entry.etag, nil
}

// entrySize is what an entry counts against the bound.
func entrySize(e *cacheEntry) int {
	return len(e.body) + len(e.key.text) + len(e.etag) + 128
}

// add inserts e and evicts the least recently used entries beyond the bound; c.mu is held.
func (c *Cache) add(e *cacheEntry) {
	n := entrySize(e)
	if n > c.max {
		return
	}
	c.entries[e.key] = c.lru.PushFront(e)
	c.size += n
	for c.size > c.max {
		el := c.lru.Back()
		old := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		delete(c.entries, old.key)
		c.size -= entrySize(old)
	}
}

// Len returns the number of cached images.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Bytes returns the bytes the cached images count against the bound.
func (c *Cache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
