package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestReloadRevokesWhatTheFileNoLongerAllows(t *testing.T) {
	clock := &testClock{t: time.Now()}
	hash, _ := HashPassword("pw", bcrypt.MinCost)
	ciTok, ciHash, _ := NewToken()
	grafanaTok, grafanaHash, _ := NewToken()
	before := &File{
		Users: []UserEntry{
			{Name: "alice", PasswordHash: hash, Permission: "write", Datasets: []string{"sales*"}},
			{Name: "bob", PasswordHash: hash, Permission: "admin"},
		},
		Tokens: []TokenEntry{
			{Name: "ci", TokenHash: ciHash, Permission: "write"},
			{Name: "grafana", TokenHash: grafanaHash, Permission: "read"},
		},
	}
	a, err := New(before, Options{Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	aliceTok, _, _, err := a.Login(context.Background(), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	bobTok, _, _, err := a.Login(context.Background(), "bob", "pw")
	if err != nil {
		t.Fatal(err)
	}

	// alice and the ci token go; bob keeps his password but is cut to read on ref*.
	after := &File{
		Users:  []UserEntry{{Name: "bob", PasswordHash: hash, Permission: "read", Datasets: []string{"ref*"}}},
		Tokens: []TokenEntry{{Name: "grafana", TokenHash: grafanaHash, Permission: "read"}},
	}
	if err := a.Reload(after); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(aliceTok); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("removed user's token: %v, want ErrBadCredentials", err)
	}
	if _, _, _, err := a.Login(context.Background(), "alice", "pw"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("removed user's login: %v, want ErrBadCredentials", err)
	}
	if _, err := a.Verify(ciTok); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("removed static token: %v, want ErrBadCredentials", err)
	}
	p, err := a.Verify(bobTok)
	if err != nil || p.Permission != Read || !slices.Equal(p.Datasets, []string{"ref*"}) || p.Covers("sales.parquet") {
		t.Errorf("reduced user's token: %+v, %v; want read on ref*", p, err)
	}
	if p, err := a.Verify(grafanaTok); err != nil || p.Name != "token grafana" {
		t.Errorf("kept static token: %+v, %v", p, err)
	}

	// A file that does not validate changes nothing.
	bad := &File{Users: []UserEntry{{Name: "bob", PasswordHash: "not bcrypt", Permission: "admin"}}}
	if err := a.Reload(bad); err == nil {
		t.Fatal("an invalid file was put in force")
	}
	if p, err := a.Verify(bobTok); err != nil || p.Permission != Read {
		t.Errorf("after a refused reload: %+v, %v; want the previous grant", p, err)
	}
}

// pwHash is the bcrypt hash of "pw" that authFileText gives every user: one hash,
// since a new one (a new salt) would revoke the users' tokens.
var pwHash, _ = HashPassword("pw", bcrypt.MinCost)

// authFileText is an auth file with the given users, each "name:permission[:pattern]"
// with password "pw", and static tokens (by hash) with read permission.
func authFileText(t *testing.T, users []string, tokens map[string]string) string {
	t.Helper()
	hash := pwHash
	var b strings.Builder
	for _, u := range users {
		parts := strings.Split(u, ":")
		b.WriteString("[[user]]\nname = \"" + parts[0] + "\"\npassword_hash = \"" + hash + "\"\npermission = \"" + parts[1] + "\"\n")
		if len(parts) > 2 {
			b.WriteString("datasets = [\"" + parts[2] + "\"]\n")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(tokens)) {
		b.WriteString("[[token]]\nname = \"" + name + "\"\ntoken_hash = \"" + tokens[name] + "\"\npermission = \"read\"\n")
	}
	return b.String()
}

// writeKeepingTime writes text to path and restores its modification time, so that
// only the contents tell the change.
func writeKeepingTime(t *testing.T, path, text string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestFileWatcherReloadsChangesAndKeepsTheLastGoodVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.toml")
	ciTok, ciHash, _ := NewToken()
	mtime := time.Now().Add(-time.Hour).Truncate(time.Second)
	writeKeepingTime(t, path, authFileText(t, []string{"alice:write", "bob:write:aa*"}, map[string]string{"ci": ciHash}), mtime)
	var logs bytes.Buffer
	w, err := NewFileWatcher(path, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	a := w.Authenticator()
	ctx := context.Background()
	aliceTok, _, _, err := a.Login(ctx, "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	bobTok, _, _, err := a.Login(ctx, "bob", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := w.ReloadIfChanged(ctx); changed || err != nil {
		t.Fatalf("unchanged file: changed %v, %v", changed, err)
	}

	// A broken file: logged once, without the line's text, and nothing changes.
	writeKeepingTime(t, path, "[[user]]\nname = \"alice\"\npassword_hash = hunter2secret\n", mtime)
	if changed, err := w.ReloadIfChanged(ctx); !changed || err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("broken file: changed %v, %v; want an error naming line 3", changed, err)
	}
	if changed, err := w.ReloadIfChanged(ctx); changed || err != nil {
		t.Fatalf("the same broken file again: changed %v, %v; want it reported once", changed, err)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "auth file reload failed") {
		t.Errorf("no error logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the log repeats the file's text:\n%s", logs.String())
	}
	if _, err := a.Verify(aliceTok); err != nil {
		t.Fatalf("alice after a refused reload: %v", err)
	}

	// alice and the ci token removed, with the old modification time.
	writeKeepingTime(t, path, authFileText(t, []string{"bob:write:aa*"}, nil), mtime)
	if changed, err := w.ReloadIfChanged(ctx); !changed || err != nil {
		t.Fatalf("edited file: changed %v, %v", changed, err)
	}
	if _, err := a.Verify(aliceTok); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("removed user's token: %v, want ErrBadCredentials", err)
	}
	if _, err := a.Verify(ciTok); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("removed static token: %v, want ErrBadCredentials", err)
	}
	for _, want := range []string{"auth file reloaded", "users=1", "tokens=0", "users_removed=[alice]", "tokens_removed=[ci]"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	// A same-size edit with the same modification time is still seen.
	writeKeepingTime(t, path, authFileText(t, []string{"bob:write:bb*"}, nil), mtime)
	if changed, err := w.ReloadIfChanged(ctx); !changed || err != nil {
		t.Fatalf("same-size edit: changed %v, %v", changed, err)
	}
	if p, err := a.Verify(bobTok); err != nil || !p.Covers("bb.parquet") || p.Covers("aa.parquet") {
		t.Errorf("bob after his patterns changed: %+v, %v; want bb* only", p, err)
	}

	// A removed file keeps the last version in force, and says so once.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if changed, err := w.ReloadIfChanged(ctx); !changed || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removed file: changed %v, %v", changed, err)
	}
	if changed, err := w.ReloadIfChanged(ctx); changed || err != nil {
		t.Fatalf("still removed: changed %v, %v; want it reported once", changed, err)
	}
	if err := w.Reload(ctx); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Reload of a removed file: %v", err)
	}
	if _, err := a.Verify(bobTok); err != nil {
		t.Fatalf("bob while the file is missing: %v", err)
	}

	// Reload reads the file whether or not it changed.
	if err := os.WriteFile(path, []byte(authFileText(t, []string{"bob:read"}, nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := a.Verify(bobTok); err != nil || p.Permission != Read || p.Restricted() {
		t.Errorf("bob after Reload: %+v, %v; want read on everything", p, err)
	}
	if n := len(w.File().Users); n != 1 {
		t.Errorf("File() has %d users, want 1", n)
	}
}
