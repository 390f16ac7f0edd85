package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

// devCertFiles are the files `quiver auth dev-cert` writes into its directory.
var devCertFiles = struct{ ca, cert, key string }{ca: "ca.pem", cert: "server.pem", key: "server-key.pem"}

// newDevCertCommand is `quiver auth dev-cert`: a throwaway CA and a server certificate
// signed by it, for trying TLS without a real CA.
func newDevCertCommand() *cobra.Command {
	var out string
	var hosts []string
	var validFor time.Duration
	var force bool
	cmd := &cobra.Command{
		Use:   "dev-cert --out DIR",
		Short: "Make a CA and a server certificate for trying TLS",
		Long: `Make a throwaway certificate authority and a server certificate it signs, for
trying TLS on one machine or a test network. It writes, into --out:

  ca.pem           the CA certificate: clients pass it as --tls-ca
  server.pem       the server certificate, for --host's names and addresses
  server-key.pem   its private key (mode 0600)

The CA's own key is not kept, so it can sign nothing else. Keys are ECDSA P-256; the
certificates expire after --valid-for. For production, use certificates from your
own or a public CA.`,
		Example: `  quiver auth dev-cert --out ./tls --host localhost --host 127.0.0.1
  quiver serve --tls-cert tls/server.pem --tls-key tls/server-key.pem
  quiver ls --server grpc+tls://localhost:8815 --tls-ca tls/ca.pem`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErrorf("--out DIR is required")
			}
			if validFor <= 0 {
				return usageErrorf("--valid-for %v: want a positive duration", validFor)
			}
			if len(hosts) == 0 {
				return usageErrorf("--host: give at least one name or address")
			}
			if err := writeDevCerts(out, hosts, validFor, force, time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s, %s and %s in %s (valid for %s, for %v)\n"+
				"serve:   quiver serve --tls-cert %s --tls-key %s\n"+
				"connect: quiver ls --server grpc+tls://%s --tls-ca %s\n",
				devCertFiles.ca, devCertFiles.cert, devCertFiles.key, out, validFor, hosts,
				filepath.Join(out, devCertFiles.cert), filepath.Join(out, devCertFiles.key),
				net.JoinHostPort(hosts[0], "8815"), filepath.Join(out, devCertFiles.ca))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write the files into (made if missing)")
	f.StringSliceVar(&hosts, "host", []string{"localhost", "127.0.0.1", "::1"}, "DNS names and IP addresses the server certificate is for (repeat or comma-separate)")
	f.DurationVar(&validFor, "valid-for", 30*24*time.Hour, "how long the certificates are valid")
	f.BoolVar(&force, "force", false, "overwrite files that exist")
	return cmd
}

// writeDevCerts makes the CA and the server certificate for hosts and writes them into
// dir. Without force it refuses to overwrite any of the files.
func writeDevCerts(dir string, hosts []string, validFor time.Duration, force bool, now time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dev-cert: %w", err)
	}
	if !force {
		for _, name := range []string{devCertFiles.ca, devCertFiles.cert, devCertFiles.key} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return usageErrorf("dev-cert: %s exists; --force overwrites it", filepath.Join(dir, name))
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("dev-cert: %w", err)
			}
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("dev-cert: CA key: %w", err)
	}
	notBefore, notAfter := now.Add(-5*time.Minute), now.Add(validFor) // a little slack for clock skew
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Quiver development CA", Organization: []string{"quiver dev-cert"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("dev-cert: CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("dev-cert: CA certificate: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("dev-cert: server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"quiver dev-cert"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("dev-cert: server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("dev-cert: server key: %w", err)
	}
	for _, f := range []struct {
		name, typ string
		der       []byte
		mode      os.FileMode
	}{
		{devCertFiles.ca, "CERTIFICATE", caDER, 0o644},
		{devCertFiles.cert, "CERTIFICATE", der, 0o644},
		{devCertFiles.key, "PRIVATE KEY", keyDER, 0o600},
	} {
		path := filepath.Join(dir, f.name)
		os.Remove(path) // --force: a new file gets f.mode, not the old file's
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
			return fmt.Errorf("dev-cert: %w", err)
		}
	}
	return nil
}

// randomSerial is a 128-bit random serial number, as RFC 5280 asks (positive, unique).
func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // crypto/rand does not fail on supported systems
	}
	return n.Add(n, big.NewInt(1))
}
