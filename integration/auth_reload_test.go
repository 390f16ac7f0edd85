package integration

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-adbc/go/adbc"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/quiverdata/quiver/flightsql/auth"
)

// The real binary with an auth file that changes under it: on SIGHUP and, with
// --auth-reload-interval, by itself, it puts the new file in force and revokes what
// the file no longer allows.

// reloadFile writes auth files for these tests: users with password "pw-<name>"
// (one hash each for the whole test, since a new hash revokes the user's tokens).
type reloadFile struct {
	path   string
	hashes map[string]string
}

func newReloadFile(t *testing.T) *reloadFile {
	t.Helper()
	f := &reloadFile{path: filepath.Join(t.TempDir(), "auth.toml"), hashes: map[string]string{}}
	for _, u := range []string{"alice", "bob"} {
		h, err := auth.HashPassword("pw-"+u, 4)
		if err != nil {
			t.Fatal(err)
		}
		f.hashes[u] = h
	}
	return f
}

// write replaces the file the way an operator should (a new file renamed over the
// old), with users given as name -> permission and static tokens as a token_hash
// -> name map.
func (f *reloadFile) write(t *testing.T, users map[string]string, tokens map[string]string) {
	t.Helper()
	var b strings.Builder
	for _, name := range []string{"alice", "bob"} {
		if perm, ok := users[name]; ok {
			b.WriteString("[[user]]\nname = \"" + name + "\"\npassword_hash = \"" + f.hashes[name] + "\"\npermission = \"" + perm + "\"\n")
		}
	}
	for hash, name := range tokens {
		b.WriteString("[[token]]\nname = \"" + name + "\"\ntoken_hash = \"" + hash + "\"\npermission = \"read\"\n")
	}
	f.writeRaw(t, b.String())
}

func (f *reloadFile) writeRaw(t *testing.T, text string) {
	t.Helper()
	tmp := f.path + ".new"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		t.Fatal(err)
	}
}

