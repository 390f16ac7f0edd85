package console

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc/codes"
)

// Cross-site request forgery. The session cookie is SameSite=Strict, so browsers do
// not send it on requests from other sites; on top of that, every POST authenticated
// by the cookie must carry the session's CSRF token in X-Quiver-CSRF (a page on
// another origin cannot read it: /api/session answers it only to same-origin
// script), and any POST with an Origin header must come from this server's origin.
// Requests authenticated by an Authorization header need neither: a browser never
// adds one by itself.

// csrfHeader carries the session's CSRF token.
const csrfHeader = "X-Quiver-CSRF"

// checkCSRF checks a cookie-authenticated POST: its Origin, when present, and its
// CSRF token.
func (s *Server) checkCSRF(r *http.Request, sess *session) error {
	if err := s.checkOrigin(r); err != nil {
		return err
	}
	got := r.Header.Get(csrfHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
		return errorf(codes.PermissionDenied, "missing or wrong %s header: send the csrf_token of GET /api/session with every POST", csrfHeader)
	}
	return nil
}

// checkOrigin refuses a request whose Origin header (sent by browsers with every
// cross-origin and every POST request) is not this server's own origin.
func (s *Server) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if err != nil || !strings.EqualFold(u.Scheme, scheme) || !strings.EqualFold(u.Host, r.Host) {
		return errorf(codes.PermissionDenied, "cross-origin request refused: Origin %q is not this server (%s://%s)",
			clipText(origin, 100), scheme, clipText(r.Host, 100))
	}
	return nil
}

// isJSONType reports whether a Content-Type is application/json (with parameters).
func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}
