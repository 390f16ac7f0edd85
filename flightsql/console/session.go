package console

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/quiverdata/quiver/flightsql/auth"
)

// cookieName is the session cookie.
const cookieName = "quiver_session"

// session is one login. It holds the bearer token the login issued, not a grant: each
// request verifies the token with the Authenticator, so a reload of the auth file that
// removes the user or changes their password ends the session, and a changed grant
// applies at the next request.
type session struct {
	id, csrf string
	user     string
	token    string
	lastUsed time.Time
}

// sessionStore holds the console's sessions in memory: ids are 256 random bits, a
// session ends after idle time unused or when its token expires, and at most max are
// held (the least recently used makes room).
type sessionStore struct {
	idle time.Duration
	max  int
	now  func() time.Time

	mu   sync.Mutex
	byID map[string]*session
}

func newSessionStore(idle time.Duration, max int, now func() time.Time) *sessionStore {
	return &sessionStore{idle: idle, max: max, now: now, byID: make(map[string]*session)}
}

// randomID is 256 random bits, URL-safe.
func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// add starts a session for user holding token.
func (st *sessionStore) add(user, token string) *session {
	s := &session{id: randomID(), csrf: randomID(), user: user, token: token, lastUsed: st.now()}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sweepLocked()
	for len(st.byID) >= st.max {
		var oldest *session
		for _, o := range st.byID {
			if oldest == nil || o.lastUsed.Before(oldest.lastUsed) {
				oldest = o
			}
		}
		delete(st.byID, oldest.id)
	}
	st.byID[s.id] = s
	return s
}

// get returns the live session of id and marks it used.
func (st *sessionStore) get(id string) (*session, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byID[id]
	if !ok {
		return nil, false
	}
	now := st.now()
	if now.Sub(s.lastUsed) >= st.idle {
		delete(st.byID, id)
		return nil, false
	}
	s.lastUsed = now
	c := *s
	return &c, true
}

func (st *sessionStore) remove(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.byID, id)
}

func (st *sessionStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.byID)
}

// sweepLocked drops idle sessions.
func (st *sessionStore) sweepLocked() {
	now := st.now()
	for id, s := range st.byID {
		if now.Sub(s.lastUsed) >= st.idle {
			delete(st.byID, id)
		}
	}
}

// sessionOf returns the live session of the request's cookie and its principal, as
// the current auth file has it; ok is false without a cookie or with one that names
// no live session, whose token no longer verifies (the session is ended then).
func (s *Server) sessionOf(r *http.Request) (*session, *auth.Principal, bool) {
	if s.guard == nil {
		return nil, nil, false
	}
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil, nil, false
	}
	sess, ok := s.sessions.get(c.Value)
	if !ok {
		return nil, nil, false
	}
	p, err := s.guard.Authenticator().Verify(sess.token)
	if err != nil {
		s.sessions.remove(sess.id)
		return nil, nil, false
	}
	return sess, p, true
}

// authenticate finds the caller of an API request. Without a Guard there is none
// to find, but a POST must still come from this server's page (checkOrigin). With
// one, an Authorization header wins (scripts: no CSRF check, no cookie needed); else
// the session cookie, and a POST must carry the session's CSRF token.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (context.Context, error) {
	ctx := r.Context()
	post := r.Method != http.MethodGet && r.Method != http.MethodHead
	if s.guard == nil {
		if post {
			if err := s.checkOrigin(r); err != nil {
				return nil, err
			}
		}
		return ctx, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		p, err := s.guard.AuthenticateHeader(ctx, h)
		if err != nil {
			return nil, err
		}
		return auth.NewContext(ctx, p), nil
	}
	sess, p, ok := s.sessionOf(r)
	if !ok {
		if _, err := r.Cookie(cookieName); err == nil {
			clearCookie(w, s.cfg.Secure)
		}
		return nil, errorf(codes.Unauthenticated, "log in first: no session (or it expired); POST /api/login, or send an Authorization header")
	}
	if post {
		if err := s.checkCSRF(r, sess); err != nil {
			return nil, err
		}
	}
	return auth.NewContext(ctx, p), nil
}

// sessionInfo is the answer of GET /api/session.
type sessionInfo struct {
	AuthRequired bool    `json:"auth_required"`
	User         *string `json:"user"`
	CSRFToken    *string `json:"csrf_token"`
	Version      string  `json:"version"`
}

// getSession tells the page whether to show the login form. It never answers 401.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	info := sessionInfo{AuthRequired: s.guard != nil, Version: s.cfg.Version}
	if sess, _, ok := s.sessionOf(r); ok {
		info.User, info.CSRFToken = &sess.user, &sess.csrf
	}
	writeJSON(w, info)
}

// loginRequest is the body of POST /api/login.
type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// login checks a user and password through the Guard (the Flight port's logins and
// login limiter) and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.guard == nil {
		s.writeError(w, r, errorf(codes.FailedPrecondition, "this server runs without authentication (no --auth-file): there is nothing to log in to"))
		return
	}
	var req loginRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.User == "" {
		s.writeError(w, r, errorf(codes.InvalidArgument, `login: "user" is empty`))
		return
	}
	_, token, err := s.guard.Login(r.Context(), req.User, req.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if old, err := r.Cookie(cookieName); err == nil {
		s.sessions.remove(old.Value)
	}
	sess := s.sessions.add(req.User, token)
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: sess.id, Path: "/",
		HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteStrictMode,
	})
	writeJSON(w, map[string]string{"user": sess.user, "csrf_token": sess.csrf})
}

// logout ends the cookie's session. With a live session, the POST must carry its
// CSRF token (a foreign page may not log the user out).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if sess, _, ok := s.sessionOf(r); ok {
		if err := s.checkCSRF(r, sess); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.sessions.remove(sess.id)
	}
	clearCookie(w, s.cfg.Secure)
	w.WriteHeader(http.StatusNoContent)
}

func clearCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode,
	})
}

// decodeBody reads a JSON request body of at most maxBodyBytes into v, refusing
// unknown fields, trailing data and a Content-Type other than JSON (an HTML form
// cannot send JSON, so a cross-site form post cannot reach a handler).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !isJSONType(ct) {
		return errorf(codes.InvalidArgument, "request body: Content-Type %q, want application/json", clipText(ct, 100))
	}
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errorf(codes.InvalidArgument, "request body larger than %d bytes", maxBodyBytes)
		}
		return errorf(codes.InvalidArgument, "request body is not the JSON object expected: %v", err)
	}
	if dec.More() {
		return errorf(codes.InvalidArgument, "request body: data after the JSON object")
	}
	return nil
}
