package catalog

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateName(t *testing.T) {
	long200 := strings.Repeat("a", 200)
	long201 := strings.Repeat("a", 201)
	tests := []struct {
		name    string
		in      string
		wantErr string // substring of the error message; "" means valid
	}{
		{"parent traversal", "../x", "starts with '.'"},
		{"absolute path", "/etc/passwd", "'/'"},
		{"slash", "a/b", "'/'"},
		{"backslash", `a\b`, `'\\'`},
		{"hidden", ".hidden", "starts with '.'"},
		{"dotdot", "..", "starts with '.'"},
		{"dot", ".", "starts with '.'"},
		{"empty", "", "empty"},
		{"NUL byte", "a\x00b", `'\x00'`},
		{"trailing NUL", "x.parquet\x00", `'\x00'`},
		{"space", "my data", "' '"},
		{"leading space", " x", "' '"},
		{"unicode", "données", "'é' at byte 4"},
		{"invalid UTF-8", "a\xffb", `'\xff' at byte 1`},
		{"emoji", "📈", "'📈' at byte 0"},
		{"200 bytes", long200, ""},
		{"201 bytes", long201, "201 bytes, longer than 200"},
		{"suffix alone", ".parquet", "starts with '.'"},
		{"with suffix", "x.parquet", ""},
		{"cookbook", "uploaded.parquet", ""},
		{"plain", "sales", ""},
		{"all allowed", "Az09_-.x", ""},
		{"double suffix", "x.parquet.parquet", ""},
		{"trailing dot", "x.", ""},
		{"newline", "x\ny", `'\n'`},
		{"colon", "c:x", "':'"},
		{"star", "*", "'*'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateName(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateName(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateName(%q) = nil, want an error mentioning %q", tt.in, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("ValidateName(%q) = %v, not ErrInvalidName", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidateName(%q) = %q, want it to mention %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestTableName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"uploaded.parquet", "uploaded"},
		{"sales", "sales"},
		{"x.parquet.parquet", "x.parquet"},
		{"x.PARQUET", "x.PARQUET"}, // only the exact lower-case suffix is dropped
		{"parquet", "parquet"},
		{"x.parq", "x.parq"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := TableName(tt.in); got != tt.want {
				t.Errorf("TableName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSameTable(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"sales", "sales.parquet", true},
		{"sales", "Sales.parquet", true},
		{"SALES", "sales", true},
		{"sales", "sales2", false},
		{"sales.parquet", "sales.parquet.parquet", false},
	}
	for _, tt := range tests {
		if got := sameTable(tt.a, tt.b); got != tt.want {
			t.Errorf("sameTable(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// FuzzValidateName checks that every accepted name is a single, harmless path element:
// joined to a root it stays directly inside it.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"uploaded.parquet", "../x", "/etc/passwd", "a/b", `a\b`, ".hidden", "..", ".", "", "a\x00b", "my data", "données", ".parquet", "x.parquet", strings.Repeat("a", 200)} {
		f.Add(s)
	}
	const root = "/srv/quiver/datasets"
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("ValidateName(%q) = %v, not ErrInvalidName", name, err)
			}
			return
		}
		if name == "" || len(name) > MaxNameLength {
			t.Fatalf("accepted %q of length %d", name, len(name))
		}
		if strings.ContainsAny(name, "/\\\x00") || name[0] == '.' {
			t.Fatalf("accepted %q", name)
		}
		if !utf8.ValidString(name) {
			t.Fatalf("accepted invalid UTF-8 %q", name)
		}
		p := filepath.Join(root, name)
		if filepath.Dir(p) != root || filepath.Base(p) != name {
			t.Fatalf("accepted %q joins to %q, outside %s or not one element", name, p, root)
		}
		if rel, err := filepath.Rel(root, p); err != nil || rel != name {
			t.Fatalf("accepted %q: Rel = %q, %v", name, rel, err)
		}
		if TableName(name) == "" {
			t.Fatalf("accepted %q with an empty table name", name)
		}
	})
}
