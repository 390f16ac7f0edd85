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
// The layout lives in a storage.Bucket: a key per file, a key prefix per directory.
// On the local backend the store commits with its filesystem operations (renames, an
// atomic exchange; see commitfile.go). On a bucket without them every dataset the store
// writes is a directory of parts, and a conditional write of the manifest (WriteIf) is
// the commit (commitmanifest.go). A manifest that lists no parts is a dropped dataset.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/quiverdata/quiver/catalog/storage"
)

// errNoParts is a directory with neither a manifest nor parts.
var errNoParts = errors.New("holds no Parquet parts")

// manifest is the content of a multi-part dataset's _quiver_manifest.json.
type manifest struct {
	// Parts are paths relative to the dataset directory, in read order: file names,
	// or file names under hive-style partition directories ("year=2024/part-0.parquet").
	Parts []string `json:"parts"`
	// Retired are parts a replace or drop took out on object storage, kept for the
	// store's retired grace so that readers on other nodes finish (retired.go).
	Retired []retiredPart `json:"retired,omitempty"`
}

// layout is where a dataset's bytes are right now.
type layout struct {
	key      string   // the dataset's key: its name
	dir      bool     // multi-part form
	manifest bool     // dir has a manifest
	parts    []string // part keys in read order
	// manifestVersion is the version of the manifest read ("" without one): the
	// precondition of a manifest commit.
	manifestVersion string
	// fingerprint changes whenever a part is added, removed, replaced or rewritten.
	fingerprint string
	// versions are the storage versions of parts, as Stat saw them.
	versions []string
	bytes    int64
	modified time.Time
}

// resolve reads the layout of the dataset name. It returns an error wrapping
// fs.ErrNotExist when nothing is there. listed, when not nil, is name's entry as a
// List just returned it, which saves a Stat.
//
// known, when not nil, returns the layout last resolved for a manifest version:
// given one for the manifest just read, resolve returns it without a Stat per part.
// Only for object storage, where parts are immutable objects under fresh keys that
// only the store writes, so the manifest's version fixes every part's bytes.
func resolve(ctx context.Context, b storage.Bucket, name string, listed *storage.Entry, known func(manifestVersion string) (layout, bool)) (layout, error) {
	var st storage.Entry
	var err error
	if listed != nil {
		st = *listed
	} else {
		st, err = b.Stat(ctx, name)
	}
	if errors.Is(err, fs.ErrInvalid) {
		return layout{}, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if err != nil {
		return layout{}, err
	}
	l := layout{key: name}
	if !st.Dir {
		l.parts = []string{name}
		l.bytes = st.Size
		l.modified = st.ModTime
		l.fingerprint = st.Version + ";"
		l.versions = []string{st.Version}
		return l, nil
	}
	l.dir = true
	names, mversion, err := partNames(ctx, b, name)
	if err != nil {
		return layout{}, err
	}
	l.manifest = mversion != ""
	l.manifestVersion = mversion
	if l.manifest && len(names) == 0 {
		// A dropped dataset, or one whose first put has not committed.
		return layout{}, fmt.Errorf("dataset %s was dropped: %w", name, fs.ErrNotExist)
	}
	if len(names) == 0 {
		return layout{}, fmt.Errorf("%w: directory %s %w", ErrUnreadable, name, errNoParts)
	}
	if l.manifest && known != nil {
		if prev, ok := known(mversion); ok {
			return prev, nil
		}
	}
	var fp strings.Builder
	for _, n := range names {
		key := name + "/" + n
		pst, err := b.Stat(ctx, key)
		if errors.Is(err, fs.ErrNotExist) {
			now, derr := b.Stat(ctx, name)
			if derr != nil {
				return layout{}, derr // the dataset went away (dropped) while we looked
			}
			if !now.Dir || now.Version != st.Version {
				// Dropped and put again as a file or a new directory while we looked:
				// the caller looks again.
				return layout{}, fmt.Errorf("dataset %s changed while it was read: %w", name, fs.ErrNotExist)
			}
			// The directory is there but a part it lists is not: the dataset is
			// broken, not missing. (Parts of the version read are pinned, so this is
			// not a concurrent replace.)
			return layout{}, fmt.Errorf("%w: part %s of %s is missing", ErrUnreadable, n, name)
		}
		if err != nil {
			return layout{}, fmt.Errorf("part %s of %s: %w", n, name, err)
		}
		if pst.Dir {
			return layout{}, fmt.Errorf("%w: part %s of %s is a directory", ErrUnreadable, n, name)
		}
		l.parts = append(l.parts, key)
		l.versions = append(l.versions, pst.Version)
		l.bytes += pst.Size
		if pst.ModTime.After(l.modified) {
			l.modified = pst.ModTime
		}
		fp.WriteString(n)
		fp.WriteString(pst.Version)
		fp.WriteString(";")
	}
	l.fingerprint = fp.String()
	return l, nil
}

// partNames lists the parts of the multi-part dataset directory dir in read order,
// and the version of its manifest ("" when it has none).
func partNames(ctx context.Context, b storage.Bucket, dir string) (names []string, manifestVersion string, err error) {
	m, v, err := readManifest(ctx, b, dir)
	switch {
	case err == nil:
		return m.Parts, v, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, v, err
	}
	// Parts directly in dir, or in hive-style partition directories (hive.go).
	names, err = listHive(ctx, b, dir, "", 0, nil)
	if errors.Is(err, errBadPartition) {
		return nil, "", fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	if err != nil {
		return nil, "", err
	}
	sort.Strings(names)
	return names, "", nil
}

// readManifest reads the manifest of the multi-part dataset directory dir and its
// version; an error wrapping fs.ErrNotExist when there is none. Every part it names,
// listed or retired, is a clean relative path inside dir.
func readManifest(ctx context.Context, b storage.Bucket, dir string) (manifest, string, error) {
	data, v, err := b.ReadVersioned(ctx, manifestKey(dir))
	if err != nil {
		return manifest{}, "", err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return manifest{}, v, fmt.Errorf("%w: manifest of %s: %v", ErrUnreadable, dir, err)
	}
	check := func(p string) error {
		if p == "" || p[0] == '.' || checkPartPath(p) != nil {
			return fmt.Errorf("%w: manifest of %s names part %q", ErrUnreadable, dir, clipName(p))
		}
		return nil
	}
	for _, p := range m.Parts {
		if err := check(p); err != nil {
			return manifest{}, v, err
		}
	}
	for _, r := range m.Retired {
		if err := check(r.Part); err != nil {
			return manifest{}, v, err
		}
	}
	return m, v, nil
}

// manifestKey is the key of the manifest of the dataset directory name.
func manifestKey(name string) string { return name + "/" + manifestName }

// encodeManifest is the content of a manifest listing parts.
func encodeManifest(parts []string) ([]byte, error) {
	if parts == nil {
		parts = []string{}
	}
	return json.MarshalIndent(manifest{Parts: parts}, "", "  ")
}

// newPartName returns a fresh part file name; names sort in creation order.
func newPartName() string {
	return fmt.Sprintf("part-%020d-%s%s", time.Now().UnixNano(), randomSuffix()[:8], parquetSuffix)
}
