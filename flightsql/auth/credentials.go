package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Credential errors. Their messages reach clients and logs, so they never contain
// the credential.
var (
	// ErrNoCredentials means the request carried no authorization header.
	ErrNoCredentials = errors.New("no credentials: send `authorization: Bearer <token>`, or log in with HTTP Basic credentials in a Flight Handshake")
	// ErrBadCredentials means a wrong user name, password or token.
	ErrBadCredentials = errors.New("invalid credentials")
	// ErrExpired means a token that was valid once has expired.
	ErrExpired = errors.New("token expired: log in again")
)

// DefaultPasswordCost is the bcrypt cost of `quiver auth hash-password`: about a
// quarter of a second per check on a current CPU, paid once per Handshake.
const DefaultPasswordCost = 12

// HashPassword returns the bcrypt hash of password for an auth file's password_hash.
func HashPassword(password string, cost int) (string, error) {
	if password == "" {
		return "", errors.New("password is empty")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// staticTokenPrefix starts every static token, so that one found in a log or a
// repository is recognisable (and secret scanners can be taught to look for it).
const staticTokenPrefix = "qvs_"

// NewToken returns a fresh static token and the token_hash to store for it.
// The token has 256 random bits, so a single SHA-256 is a sound hash for it: unlike a
// password there is no dictionary to try.
func NewToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = staticTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken returns the token_hash of a static token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return tokenHashPrefix + hex.EncodeToString(sum[:])
}

// issuedTokenPrefix starts the tokens that a Handshake issues.
const issuedTokenPrefix = "qv1."

// signer issues and checks the bearer tokens a Handshake hands out. A token is
//
//	qv1.<base64url user>.<expiry, Unix seconds>.<base64url HMAC-SHA256>
//
// and the MAC covers the user name, the expiry and the user's current password hash.
// So tokens need no server-side state, they die with the signing key (a restart,
// unless a key is configured), and changing a user's password hash in the auth file
// revokes every token issued to them.
type signer struct {
	key []byte
}

func (s signer) mac(user string, expiry int64, passwordHash string) []byte {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s\x00%d\x00%s", user, expiry, passwordHash)
	return m.Sum(nil)
}

func (s signer) issue(user string, expires time.Time, passwordHash string) string {
	exp := expires.Unix()
	return issuedTokenPrefix + encodeB64([]byte(user)) + "." +
		strconv.FormatInt(exp, 10) + "." +
		encodeB64(s.mac(user, exp, passwordHash))
}

// parseIssued splits an issued token; it checks nothing but the shape.
func parseIssued(tok string) (user string, expiry int64, mac []byte, ok bool) {
	rest, ok := strings.CutPrefix(tok, issuedTokenPrefix)
	if !ok {
		return "", 0, nil, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return "", 0, nil, false
	}
	u, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	exp, err2 := strconv.ParseInt(parts[1], 10, 64)
	mac, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", 0, nil, false
	}
	return string(u), exp, mac, true
}

// verify checks a parsed token's MAC in constant time.
func (s signer) verify(user string, expiry int64, mac []byte, passwordHash string) bool {
	return hmac.Equal(mac, s.mac(user, expiry, passwordHash))
}

// matchTokenHash finds the entry whose hash is sum. It compares with every entry in
// constant time and does not stop at a match, so timing says nothing about how many
// bytes of which hash matched.
func matchTokenHash(sums [][]byte, sum []byte) int {
	found := -1
	for i, h := range sums {
		if subtle.ConstantTimeCompare(h, sum) == 1 {
			found = i
		}
	}
	return found
}

func encodeB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
