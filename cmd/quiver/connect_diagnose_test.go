package main

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// clearCredentialEnv keeps the caller's environment out of a test.
func clearCredentialEnv(t *testing.T) {
	t.Setenv("QUIVER_TOKEN", "")
	t.Setenv("QUIVER_USER", "")
	t.Setenv("QUIVER_PASSWORD", "")
	t.Setenv("QUIVER_SERVER", "")
}

// Every TLS mistake gets a sentence that says what is wrong, through the command line
// and explain, as a user sees it.
func TestTLSMistakesExplained(t *testing.T) {
	clearCredentialEnv(t)
	ca := newTestCA(t, "quiver-test")
	cert, key := ca.issue(t, "server", true)
	other := newTestCA(t, "other")
	rogueCert, rogueKey := other.issue(t, "intruder", false)
	tlsAddr := startSecured(t, securityOptions{tlsCert: cert, tlsKey: key})
	mtlsAddr := startSecured(t, securityOptions{tlsCert: cert, tlsKey: key, tlsClientCA: ca.CertPEM})
	plainAddr := startSecured(t, securityOptions{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := lis.Addr().String()
	lis.Close()

	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"untrusted certificate", []string{"--server", "grpc+tls://" + tlsAddr},
			[]string{"the server's certificate is not trusted", "pass --tls-ca"}},
		{"certificate from another CA", []string{"--server", "grpc+tls://" + tlsAddr, "--tls-ca", other.CertPEM},
			[]string{"the server's certificate is not trusted", "not signed by the CA in --tls-ca " + other.CertPEM}},
		{"hostname mismatch", []string{"--server", "grpc+tls://" + tlsAddr, "--tls-ca", ca.CertPEM, "--tls-server-name", "quiver.example.com"},
			[]string{`does not name "quiver.example.com"`, "--tls-server-name"}},
		{"plaintext to a TLS port", []string{"--server", "grpc://" + tlsAddr},
			[]string{"speaks TLS", "use --server grpc+tls://" + tlsAddr}},
		{"TLS to a plaintext port", []string{"--server", "grpc+tls://" + plainAddr, "--tls-ca", ca.CertPEM},
			[]string{"does not speak TLS", "use --server grpc://" + plainAddr}},
		{"no client certificate for mutual TLS", []string{"--server", "grpc+tls://" + mtlsAddr, "--tls-ca", ca.CertPEM},
			[]string{"the server wants a client certificate: pass --tls-cert and --tls-key"}},
		{"client certificate from another CA", []string{"--server", "grpc+tls://" + mtlsAddr, "--tls-ca", ca.CertPEM, "--tls-cert", rogueCert, "--tls-key", rogueKey},
			[]string{"the server refused the client certificate --tls-cert " + rogueCert}},
		{"nothing listening", []string{"--server", "grpc://" + closedAddr},
			[]string{"cannot reach a Quiver server at grpc://" + closedAddr}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := runQuiver(t, "", append([]string{"ls"}, c.args...)...)
			if err == nil {
				t.Fatal("ls succeeded")
			}
			msg, code := explain(err, dialedServer)
			if code != exitUnreachable {
				t.Errorf("exit %d, want %d", code, exitUnreachable)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if len(c.want) > 0 && !strings.HasPrefix(c.want[0], "cannot reach") && strings.Contains(msg, "cannot reach") {
				t.Errorf("a TLS mistake reported as unreachable: %q", msg)
			}
		})
	}
	// And the right settings work.
	if _, stderr, err := runQuiver(t, "", "ls", "--server", "grpc+tls://"+tlsAddr, "--tls-ca", ca.CertPEM); err != nil {
		t.Fatalf("ls with --tls-ca: %v %s", err, stderr)
	}
}

func TestUserPasswordPrompt(t *testing.T) {
	clearCredentialEnv(t)
	authFile, _ := writeAuthFile(t, "s3cret-pw")
	addr := startSecured(t, securityOptions{authFile: authFile, tokenTTL: time.Hour})
	old := askPassword
	t.Cleanup(func() { askPassword = old })

	var asked []string
	askPassword = func(user string) (string, error) {
		asked = append(asked, user)
		return "s3cret-pw", nil
	}
	if _, stderr, err := runQuiver(t, "", "ls", "--server", addr, "--user", "alice"); err != nil {
		t.Fatalf("ls --user with the password asked: %v %s", err, stderr)
	}
	if len(asked) != 1 || asked[0] != "alice" {
		t.Errorf("asked for %q, want once for alice", asked)
	}
	// A password from the environment is not asked for.
	t.Setenv("QUIVER_PASSWORD", "s3cret-pw")
	if _, _, err := runQuiver(t, "", "ls", "--server", addr, "--user", "alice"); err != nil || len(asked) != 1 {
		t.Errorf("with QUIVER_PASSWORD: err %v, asked %d times", err, len(asked))
	}
	t.Setenv("QUIVER_PASSWORD", "")
	// No terminal to ask on: the error says how to give the password.
	askPassword = func(string) (string, error) { return "", errors.New("stdin is not a terminal to ask on") }
	_, _, err := runQuiver(t, "", "ls", "--server", addr, "--user", "alice")
	if msg, _ := explain(err, addr); !strings.Contains(msg, "set QUIVER_PASSWORD") || !strings.Contains(msg, "not a terminal") {
		t.Errorf("without a terminal: %q", msg)
	}
}
