package catalog

import (
	"strings"
	"testing"
)

func TestEscapePartitionValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain-1.5_x~", "plain-1.5_x~"},
		{"a/b", "a%2Fb"},
		{"..", "%2E%2E"},
		{".", "%2E"},
		{"...", "..."},
		{"=", "%3D"},
		{"x\x00y", "x%00y"},
		{"ü", "%C3%BC"},
		{"", ""},
		{"%41", "%2541"},
		{HiveNull, "%5F_HIVE_DEFAULT_PARTITION__"},
		{`a b\c`, "a%20b%5Cc"},
	}
	for _, tt := range tests {
		if got := EscapePartitionValue(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got, null := UnescapePartitionValue(tt.want); got != tt.in || null {
			t.Errorf("Unescape(%q) = %q, %v; want %q", tt.want, got, null, tt.in)
		}
	}
	if _, null := UnescapePartitionValue(HiveNull); !null {
		t.Error("Unescape(HiveNull) is not NULL")
	}
	// What other writers leave as it is stays as it is.
	for _, dir := range []string{"100%", "%zz", "%4", "a%2"} {
		if got, _ := UnescapePartitionValue(dir); got != dir {
			t.Errorf("Unescape(%q) = %q", dir, got)
		}
	}
}

// FuzzPartitionValueEscape: any value escapes to a directory value the reading side
// accepts (when short enough) and unescapes to itself.
func FuzzPartitionValueEscape(f *testing.F) {
	for _, s := range []string{"", ".", "..", "a/b", "=", "k=v", "\x00", "ü", HiveNull, "%", "%41", "\\", "_x", ".x", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		e := EscapePartitionValue(v)
		if got, null := UnescapePartitionValue(e); got != v || null {
			t.Fatalf("Unescape(Escape(%q)) = %q, null %v (escaped %q)", v, got, null, e)
		}
		if strings.ContainsAny(e, "/\\=\x00") || e == "." || e == ".." || e == HiveNull {
			t.Fatalf("Escape(%q) = %q", v, e)
		}
		for i := 0; i < len(e); i++ {
			if e[i] >= 0x80 || e[i] < 0x20 {
				t.Fatalf("Escape(%q) = %q holds byte %#x", v, e, e[i])
			}
		}
		if len(e) <= maxPartitionValue {
			k, got, err := ParsePartitionDir("k=" + e)
			if err != nil || k != "k" || got != e {
				t.Fatalf("ParsePartitionDir(k=%q) = %q, %q, %v", e, k, got, err)
			}
			if err := checkPartPath("k=" + e + "/part-0.parquet"); err != nil {
				t.Fatalf("checkPartPath: %v", err)
			}
		}
	})
}
