package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
)

// FileWatcher keeps an Authenticator in step with its auth file. Reload re-reads the
// file when asked (the server does on SIGHUP); ReloadIfChanged re-reads it when its
// contents differ from the last version read (the server polls it every few
// seconds). A version that cannot be read or does not validate is logged as an error
// and changes nothing: the previous users and tokens stay in force.
//
// Contents, not the modification time, tell a change: an edit within the same clock
// tick, of the same size, or that restores the old time is still seen, and reading a
// small file every few seconds costs nothing worth saving.
type FileWatcher struct {
	a    *Authenticator
	path string
	log  *slog.Logger

	mu   sync.Mutex // one reload at a time
	sum  [sha256.Size]byte
	file *File // the version in force
}

// NewFileWatcher reads the auth file at path and returns a watcher over an
// Authenticator built from it with opts (whose Logger the watcher logs to).
func NewFileWatcher(path string, opts Options) (*FileWatcher, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	f, err := ParseFile(b)
	if err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	a, err := New(f, opts)
	if err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &FileWatcher{a: a, path: path, log: log, sum: sha256.Sum256(b), file: f}, nil
}

// Authenticator is the Authenticator the watcher keeps in step with the file.
func (w *FileWatcher) Authenticator() *Authenticator { return w.a }

// File is the version of the auth file in force.
func (w *FileWatcher) File() *File {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.file
}

// Reload reads the auth file and puts it in force. It returns the error that kept
// it from doing so, which it has logged.
func (w *FileWatcher) Reload(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := os.ReadFile(w.path)
	if err != nil {
		return w.refused(ctx, fmt.Errorf("auth file: %w", err))
	}
	return w.load(ctx, b)
}

// ReloadIfChanged reloads the auth file if its contents differ from the version last
// read, whether that version was put in force or refused; so a broken file is
// reported once, not at every poll. It reports whether it read a new version.
func (w *FileWatcher) ReloadIfChanged(ctx context.Context) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := os.ReadFile(w.path)
	if err != nil {
		// A missing or unreadable file is reported once per change of contents
		// too: the zero sum stands for "unreadable".
		if w.sum == ([sha256.Size]byte{}) {
			return false, nil
		}
		w.sum = [sha256.Size]byte{}
		return true, w.refused(ctx, fmt.Errorf("auth file: %w", err))
	}
	if sha256.Sum256(b) == w.sum {
		return false, nil
	}
	return true, w.load(ctx, b)
}

// load parses b and puts it in force. w.mu is held.
func (w *FileWatcher) load(ctx context.Context, b []byte) error {
	w.sum = sha256.Sum256(b)
	f, err := ParseFile(b)
	if err != nil {
		return w.refused(ctx, fmt.Errorf("auth file %s: %w", w.path, err))
	}
	if err := w.a.Reload(f); err != nil {
		return w.refused(ctx, fmt.Errorf("auth file %s: %w", w.path, err))
	}
	removedUsers, changedUsers := diffUsers(w.file.Users, f.Users)
	removedTokens := diffTokens(w.file.Tokens, f.Tokens)
	w.file = f
	w.log.LogAttrs(ctx, slog.LevelInfo, "auth file reloaded",
		slog.String("auth_file", w.path), slog.Int("users", len(f.Users)), slog.Int("tokens", len(f.Tokens)),
		slog.Any("users_removed", removedUsers), slog.Any("users_changed", changedUsers),
		slog.Any("tokens_removed", removedTokens))
	return nil
}

// refused logs a version that could not be put in force. Parse errors name the line,
// never its text, so no secret pasted into the file reaches the log.
func (w *FileWatcher) refused(ctx context.Context, err error) error {
	w.log.LogAttrs(ctx, slog.LevelError, "auth file reload failed: the previous users and tokens stay in force",
		slog.String("auth_file", w.path), slog.String("err", err.Error()))
	return err
}

// diffUsers names the users of old that new removes, and those whose password hash,
// permission or dataset patterns it changes.
func diffUsers(old, new []UserEntry) (removed, changed []string) {
	byName := map[string]UserEntry{}
	for _, u := range new {
		byName[u.Name] = u
	}
	for _, u := range old {
		n, ok := byName[u.Name]
		switch {
		case !ok:
			removed = append(removed, u.Name)
		case n.PasswordHash != u.PasswordHash || n.Permission != u.Permission || !slices.Equal(n.Datasets, u.Datasets):
			changed = append(changed, u.Name)
		}
	}
	return removed, changed
}

// diffTokens names the static tokens of old whose hash new no longer holds.
func diffTokens(old, new []TokenEntry) (removed []string) {
	hashes := map[string]bool{}
	for _, t := range new {
		hashes[t.TokenHash] = true
	}
	for _, t := range old {
		if !hashes[t.TokenHash] {
			removed = append(removed, t.Name)
		}
	}
	return removed
}
