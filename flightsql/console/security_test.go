package console

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quiverdata/quiver/flightsql/auth"
)

// sessionCookie finds the quiver_session cookie an answer sets.
func sessionCookie(t *testing.T, r response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %q", cookieName, r.header.Values("Set-Cookie"))
	return nil
}

func TestLoginCookieLogout(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := map[bool]string{false: "http", true: "https"}[tls]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{auth: true, tls: tls})
			c := e.client()
			wantError(t, c.do("POST", "/api/login", `{"user":"bob","password":"wrong"}`), 401, "Unauthenticated", "invalid credentials")
			wantError(t, c.do("POST", "/api/login", `{"user":"nobody","password":"wrong"}`), 401, "Unauthenticated", "invalid credentials")
			r := c.do("POST", "/api/login", `{"user":"bob","password":"`+testPassword+`"}`)
			if r.status != 200 {
				t.Fatalf("login: %d %s", r.status, r.body)
			}
			ck := sessionCookie(t, r)
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure != tls || len(ck.Value) < 43 {
				t.Fatalf("cookie %+v (raw %q)", ck, r.header.Values("Set-Cookie"))
			}
			var login struct {
				User string `json:"user"`
				CSRF string `json:"csrf_token"`
			}
			decode(t, r, &login)
			if login.User != "bob" || len(login.CSRF) < 43 || login.CSRF == ck.Value {
				t.Fatalf("login answer %s", r.body)
			}
			var s struct {
				AuthRequired bool    `json:"auth_required"`
				User         *string `json:"user"`
				CSRF         *string `json:"csrf_token"`
			}
			decode(t, c.do("GET", "/api/session", ""), &s)
			if !s.AuthRequired || s.User == nil || *s.User != "bob" || s.CSRF == nil || *s.CSRF != login.CSRF {
				t.Fatalf("session after login: %+v", s)
			}
			// Logout is a POST: it needs the CSRF token.
			wantError(t, c.do("POST", "/api/logout", ""), 403, "PermissionDenied", csrfHeader)
			c.csrf = login.CSRF
			r = c.do("POST", "/api/logout", "")
			if r.status != 204 {
				t.Fatalf("logout: %d %s", r.status, r.body)
			}
			if ck := sessionCookie(t, r); ck.MaxAge >= 0 || ck.Value != "" {
				t.Fatalf("logout cookie %+v", ck)
			}
			if e.console.sessions.len() != 0 {
				t.Fatalf("%d sessions after logout", e.console.sessions.len())
			}
			// The old cookie names no session any more.
			old := e.client()
			old.header.Set("Cookie", cookieName+"="+ck.Value)
			wantError(t, old.do("GET", "/api/datasets", ""), 401, "Unauthenticated")
		})
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, envOptions{auth: true})
	c := e.client()
	c.login("bob")
	token := c.csrf
	const q = `{"sql":"SELECT 1"}`
	c.csrf = ""
	wantError(t, c.do("POST", "/api/query", q), 403, "PermissionDenied", csrfHeader)
	c.csrf = token + "x"
	wantError(t, c.do("POST", "/api/query", q), 403, "PermissionDenied", csrfHeader)
	c.csrf = token
	wantError(t, c.do("POST", "/api/query", q, "Origin", "https://evil.example"), 403, "PermissionDenied", "evil.example")
	wantError(t, c.do("POST", "/api/query", q, "Origin", "null"), 403, "PermissionDenied", "cross-origin")
	if r := c.do("POST", "/api/query", q, "Origin", e.srv.URL); r.status != 200 {
		t.Fatalf("same origin: %d %s", r.status, r.body)
	}
	if r := c.do("POST", "/api/query", q); r.status != 200 {
		t.Fatalf("no Origin: %d %s", r.status, r.body)
	}
	// A form post cannot send JSON.
	wantError(t, c.do("POST", "/api/query", q, "Content-Type", "text/plain"), 400, "InvalidArgument", "application/json")
	// GETs carry no token and change nothing.
	c.csrf = ""
	if r := c.do("GET", "/api/datasets", ""); r.status != 200 {
		t.Fatalf("GET without token: %d %s", r.status, r.body)
	}
	// Authorization-header requests need no token.
	s := e.client()
	s.header.Set("Authorization", "Bearer "+testToken)
	if r := s.do("POST", "/api/query", q); r.status != 200 {
		t.Fatalf("bearer POST without token: %d %s", r.status, r.body)
	}
	// A login from a foreign page is refused too.
	f := e.client()
	wantError(t, f.do("POST", "/api/login", `{"user":"bob","password":"`+testPassword+`"}`, "Origin", "http://evil.example"), 403, "PermissionDenied", "cross-origin")
}

func TestNoAuthCrossSite(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *Config) { c.LoopbackOnly = true }})
	c := e.client()
	wantError(t, c.do("POST", "/api/query", `{"sql":"SELECT 1"}`, "Origin", "http://evil.example"), 403, "PermissionDenied", "cross-origin")
	wantError(t, c.do("POST", "/api/query", `{"sql":"SELECT 1"}`, "Content-Type", "text/plain"), 400, "InvalidArgument", "application/json")
	// DNS rebinding: a foreign name resolved to 127.0.0.1.
	wantError(t, c.do("GET", "/api/datasets", "", "Host", "evil.example"), 403, "PermissionDenied", "loopback")
	for _, h := range []string{"localhost", "127.0.0.1:8080", "[::1]:9"} {
		if !loopbackHost(h) {
			t.Errorf("loopbackHost(%q) = false", h)
		}
	}
	for _, h := range []string{"evil.example", "localhost.evil.example", "10.0.0.1:80", ""} {
		if loopbackHost(h) {
			t.Errorf("loopbackHost(%q) = true", h)
		}
	}
}

