package auth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/bcrypt"
)

// File is the auth file (--auth-file), TOML:
//
//	[[user]]
//	name          = "alice"
//	password_hash = "$2a$12$..."        # `quiver auth hash-password`
//	permission    = "write"             # read | write | admin
//	datasets      = ["sales*", "ref-*"] # optional glob patterns; omitted: every dataset
//
//	[[token]]
//	name       = "grafana"              # a label for logs; the token itself is not stored
//	token_hash = "sha256:9f86d0..."     # `quiver auth new-token`
//	permission = "read"
//	expires    = 2027-01-01T00:00:00Z   # optional
//
// Passwords are stored only as bcrypt hashes and tokens only as SHA-256 hashes, so
// the file gives away no credential (a bcrypt hash still deserves mode 0600).
type File struct {
	Users  []UserEntry  `toml:"user"`
	Tokens []TokenEntry `toml:"token"`
}

// UserEntry is one [[user]] table: someone who logs in with a name and password.
type UserEntry struct {
	Name         string   `toml:"name"`
	PasswordHash string   `toml:"password_hash"`
	Permission   string   `toml:"permission"`
	Datasets     []string `toml:"datasets"`
}

// TokenEntry is one [[token]] table: a static bearer token for a program.
type TokenEntry struct {
	Name       string    `toml:"name"`
	TokenHash  string    `toml:"token_hash"`
	Permission string    `toml:"permission"`
	Datasets   []string  `toml:"datasets"`
	Expires    time.Time `toml:"expires"`
}

// tokenHashPrefix names the hash function of a stored token hash.
const tokenHashPrefix = "sha256:"

// LoadFile reads and checks the auth file at path.
func LoadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	f, err := ParseFile(b)
	if err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	return f, nil
}

// ParseFile parses and checks the contents of an auth file. Unknown keys are errors,
// so a misspelt "datasets" cannot silently widen a grant and a plain "password"
// cannot sit in the file unnoticed.
func ParseFile(b []byte) (*File, error) {
	var f File
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&f)
	if err != nil {
		// toml's errors quote the offending line, which may hold a secret someone
		// pasted by mistake: report the position only.
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("TOML error at line %d (key %q)", perr.Position.Line, perr.LastKey)
		}
		return nil, fmt.Errorf("TOML: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("unknown keys %s (a user has name, password_hash, permission, datasets; a token has name, token_hash, permission, datasets, expires)", strings.Join(keys, ", "))
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func (f *File) validate() error {
	users := map[string]bool{}
	for i, u := range f.Users {
		where := fmt.Sprintf("user #%d %q", i+1, u.Name)
		if u.Name == "" || strings.ContainsAny(u.Name, ":\x00") {
			return fmt.Errorf("%s: name must be non-empty and contain no ':'", where)
		}
		if users[u.Name] {
			return fmt.Errorf("%s: defined twice", where)
		}
		users[u.Name] = true
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			return fmt.Errorf("%s: password_hash is not a bcrypt hash (make one with `quiver auth hash-password`)", where)
		}
		if err := validateGrant(u.Permission, u.Datasets); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	tokens := map[string]bool{}
	for i, t := range f.Tokens {
		where := fmt.Sprintf("token #%d %q", i+1, t.Name)
		if t.Name == "" {
			return fmt.Errorf("%s: name must be non-empty", where)
		}
		if tokens[t.Name] {
			return fmt.Errorf("%s: defined twice", where)
		}
		tokens[t.Name] = true
		if _, err := parseTokenHash(t.TokenHash); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if err := validateGrant(t.Permission, t.Datasets); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

func validateGrant(perm string, datasets []string) error {
	if _, err := ParsePermission(perm); err != nil {
		return err
	}
	return validatePatterns(datasets)
}

// parseTokenHash decodes "sha256:<64 hex digits>".
func parseTokenHash(s string) ([]byte, error) {
	h, ok := strings.CutPrefix(s, tokenHashPrefix)
	if !ok {
		return nil, fmt.Errorf("token_hash must start with %q (make one with `quiver auth new-token`)", tokenHashPrefix)
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("token_hash must be %s followed by 64 hex digits", tokenHashPrefix)
	}
	return b, nil
}
