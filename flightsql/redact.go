package flightsql

import (
	"slices"
	"strings"
	"sync"
)

// No client learns the server's filesystem layout: not the dataset root, not DuckDB's
// temporary directory. Catalog and engine errors can carry such paths (DuckDB names
// the file a view could not read; an os.PathError names what it could not open), so
// toStatus, where every domain error becomes a client's message, replaces each with
// a label. SQL functions that show paths are refused by the engine's sandbox.

// hiddenPaths are the paths messages must not show, each with the label shown instead.
var hiddenPaths = &pathRedactor{}

type pathRedactor struct {
	mu    sync.RWMutex
	paths []hiddenPath // longest first, so that a path inside another is replaced whole
}

type hiddenPath struct{ path, label string }

// hide adds path (if not empty and not already hidden) under label.
func (r *pathRedactor) hide(path, label string) {
	path = strings.TrimRight(path, "/")
	if path == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.ContainsFunc(r.paths, func(h hiddenPath) bool { return h.path == path }) {
		return
	}
	r.paths = append(r.paths, hiddenPath{path, label})
	slices.SortFunc(r.paths, func(a, b hiddenPath) int { return len(b.path) - len(a.path) })
}

// redact replaces every hidden path in msg with its label.
func (r *pathRedactor) redact(msg string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, h := range r.paths {
		msg = strings.ReplaceAll(msg, h.path, h.label)
	}
	return msg
}
