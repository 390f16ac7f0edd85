package console

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHTTPServerLimits(t *testing.T) {
	srv := NewHTTPServer(http.NotFoundHandler(), &tls.Config{NextProtos: []string{"h2"}}, nil)
	if srv.ReadHeaderTimeout != 10*time.Second || srv.ReadTimeout != time.Minute || srv.IdleTimeout != 2*time.Minute || srv.MaxHeaderBytes != 64<<10 {
		t.Fatalf("timeouts and limits: %+v", srv)
	}
	if srv.WriteTimeout != 0 {
		t.Fatal("a write timeout would cut long downloads, which --query-timeout bounds")
	}
	if got := strings.Join(srv.TLSConfig.NextProtos, ","); got != "h2,http/1.1" {
		t.Fatalf("ALPN %s", got)
	}
}

// TestHeaderTimeout holds a connection open without finishing its headers: the
// server closes it after ReadHeaderTimeout instead of keeping it forever.
func TestHeaderTimeout(t *testing.T) {
	srv := NewHTTPServer(http.NotFoundHandler(), nil, quietLogger())
	srv.ReadHeaderTimeout = 200 * time.Millisecond
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	conn, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /api/session HTTP/1.1\r\nHost: localhost\r\n")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = bufio.NewReader(conn).ReadString('\n')
	if err == nil || time.Since(start) > 4*time.Second {
		t.Fatalf("a connection with unfinished headers stayed open (%v after %v)", err, time.Since(start))
	}
}
