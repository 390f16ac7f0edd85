package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// testClock is a settable clock.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

// newTestAuthenticator has user alice (password "correct horse", write on sales*)
// and the static token returned, named "ci" with read on everything.
func newTestAuthenticator(t *testing.T, clock *testClock) (*Authenticator, string) {
	t.Helper()
	hash, err := HashPassword("correct horse", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tok, tokHash, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	f := &File{
		Users:  []UserEntry{{Name: "alice", PasswordHash: hash, Permission: "write", Datasets: []string{"sales*"}}},
		Tokens: []TokenEntry{{Name: "ci", TokenHash: tokHash, Permission: "read"}},
	}
	a, err := New(f, Options{TokenTTL: time.Hour, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	return a, tok
}

func TestLoginIssuesTokenThatExpires(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	a, _ := newTestAuthenticator(t, clock)

	tok, expires, p, err := a.Login(context.Background(), "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "user alice" || p.Permission != Write {
		t.Errorf("principal = %+v", p)
	}
	if want := clock.t.Add(time.Hour); !expires.Equal(want) {
		t.Errorf("expires = %v, want %v", expires, want)
	}
	if strings.Contains(tok, "correct horse") {
		t.Fatal("token contains the password")
	}
	got, err := a.Verify(tok)
	if err != nil || got.Name != "user alice" {
		t.Fatalf("Verify = %+v, %v", got, err)
	}

	clock.t = clock.t.Add(time.Hour - time.Second)
	if _, err := a.Verify(tok); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	clock.t = clock.t.Add(time.Second)
	if _, err := a.Verify(tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: err = %v, want ErrExpired", err)
	}
}

func TestLoginRefusesWrongPasswordAndUnknownUser(t *testing.T) {
	a, _ := newTestAuthenticator(t, &testClock{t: time.Now()})
	for _, c := range []struct{ user, pw string }{
		{"alice", "wrong"},
		{"alice", ""},
		{"bob", "correct horse"},
		{"", ""},
	} {
		if _, _, _, err := a.Login(context.Background(), c.user, c.pw); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Login(%q, %q) err = %v, want ErrBadCredentials", c.user, c.pw, err)
		}
	}
}

func TestIssuedTokenTamperingAndRevocation(t *testing.T) {
	clock := &testClock{t: time.Now()}
	a, _ := newTestAuthenticator(t, clock)
	tok, _, _, err := a.Login(context.Background(), "alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	name, exp, mac, ok := parseIssued(tok)
	if !ok {
		t.Fatalf("issued token %q does not parse", tok)
	}
	// A later expiry, or another user, with the same MAC.
	longer := a.sign.issue(name, time.Unix(exp, 0).Add(24*time.Hour), "forged")
	_, _, forgedMAC, _ := parseIssued(longer)
	tampered := strings.Replace(longer, encodeB64(forgedMAC), encodeB64(mac), 1)
	if _, err := a.Verify(tampered); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("extended expiry: err = %v, want ErrBadCredentials", err)
	}
	if _, err := a.Verify(tok + "x"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("trailing byte: err = %v, want ErrBadCredentials", err)
	}

	// Changing alice's password hash in the auth file revokes her tokens.
	newHash, _ := HashPassword("new password", bcrypt.MinCost)
	if err := a.Reload(&File{Users: []UserEntry{{Name: "alice", PasswordHash: newHash, Permission: "write"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(tok); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("after password change: err = %v, want ErrBadCredentials", err)
	}

	// A token from another server (another key) is not accepted.
	b, _ := newTestAuthenticator(t, clock)
	tokB, _, _, _ := b.Login(context.Background(), "alice", "correct horse")
	if _, err := a.Verify(tokB); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("other server's token: err = %v, want ErrBadCredentials", err)
	}
}

func TestStaticTokens(t *testing.T) {
	clock := &testClock{t: time.Now()}
	a, tok := newTestAuthenticator(t, clock)
	if !strings.HasPrefix(tok, staticTokenPrefix) {
		t.Errorf("token %q lacks prefix %q", tok, staticTokenPrefix)
	}
	p, err := a.Verify(tok)
	if err != nil || p.Name != "token ci" || p.Permission != Read || p.Restricted() {
		t.Fatalf("Verify = %+v, %v", p, err)
	}
	for _, bad := range []string{tok[:len(tok)-1], tok + "a", "qvs_", "Bearer " + tok, strings.ToUpper(tok)} {
		if _, err := a.Verify(bad); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Verify(%q) err = %v, want ErrBadCredentials", bad, err)
		}
	}
	if _, err := a.Verify(""); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("Verify(\"\") err = %v, want ErrNoCredentials", err)
	}

	// A static token with an expiry.
	if err := a.Reload(&File{Tokens: []TokenEntry{{Name: "ci", TokenHash: HashToken(tok), Permission: "read", Expires: clock.t.Add(time.Minute)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(tok); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	clock.t = clock.t.Add(time.Minute)
	if _, err := a.Verify(tok); err == nil || strings.Contains(err.Error(), tok) {
		t.Fatalf("after expiry: err = %v, want an expiry error without the token", err)
	}
}

func TestMatchTokenHashFindsEveryEntry(t *testing.T) {
	sums := [][]byte{[]byte("aaaa"), []byte("bbbb"), []byte("cccc")}
	for i, s := range sums {
		if got := matchTokenHash(sums, s); got != i {
			t.Errorf("match %q = %d, want %d", s, got, i)
		}
	}
	if got := matchTokenHash(sums, []byte("dddd")); got != -1 {
		t.Errorf("no match = %d, want -1", got)
	}
}

func TestHashPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("s3cret", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "s3cret") || bcrypt.CompareHashAndPassword([]byte(h), []byte("s3cret")) != nil {
		t.Fatalf("hash %q", h)
	}
	if _, err := HashPassword("", bcrypt.MinCost); err == nil {
		t.Error("empty password accepted")
	}
}
