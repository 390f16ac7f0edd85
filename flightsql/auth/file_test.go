package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestParseFile(t *testing.T) {
	hash, _ := HashPassword("pw", bcrypt.MinCost)
	_, tokHash, _ := NewToken()
	good := `
[[user]]
name = "alice"
password_hash = "` + hash + `"
permission = "write"
datasets = ["sales*", "ref-?.parquet"]

[[user]]
name = "root"
password_hash = "` + hash + `"
permission = "admin"

[[token]]
name = "grafana"
token_hash = "` + tokHash + `"
permission = "read"
expires = 2027-01-01T00:00:00Z
`
	f, err := ParseFile([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Users) != 2 || len(f.Tokens) != 1 {
		t.Fatalf("parsed %d users, %d tokens", len(f.Users), len(f.Tokens))
	}
	if got := f.Tokens[0].Expires; !got.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expires = %v", got)
	}
	if _, err := New(f, Options{}); err != nil {
		t.Fatal(err)
	}

	bad := []struct{ name, text, want string }{
		{"plain password", "[[user]]\nname = \"a\"\npassword = \"hunter2\"\npermission = \"read\"\n", "unknown keys user.password"},
		{"misspelt datasets", "[[user]]\nname = \"a\"\npassword_hash = \"" + hash + "\"\npermission = \"read\"\ndataset = [\"x\"]\n", "unknown keys user.dataset"},
		{"hash not bcrypt", "[[user]]\nname = \"a\"\npassword_hash = \"hunter2\"\npermission = \"read\"\n", "not a bcrypt hash"},
		{"no permission", "[[user]]\nname = \"a\"\npassword_hash = \"" + hash + "\"\n", "want read, write or admin"},
		{"bad permission", "[[user]]\nname = \"a\"\npassword_hash = \"" + hash + "\"\npermission = \"root\"\n", "want read, write or admin"},
		{"colon in name", "[[user]]\nname = \"a:b\"\npassword_hash = \"" + hash + "\"\npermission = \"read\"\n", "no ':'"},
		{"duplicate user", "[[user]]\nname = \"a\"\npassword_hash = \"" + hash + "\"\npermission = \"read\"\n[[user]]\nname = \"a\"\npassword_hash = \"" + hash + "\"\npermission = \"read\"\n", "defined twice"},
		{"bad pattern", "[[user]]\nname = \"a\"\npassword_hash = \"" + hash + "\"\npermission = \"read\"\ndatasets = [\"[x\"]\n", "pattern"},
		{"plain token", "[[token]]\nname = \"t\"\ntoken_hash = \"qvs_abc\"\npermission = \"read\"\n", "must start with"},
		{"short token hash", "[[token]]\nname = \"t\"\ntoken_hash = \"sha256:abcd\"\npermission = \"read\"\n", "64 hex digits"},
		{"syntax hides secret", "[[user]]\nname = \"a\"\npassword_hash = hunter2secret\n", "line 3"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseFile([]byte(c.text))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			for _, secret := range []string{"hunter2", "qvs_abc"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q repeats the secret %q", err, secret)
				}
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.toml")
	if _, err := LoadFile(path); err == nil {
		t.Fatal("missing file accepted")
	}
	if err := os.WriteFile(path, []byte("# nobody yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := LoadFile(path)
	if err != nil || len(f.Users)+len(f.Tokens) != 0 {
		t.Fatalf("LoadFile = %+v, %v", f, err)
	}
}

func TestGrantCovers(t *testing.T) {
	cases := []struct {
		patterns []string
		name     string
		want     bool
	}{
		{nil, "anything.parquet", true},
		{[]string{"*"}, "anything.parquet", true},
		{[]string{"sales*"}, "sales.parquet", true},
		{[]string{"sales*"}, "sales_2024", true},
		{[]string{"sales*"}, "SALES.parquet", true},
		{[]string{"Sales*"}, "sales.parquet", true},
		{[]string{"sales*"}, "marketing.parquet", false},
		{[]string{"sales"}, "sales.parquet", true}, // the table name
		{[]string{"sales"}, "sales2.parquet", false},
		{[]string{"sales.parquet"}, "sales", false},
		{[]string{"ref-?.parquet", "x"}, "ref-1.parquet", true},
		{[]string{"ref-?.parquet", "x"}, "ref-10.parquet", false},
		{[]string{"a*"}, "", false},
	}
	for _, c := range cases {
		g := Grant{Permission: Read, Datasets: c.patterns}
		if got := g.Covers(c.name); got != c.want {
			t.Errorf("%q covers %q = %v, want %v", c.patterns, c.name, got, c.want)
		}
	}
}
