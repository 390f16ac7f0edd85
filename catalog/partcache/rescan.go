package partcache

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// rescan loads the entries a previous run left: complete part files become entries
// (checked before first use), temp files of interrupted downloads and part files whose
// size disagrees with their name are deleted. Other files are left alone: the cache
// never deletes what it did not write.
func (c *Cache) rescan() error {
	dirents, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("partcache: open %s: %w", c.dir, err)
	}
	type found struct {
		e     *entry
		mtime time.Time
	}
	var keep []found
	for _, de := range dirents {
		name := de.Name()
		if !de.Type().IsRegular() {
			continue
		}
		if strings.HasPrefix(name, tempPrefix) && strings.HasSuffix(name, tempSuffix) {
			c.drop(name, "an interrupted download")
			continue
		}
		id, size, crc, ok := parseFileName(name)
		if !ok {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		if info.Size() != size || c.entries[id] != nil {
			c.drop(name, fmt.Sprintf("holds %d bytes, its name says %d", info.Size(), size))
			continue
		}
		ready := make(chan struct{})
		close(ready)
		e := &entry{id: id, file: name, size: size, crc: crc, counted: true, ready: ready, cancel: func() {}}
		c.entries[id] = e
		c.bytes += size
		keep = append(keep, found{e, info.ModTime()})
	}
	// Oldest first onto the front, so the newest file ends at the front.
	sort.Slice(keep, func(i, j int) bool { return keep[i].mtime.Before(keep[j].mtime) })
	for _, f := range keep {
		f.e.elem = c.lru.PushFront(f.e)
	}
	return nil
}

// drop deletes a file found at Open that must not be served.
func (c *Cache) drop(name, why string) {
	if err := os.Remove(filepath.Join(c.dir, name)); err != nil && !os.IsNotExist(err) {
		c.log.Warn("partcache: delete", "file", name, "err", err)
		return
	}
	c.stats.Dropped++
	c.log.Debug("partcache: deleted a file left by an earlier run", "file", name, "why", why)
}
