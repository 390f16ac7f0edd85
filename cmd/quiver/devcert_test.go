package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The files of dev-cert serve TLS with a real server, and a client that passes
// --tls-ca ca.pem connects by every name given.
func TestDevCertServesTLS(t *testing.T) {
	clearCredentialEnv(t)
	dir := filepath.Join(t.TempDir(), "tls")
	if _, stderr, err := runQuiver(t, "", "auth", "dev-cert", "--out", dir, "--valid-for", "48h"); err != nil {
		t.Fatalf("dev-cert: %v %s", err, stderr)
	} else if !strings.Contains(stderr, "quiver serve --tls-cert "+filepath.Join(dir, "server.pem")) {
		t.Errorf("stderr does not show how to serve: %q", stderr)
	}
	ca := readCert(t, filepath.Join(dir, "ca.pem"))
	cert := readCert(t, filepath.Join(dir, "server.pem"))
	if !ca.IsCA || cert.IsCA {
		t.Errorf("IsCA: ca %v, server %v", ca.IsCA, cert.IsCA)
	}
	if fmt.Sprint(cert.DNSNames) != "[localhost]" || fmt.Sprint(cert.IPAddresses) != "[127.0.0.1 ::1]" {
		t.Errorf("SANs: %v %v", cert.DNSNames, cert.IPAddresses)
	}
	if k, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("server key is %T, want ECDSA P-256", cert.PublicKey)
	}
	if d := time.Until(cert.NotAfter); d > 48*time.Hour || d < 47*time.Hour {
		t.Errorf("valid for %v more, want about 48h", d)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		t.Errorf("the server certificate is not signed by ca.pem: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "server-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("server-key.pem mode: %v %v", fi.Mode(), err)
	}

	addr := startSecured(t, securityOptions{tlsCert: filepath.Join(dir, "server.pem"), tlsKey: filepath.Join(dir, "server-key.pem")})
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	for _, host := range []string{"127.0.0.1", "localhost"} {
		server := "grpc+tls://" + host + ":" + port
		if _, stderr, err := runQuiver(t, "", "ls", "--server", server, "--tls-ca", filepath.Join(dir, "ca.pem")); err != nil {
			msg, _ := explain(err, server)
			t.Errorf("ls --server %s --tls-ca ca.pem: %s %s", server, msg, stderr)
		}
	}
	// Without the CA the client says to pass it.
	_, _, err := runQuiver(t, "", "ls", "--server", "grpc+tls://"+addr)
	if msg, _ := explain(err, addr); !strings.Contains(msg, "pass --tls-ca") {
		t.Errorf("without --tls-ca: %q", msg)
	}

	// It does not overwrite, unless --force.
	_, _, err = runQuiver(t, "", "auth", "dev-cert", "--out", dir)
	if msg, code := explain(err, ""); code != exitUsage || !strings.Contains(msg, "--force") {
		t.Errorf("second dev-cert: exit %d, %q", code, msg)
	}
	if _, _, err := runQuiver(t, "", "auth", "dev-cert", "--out", dir, "--force", "--host", "quiver.test"); err != nil {
		t.Fatal(err)
	}
	if c := readCert(t, filepath.Join(dir, "server.pem")); fmt.Sprint(c.DNSNames) != "[quiver.test]" || len(c.IPAddresses) != 0 {
		t.Errorf("after --force --host quiver.test: %v %v", c.DNSNames, c.IPAddresses)
	}
}

func TestDevCertFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"auth", "dev-cert"}, "--out DIR is required"},
		{[]string{"auth", "dev-cert", "--out", t.TempDir(), "--valid-for", "-1h"}, "--valid-for"},
	} {
		_, _, err := runQuiver(t, "", c.args...)
		if msg, code := explain(err, ""); code != exitUsage || !strings.Contains(msg, c.want) {
			t.Errorf("%q: exit %d, %q", c.args, code, msg)
		}
	}
}