func TestGrantsApply(t *testing.T) {
	e := newEnv(t, envOptions{auth: true})
	alice := e.client()
	alice.login("alice")
	var list struct {
		Datasets []datasetSummary `json:"datasets"`
	}
	decode(t, alice.do("GET", "/api/datasets", ""), &list)
	if len(list.Datasets) != 1 || list.Datasets[0].Name != "sales.parquet" {
		t.Fatalf("alice lists %+v", list.Datasets)
	}
	// The same refusal for a dataset that exists and one that does not.
	for _, name := range []string{"secret.parquet", "nothing.parquet"} {
		wantError(t, alice.do("GET", "/api/datasets/"+name, ""), 403, "PermissionDenied", "user alice", name, "not a dataset the grant covers")
		wantError(t, alice.do("GET", "/api/datasets/"+name+"/rows", ""), 403, "PermissionDenied", "user alice", name)
	}
	for _, sql := range []string{
		"SELECT * FROM secret",
		"SELECT s.* FROM sales JOIN secret s ON true",
		"SELECT * FROM read_parquet('secret.parquet')",
		"SELECT * FROM duckdb_tables()",
	} {
		wantError(t, alice.do("POST", "/api/query", `{"sql":"`+sql+`"}`), 403, "PermissionDenied", "user alice")
	}
	if r := alice.do("POST", "/api/query", `{"sql":"SELECT count(*) AS n FROM sales"}`); r.status != 200 || !strings.Contains(string(r.body), `[[5]]`) {
		t.Fatalf("alice's query: %d %s", r.status, r.body)
	}
	if r := alice.do("GET", "/api/datasets/sales.parquet/rows?limit=1", ""); r.status != 200 {
		t.Fatalf("alice's preview: %d %s", r.status, r.body)
	}
	if r := alice.do("GET", "/api/datasets/sales.parquet", ""); r.status != 200 || !strings.Contains(string(r.body), `"distinct_estimate"`) {
		t.Fatalf("alice's describe: %d %s", r.status, r.body)
	}
	var st statusAnswer
	decode(t, alice.do("GET", "/api/status", ""), &st)
	if st.Datasets != 1 || st.Version != "test" {
		t.Fatalf("alice's status %+v", st)
	}
	// Through an Authorization header the grant is the same.
	b := e.client()
	b.header.Set("Authorization", basic("alice"))
	wantError(t, b.do("POST", "/api/query", `{"sql":"SELECT * FROM secret"}`), 403, "PermissionDenied", "user alice")
}

func TestSessionEndsWithUserOrIdle(t *testing.T) {
	e := newEnv(t, envOptions{auth: true})
	alice, bob := e.client(), e.client()
	alice.login("alice")
	bob.login("bob")
	// A reload of the auth file without alice ends her session at the next request;
	// bob's goes on.
	f := *e.file
	f.Users = f.Users[1:]
	if err := e.guard.Authenticator().Reload(&f); err != nil {
		t.Fatal(err)
	}
	wantError(t, alice.do("GET", "/api/datasets", ""), 401, "Unauthenticated")
	if r := bob.do("GET", "/api/datasets", ""); r.status != 200 {
		t.Fatalf("bob after reload: %d %s", r.status, r.body)
	}
	if n := e.console.sessions.len(); n != 1 {
		t.Fatalf("%d sessions, want bob's only", n)
	}
	// Idle past SessionIdle: gone.
	now := time.Now()
	e.console.sessions.now = func() time.Time { return now.Add(DefaultSessionIdle + time.Second) }
	wantError(t, bob.do("GET", "/api/datasets", ""), 401, "Unauthenticated")
	var s map[string]any
	decode(t, bob.do("GET", "/api/session", ""), &s)
	if s["user"] != nil {
		t.Fatalf("session after expiry: %v", s)
	}
}

func TestSessionCap(t *testing.T) {
	e := newEnv(t, envOptions{auth: true, config: func(c *Config) { c.MaxSessions = 2 }})
	clock := time.Now()
	e.console.sessions.now = func() time.Time { return clock }
	first, second, third := e.client(), e.client(), e.client()
	first.login("bob")
	clock = clock.Add(time.Second)
	second.login("bob")
	clock = clock.Add(time.Second)
	third.login("alice")
	if n := e.console.sessions.len(); n != 2 {
		t.Fatalf("%d sessions, want the cap of 2", n)
	}
	wantError(t, first.do("GET", "/api/datasets", ""), 401, "Unauthenticated")
	for _, c := range []*client{second, third} {
		if r := c.do("GET", "/api/datasets", ""); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
}

func TestLoginLimiter(t *testing.T) {
	e := newEnv(t, envOptions{auth: true, login: auth.LoginLimits{Failures: 2}})
	c := e.client()
	for i := 0; i < 2; i++ {
		wantError(t, c.do("POST", "/api/login", `{"user":"bob","password":"wrong"}`), 401, "Unauthenticated")
	}
	r := c.do("POST", "/api/login", `{"user":"bob","password":"`+testPassword+`"}`)
	wantError(t, r, 429, "ResourceExhausted", "too many failed logins")
	// Basic credentials on an API call go through the same limiter.
	b := e.client()
	b.header.Set("Authorization", basic("bob"))
	wantError(t, b.do("GET", "/api/datasets", ""), 429, "ResourceExhausted", "too many failed logins")
}