// dropMissing asks to drop a dataset that does not exist: NotFound for a principal
// with write permission, PermissionDenied for one without, Unauthenticated for
// credentials the server does not accept.
func dropMissing(ctx context.Context, c flight.Client) error {
	st, err := c.DoAction(ctx, &flight.Action{Type: "drop_dataset", Body: []byte("missing.parquet")})
	if err != nil {
		return err
	}
	for {
		if _, err := st.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// waitLog waits until the server has logged want n times in all.
func (p *quiverProcess) waitLog(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.logText(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %q %d times within 10s:\n%s", want, n, p.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBinaryAuthFileReloadOnSIGHUP(t *testing.T) {
	f := newReloadFile(t)
	ciTok, ciHash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	f.write(t, map[string]string{"alice": "write", "bob": "write"}, map[string]string{ciHash: "ci"})
	// No polling: only the signal reloads.
	p := newBinaryRoot(t).serve(t,
		"--auth-file", f.path, "--auth-reload-interval", "0")
	c := dial(t, p.addr)
	alice, err := c.AuthenticateBasicToken(context.Background(), "alice", "pw-alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := c.AuthenticateBasicToken(context.Background(), "bob", "pw-bob")
	if err != nil {
		t.Fatal(err)
	}
	ci := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+ciTok)
	wantStatus(t, dropMissing(alice, c), codes.NotFound)
	wantStatus(t, dropMissing(bob, c), codes.NotFound)
	wantStatus(t, dropMissing(ci, c), codes.PermissionDenied)

	// alice and the ci token removed, bob cut to read. Nothing changes until SIGHUP.
	f.write(t, map[string]string{"bob": "read"}, nil)
	wantStatus(t, dropMissing(alice, c), codes.NotFound)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "auth file reloaded", 1)
	wantStatus(t, dropMissing(alice, c), codes.Unauthenticated, "invalid credentials")
	wantStatus(t, dropMissing(ci, c), codes.Unauthenticated, "invalid credentials")
	wantStatus(t, dropMissing(bob, c), codes.PermissionDenied, "needs write permission, has read")
	if _, err := c.AuthenticateBasicToken(context.Background(), "alice", "pw-alice"); err == nil {
		t.Error("the removed user logged in")
	}

	// A broken file keeps bob as he is, and the error is logged.
	f.writeRaw(t, "[[user]]\nname = \"bob\"\npassword_hash = oops\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "auth file reload failed", 1)
	wantStatus(t, dropMissing(bob, c), codes.PermissionDenied, "needs write permission, has read")

	if err, _ := p.terminate(t, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if log := p.logText(); strings.Contains(log, "pw-") || strings.Contains(log, ciTok) {
		t.Errorf("the log holds a secret:\n%s", log)
	}
}

func TestBinaryAuthFileReloadOnChange(t *testing.T) {
	f := newReloadFile(t)
	f.write(t, map[string]string{"alice": "write", "bob": "write"}, nil)
	const interval = 200 * time.Millisecond
	p := newBinaryRoot(t).serve(t,
		"--auth-file", f.path, "--auth-reload-interval", interval.String())
	c := dial(t, p.addr)
	alice, err := c.AuthenticateBasicToken(context.Background(), "alice", "pw-alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := c.AuthenticateBasicToken(context.Background(), "bob", "pw-bob")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, dropMissing(alice, c), codes.NotFound)

	edited := time.Now()
	f.write(t, map[string]string{"bob": "read"}, nil)
	p.waitLog(t, "auth file reloaded", 1)
	took := time.Since(edited)
	wantStatus(t, dropMissing(alice, c), codes.Unauthenticated, "invalid credentials")
	// Within the interval, plus a generous margin for a loaded machine.
	if took > interval+2*time.Second {
		t.Errorf("the edit took %v to apply, with --auth-reload-interval %v", took, interval)
	}
	t.Logf("edit applied after %v (interval %v)", took, interval)
	wantStatus(t, dropMissing(bob, c), codes.PermissionDenied, "needs write permission, has read")
	if log := p.logText(); !strings.Contains(log, "users_removed=[alice]") {
		t.Errorf("the reload does not name the removed user:\n%s", log)
	}
	if err, _ := p.terminate(t, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// A prepared statement is checked against the grant it is prepared under. When a
// reload narrows that grant, the statement must not run on under the old one: its
// handle is unknown to the narrowed principal, and preparing it again is refused.
func TestPreparedStatementAfterTheGrantNarrows(t *testing.T) {
	hash, err := auth.HashPassword("pw-bob", 4)
	if err != nil {
		t.Fatal(err)
	}
	bob := func(patterns ...string) *auth.File {
		return &auth.File{Users: []auth.UserEntry{{Name: "bob", PasswordHash: hash, Permission: "write", Datasets: patterns}}}
	}
	a, err := auth.New(bob("sales*", "marketing*"), auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServerOpts(t, t.TempDir(), memory.DefaultAllocator, harnessOptions{guard: auth.NewGuard(a, nil)})
	conn := srv.adbcConn(t, map[string]string{adbc.OptionKeyUsername: "bob", adbc.OptionKeyPassword: "pw-bob"})
	if _, err := adbcIngest(t, conn, "marketing", adbc.OptionValueIngestModeCreate, nil, events(t, 1, 2)); err != nil {
		t.Fatal(err)
	}

	c := srv.sqlClient(t)
	ctx, err := c.Client.AuthenticateBasicToken(context.Background(), "bob", "pw-bob")
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := c.Prepare(ctx, "SELECT count(*) FROM marketing")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stmt.Execute(ctx); err != nil {
		t.Fatalf("prepared statement under the wide grant: %v", err)
	}

	if err := a.Reload(bob("sales*")); err != nil {
		t.Fatal(err)
	}
	_, err = stmt.Execute(ctx)
	wantStatus(t, err, codes.NotFound, "prepared statement handle is unknown")
	_, err = c.Prepare(ctx, "SELECT count(*) FROM marketing")
	wantStatus(t, err, codes.PermissionDenied, "marketing")
}
