package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Saying what is wrong when a connection fails. gRPC reports every failed connection
// as Unavailable with the cause flattened into text; instead of reading that text, the
// client connects again the way it tried to, by hand, and looks at the typed errors of
// crypto/tls and crypto/x509.

// diagnoseDial is the diagnosis of the connection the command made, for explain; nil
// before dial. One process runs one command, as with dialedServer.
var diagnoseDial func(context.Context) string

// diagnose connects to server with the TLS settings of c and returns a sentence that
// says what is wrong with TLS, or "" when it finds nothing (no server listening, or
// TLS works and the failure is elsewhere).
func (c clientSecurity) diagnose(ctx context.Context, server string) string {
	target, useTLS, err := parseServer(server)
	if err != nil {
		return ""
	}
	useTLS = useTLS || c.tlsFlagsGiven()
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", target)
	if err != nil {
		return "" // nothing listens: the usual "cannot reach" message says so
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}

	if !useTLS {
		// Does the server speak TLS? Any certificate will do to find out.
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12})
		if tc.HandshakeContext(ctx) == nil {
			return fmt.Sprintf("the server at %s speaks TLS; use --server grpc+tls://%s (with --tls-ca CA.pem when its certificate is not from a public CA)", server, target)
		}
		return ""
	}

	cfg, err := c.tlsConfig()
	if err != nil {
		return ""
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"h2"}
	tc := tls.Client(conn, cfg)
	err = tc.HandshakeContext(ctx)
	if err == nil {
		// In TLS 1.3 a server refuses a missing or unknown client certificate only
		// after the handshake: read its first bytes to see whether an alert comes.
		tc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, err = tc.Read(make([]byte, 1))
		return tlsAlertSentence(err, c)
	}
	return tlsHandshakeSentence(err, server, target, cfg.ServerName, c)
}

// tlsHandshakeSentence explains a failed TLS handshake.
func tlsHandshakeSentence(err error, server, target, name string, c clientSecurity) string {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown):
		if c.tlsCA != "" {
			return fmt.Sprintf("the server's certificate is not trusted: %v; it is not signed by the CA in --tls-ca %s", err, c.tlsCA)
		}
		return fmt.Sprintf("the server's certificate is not trusted: %v; pass --tls-ca with the CA certificate that signed it", err)
	case errors.As(err, &hostname):
		return fmt.Sprintf("the server's certificate does not name %q: %v; connect with a name it lists, or pass --tls-server-name NAME", name, err)
	case errors.As(err, &invalid):
		return fmt.Sprintf("the server's certificate is not valid: %v", err)
	case errors.As(err, &record):
		return fmt.Sprintf("the server at %s does not speak TLS; use --server grpc://%s without the --tls-* flags", server, target)
	}
	if why := tlsAlertSentence(err, c); why != "" {
		return why
	}
	return fmt.Sprintf("the TLS handshake with %s failed: %v", target, err)
}

// tlsAlertSentence explains an alert the server sent, or returns "" when err is not
// one. crypto/tls reports a received alert as a *net.OpError "remote error" around an
// unexported type, so its text is all there is to read.
func tlsAlertSentence(err error, c clientSecurity) string {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" {
		return ""
	}
	alert := op.Err.Error()
	switch {
	case strings.Contains(alert, "certificate required") && c.tlsCert == "":
		return "the server wants a client certificate: pass --tls-cert and --tls-key"
	case c.tlsCert != "" && (strings.Contains(alert, "certificate required") || strings.Contains(alert, "bad certificate") || strings.Contains(alert, "unknown certificate authority")):
		// Go's client sends no certificate when none is from a CA the server names,
		// so an untrusted one also ends as "certificate required".
		return fmt.Sprintf("the server refused the client certificate --tls-cert %s (%s): it is not signed by a CA the server trusts", c.tlsCert, alert)
	}
	return fmt.Sprintf("the server ended the TLS handshake: %s", alert)
}
