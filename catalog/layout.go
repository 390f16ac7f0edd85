package catalog

// On-disk layout
//
// A dataset named N lives at <root>/N, in one of two forms:
//
//   - a single Parquet file. This is what Put writes, and what a person copying
//     sales.parquet into the root creates.
//   - a directory of Parquet parts. Append turns a dataset into this form; a person may
//     also drop in a directory of *.parquet files. When the directory holds a manifest
//     (_quiver_manifest.json, written by the store) the manifest lists the parts in read
//     order and is the only truth: parts not in it are invisible, and are leftovers of a
//     crash or files still being read by an older query. Without a manifest every
//     *.parquet regular file in the directory is a part, in lexical order.
//
// Part files the store writes are never rewritten or reused: every write gets a fresh
// name. A new version becomes visible through one rename (of the file, of the manifest,
// or an atomic exchange of file and directory), so a reader sees either the old or the
// new version, never a mix. Files that a version no longer uses are retired: deleted
// once no pinned reader may still need them (see reclaim.go).
//
// The layout needs only files, directories and renames, so it can later live on object
// storage with a conditional put of the manifest standing in for the rename.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// manifest is the content of a multi-part dataset's _quiver_manifest.json.
type manifest struct {
	// Parts are file names inside the dataset directory, in read order.
	Parts []string `json:"parts"`
}

// layout is where a dataset's bytes are right now.
type layout struct {
	path     string   // <root>/<name>
	dir      bool     // multi-part form
	manifest bool     // dir has a manifest
	parts    []string // absolute part paths in read order
	// fingerprint changes whenever a part is added, removed, replaced or rewritten.
	fingerprint string
	bytes       int64
	modified    time.Time
}

// resolve reads the layout of the dataset at path. It returns an error wrapping
// fs.ErrNotExist when nothing is there.
func resolve(path string) (layout, error) {
	st, err := os.Stat(path)
	if err != nil {
		return layout{}, err
	}
	l := layout{path: path}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return layout{}, fmt.Errorf("%w: %s is not a regular file", ErrUnreadable, filepath.Base(path))
		}
		l.parts = []string{path}
		l.bytes = st.Size()
		l.modified = st.ModTime()
		l.fingerprint = fileFingerprint(st)
		return l, nil
	}
	l.dir = true
	names, hasManifest, err := partNames(path)
	if err != nil {
		return layout{}, err
	}
	l.manifest = hasManifest
	var fp strings.Builder
	for _, n := range names {
		p := filepath.Join(path, n)
		pst, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			now, derr := os.Stat(path)
			if derr != nil {
				return layout{}, derr // the dataset went away (dropped) while we looked
			}
			if !now.IsDir() || !os.SameFile(now, st) {
				// Dropped and put again as a file or a new directory while we looked:
				// the caller looks again.
				return layout{}, fmt.Errorf("dataset %s changed while it was read: %w", filepath.Base(path), fs.ErrNotExist)
			}
			// The directory is there but a part it lists is not: the dataset is
			// broken, not missing. (Parts of the version read are pinned, so this is
			// not a concurrent replace.)
			return layout{}, fmt.Errorf("%w: part %s of %s is missing", ErrUnreadable, n, filepath.Base(path))
		}
		if err != nil {
			return layout{}, fmt.Errorf("part %s of %s: %w", n, filepath.Base(path), err)
		}
		l.parts = append(l.parts, p)
		l.bytes += pst.Size()
		if pst.ModTime().After(l.modified) {
			l.modified = pst.ModTime()
		}
		fp.WriteString(n)
		fp.WriteString(fileFingerprint(pst))
	}
	if len(l.parts) == 0 {
		return layout{}, fmt.Errorf("%w: directory %s holds no Parquet parts", ErrUnreadable, filepath.Base(path))
	}
	l.fingerprint = fp.String()
	return l, nil
}

// partNames lists the parts of a multi-part dataset directory in read order.
func partNames(dir string) (names []string, hasManifest bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	switch {
	case err == nil:
		var m manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, true, fmt.Errorf("%w: manifest of %s: %v", ErrUnreadable, filepath.Base(dir), err)
		}
		for _, p := range m.Parts {
			if p == "" || p != filepath.Base(p) || p[0] == '.' {
				return nil, true, fmt.Errorf("%w: manifest of %s names part %q", ErrUnreadable, filepath.Base(dir), p)
			}
		}
		return m.Parts, true, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, err
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), parquetSuffix) && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, false, nil
}

// newPartName returns a fresh part file name; names sort in creation order.
func newPartName() string {
	return fmt.Sprintf("part-%020d-%s%s", time.Now().UnixNano(), randomSuffix()[:8], parquetSuffix)
}

func fileFingerprint(st fs.FileInfo) string {
	return fmt.Sprintf("%d/%d/%v;", st.Size(), st.ModTime().UnixNano(), inode(st))
}
