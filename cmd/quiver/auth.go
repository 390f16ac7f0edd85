package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/quiverdata/quiver/flightsql/auth"
)

// newAuthCommand is `quiver auth`: it makes entries for the server's --auth-file.
// It needs no server: it prints TOML to paste or append.
func newAuthCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Make users and tokens for the server's --auth-file, and certificates for trying TLS",
		Long: `Make entries for the auth file of ` + "`quiver serve --auth-file FILE`" + `.

The auth file is TOML with [[user]] and [[token]] tables:

  [[user]]
  name          = "alice"
  password_hash = "$2a$12$..."          # bcrypt, from quiver auth hash-password
  permission    = "write"               # read | write | admin
  datasets      = ["sales*", "ref_*"]   # optional glob patterns; omitted = every dataset

  [[token]]
  name       = "grafana"                # a label for logs
  token_hash = "sha256:..."             # from quiver auth new-token
  permission = "read"
  expires    = 2027-01-01T00:00:00Z     # optional

read lists, describes and fetches datasets and runs SQL queries; write adds put,
ingest and drop; admin allows everything. A grant limited to dataset patterns
cannot run SQL statements or list tables over Flight SQL (the server cannot tell
which datasets a statement reads). The server reads the file at start.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newHashPasswordCommand(), newNewTokenCommand(), newDevCertCommand())
	return cmd
}

// grantFlags are the permission flags both subcommands share.
type grantFlags struct {
	permission string
	datasets   []string
}

func (g *grantFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&g.permission, "permission", "read", "read, write or admin")
	cmd.Flags().StringSliceVar(&g.datasets, "datasets", nil, "limit to datasets matching these glob patterns (comma-separated)")
}

func (g *grantFlags) check() error {
	perm, err := auth.ParsePermission(g.permission)
	if err != nil {
		return err
	}
	g.permission = perm.String()
	// Let the auth file's own checks judge the patterns.
	_, err = auth.ParseFile([]byte("[[token]]\nname = \"x\"\ntoken_hash = \"sha256:" + strings.Repeat("0", 64) + "\"\npermission = \"read\"\ndatasets = " + tomlStrings(g.datasets) + "\n"))
	return err
}

func newHashPasswordCommand() *cobra.Command {
	var (
		name  string
		cost  int
		grant grantFlags
	)
	cmd := &cobra.Command{
		Use:   "hash-password --user NAME",
		Short: "Hash a password and print a [[user]] entry",
		Long: `Read a password (from the terminal, asked twice, or the first line of stdin)
and print a [[user]] entry with its bcrypt hash for the auth file:

  quiver auth hash-password --user alice --permission write >> auth.toml

The password itself is not printed or stored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return errors.New("--user is required")
			}
			if err := grant.check(); err != nil {
				return err
			}
			pw, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			hash, err := auth.HashPassword(pw, cost)
			if err != nil {
				return err
			}
			entry := fmt.Sprintf("[[user]]\nname = %s\npassword_hash = %s\npermission = %s\n",
				tomlString(name), tomlString(hash), tomlString(grant.permission))
			if len(grant.datasets) > 0 {
				entry += "datasets = " + tomlStrings(grant.datasets) + "\n"
			}
			if _, err := auth.ParseFile([]byte(entry)); err != nil {
				return fmt.Errorf("the entry would not load: %w", err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), entry)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "user", "", "user name (no ':')")
	cmd.Flags().IntVar(&cost, "cost", auth.DefaultPasswordCost, "bcrypt cost (each +1 doubles the time of a login)")
	grant.add(cmd)
	return cmd
}

func newNewTokenCommand() *cobra.Command {
	var (
		name    string
		expires time.Duration
		grant   grantFlags
	)
	cmd := &cobra.Command{
		Use:   "new-token --name NAME",
		Short: "Make a static bearer token and print its [[token]] entry",
		Long: `Make a random static bearer token. The [[token]] entry (with only the
token's hash) goes to stdout, the token itself to stderr, once:

  quiver auth new-token --name grafana --permission read >> auth.toml

Clients send it as the header ` + "`authorization: Bearer <token>`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return errors.New("--name is required")
			}
			if err := grant.check(); err != nil {
				return err
			}
			tok, hash, err := auth.NewToken()
			if err != nil {
				return err
			}
			entry := fmt.Sprintf("[[token]]\nname = %s\ntoken_hash = %s\npermission = %s\n",
				tomlString(name), tomlString(hash), tomlString(grant.permission))
			if len(grant.datasets) > 0 {
				entry += "datasets = " + tomlStrings(grant.datasets) + "\n"
			}
			if expires > 0 {
				entry += "expires = " + time.Now().Add(expires).UTC().Truncate(time.Second).Format(time.RFC3339) + "\n"
			}
			if _, err := auth.ParseFile([]byte(entry)); err != nil {
				return fmt.Errorf("the entry would not load: %w", err)
			}
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), entry); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.ErrOrStderr(), "token for %q (shown once, not stored; send it as `authorization: Bearer <token>`):\n%s\n", name, tok)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "a label for the token, shown in logs")
	cmd.Flags().DurationVar(&expires, "expires-in", 0, "expire the token after this long (e.g. 720h); 0: never")
	grant.add(cmd)
	return cmd
}

// readPassword asks twice on a terminal, or reads the first line of a pipe.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if !bytes.Equal(a, b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// tomlString quotes s as a TOML basic string (JSON's escapes are TOML's).
func tomlString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func tomlStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
