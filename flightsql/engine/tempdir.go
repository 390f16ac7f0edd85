//go:build duckdb_arrow

package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DuckDB's spill directory.
//
// Each engine that is not given Config.TempDir makes its own directory,
// quiver-duckdb-*, under Config.TempParent, and holds an exclusive flock on the lock
// file inside it for as long as it is open. A process that dies (SIGKILL, OOM) leaves
// its directory, and whatever DuckDB spilled there, behind; the kernel drops its lock.
// So an engine opening sweeps its siblings: a directory whose lock it can take belongs
// to nobody alive and is removed. A directory without a lock file is removed only once
// it is older than staleTempAge: it may be a server's that is starting up, between
// making its directory and locking it, or one from before the lock existed.

const (
	tempPattern  = "quiver-duckdb-*"
	tempLockName = "quiver.lock"
	staleTempAge = time.Hour
)

// DefaultMaxTempSize is the cap on DuckDB's spill directory when Config.MaxTempSize
// is empty: the smaller of this and a quarter of the free space where the directory
// is, measured when the engine opens. DuckDB's own default, 90% of the free space,
// lets one query fill the disk that the datasets (and everything else) live on.
const DefaultMaxTempSize = 10 << 30

// tempDir is the engine's own spill directory and the lock that marks it alive.
type tempDir struct {
	path string
	lock *os.File // holds the flock; closing it releases the directory to sweepers
}

// makeTempDir makes a fresh locked quiver-duckdb-* directory under parent ("" =
// os.TempDir()), then sweeps the ones dead engines left there.
func makeTempDir(parent string, log *slog.Logger) (*tempDir, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, tempPattern)
	if err != nil {
		return nil, fmt.Errorf("engine: temp dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, tempLockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != nil {
			lock.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("engine: lock temp dir %s: %w", dir, err)
	}
	sweepTempDirs(parent, dir, log)
	return &tempDir{path: dir, lock: lock}, nil
}

// remove deletes the directory, then lets go of its lock.
func (t *tempDir) remove() error {
	err := os.RemoveAll(t.path)
	t.lock.Close()
	return err
}

// sweepTempDirs removes the quiver-duckdb-* directories under parent, other than
// own, that no live engine holds. Failures are logged and skipped: sweeping is
// housekeeping, never a reason not to start.
func sweepTempDirs(parent, own string, log *slog.Logger) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		log.Warn("engine: sweep old temp dirs", "dir", parent, "err", err)
		return
	}
	prefix := strings.TrimSuffix(tempPattern, "*")
	for _, ent := range entries {
		// Type comes from lstat: a symlink named like ours is not followed.
		if !ent.IsDir() || !strings.HasPrefix(ent.Name(), prefix) {
			continue
		}
		dir := filepath.Join(parent, ent.Name())
		if dir == own || !ownedByUs(ent) {
			continue // another user's server, in a shared /tmp, is none of ours
		}
		removed, err := sweepTempDir(dir)
		switch {
		case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission):
			log.Warn("engine: sweep old temp dir", "dir", dir, "err", err)
		case removed:
			log.Info("engine: removed the temp dir of a server that is gone", "dir", dir)
		}
	}
}

// ownedByUs reports whether ent belongs to this process's user.
func ownedByUs(ent fs.DirEntry) bool {
	fi, err := ent.Info()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

// sweepTempDir removes dir if no live engine holds its lock (or, without a lock
// file, if it is older than staleTempAge), and reports whether it did.
func sweepTempDir(dir string) (bool, error) {
	lock, err := os.OpenFile(filepath.Join(dir, tempLockName), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		fi, err := os.Lstat(dir)
		if err != nil || time.Since(fi.ModTime()) < staleTempAge {
			return false, err
		}
		return true, os.RemoveAll(dir)
	}
	if err != nil {
		return false, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil // alive
		}
		return false, err
	}
	// Held until the lock file's descriptor closes, after the removal: a live engine
	// never gets this lock, so nothing else can be using the directory.
	return true, os.RemoveAll(dir)
}

// maxTempSize is the max_temp_directory_size setting for a spill directory at dir:
// the configured size, or DefaultMaxTempSize capped by a quarter of the free space.
func maxTempSize(configured, dir string) string {
	if configured != "" {
		return configured
	}
	size := uint64(DefaultMaxTempSize)
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err == nil {
		if free := st.Bavail * uint64(st.Bsize) / 4; free < size {
			size = free
		}
	}
	return fmt.Sprintf("%dB", size)
}
