package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestCloseNames(t *testing.T) {
	names := []string{"sales.parquet", "sales_2023.parquet", "sales_2024.parquet", "weather.parquet", "Users.parquet"}
	cases := []struct {
		typed string
		want  []string
	}{
		{"sale.parquet", []string{"sales.parquet"}},
		{"sales", []string{"sales.parquet"}},                                 // the suffix left off
		{"users.parquet", []string{"Users.parquet"}},                         // case
		{"sales_2025", []string{"sales_2023.parquet", "sales_2024.parquet"}}, // ties sorted by name
		{"2024", []string{"sales_2024.parquet"}},                             // a part of a name
		{"nope", nil},
	}
	for _, c := range cases {
		t.Run(c.typed, func(t *testing.T) {
			if got := closeNames(c.typed, names); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("closeNames(%q) = %q, want %q", c.typed, got, c.want)
			}
		})
	}
}

func TestParseServer(t *testing.T) {
	cases := []struct {
		in, target string
		tls, bad   bool
	}{
		{in: "grpc://localhost:8815", target: "localhost:8815"},
		{in: "grpc+tcp://10.0.0.1:1", target: "10.0.0.1:1"},
		{in: "grpc+tls://example.com:443", target: "example.com:443", tls: true},
		{in: "example.com", target: "example.com:8815"},
		{in: "[::1]:9000", target: "[::1]:9000"},
		{in: "http://x:1", bad: true},
		{in: "grpc://x:1/path", bad: true},
		{in: "grpc://", bad: true},
	}
	for _, c := range cases {
		target, useTLS, err := parseServer(c.in)
		if c.bad {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Errorf("parseServer(%q) err = %v, want a usage error", c.in, err)
			}
			continue
		}
		if err != nil || target != c.target || useTLS != c.tls {
			t.Errorf("parseServer(%q) = %q, %v, %v; want %q tls=%v", c.in, target, useTLS, err, c.target, c.tls)
		}
	}
}

func TestExplain(t *testing.T) {
	cases := []struct {
		err  error
		code int
		msg  string
	}{
		{status.Error(codes.Unavailable, "connection refused"), exitUnreachable, "cannot reach a Quiver server at grpc://h:1"},
		{fmt.Errorf("put %q: %w", "x", status.Error(codes.InvalidArgument, "bad batch")), exitFailure, `put "x": the server refused the request: bad batch`},
		{status.Error(codes.PermissionDenied, "writes are not allowed"), exitFailure, "not allowed: writes are not allowed"},
		{status.Error(codes.Unauthenticated, "no token"), exitFailure, "authenticate"},
		{status.Error(codes.Internal, "boom"), exitFailure, "the server failed: boom"},
		{&notFoundError{name: "x", suggestions: []string{"y"}, any: true}, exitNotFound, `dataset "x" does not exist; did you mean "y"?`},
		{&notFoundError{name: "x"}, exitNotFound, "the server has no datasets yet"},
		{&existsError{name: "x", rows: 2}, exitExists, "--replace"},
		{usageErrorf("bad"), exitUsage, "bad"},
		{errors.New("plain"), exitFailure, "plain"},
	}
	for _, c := range cases {
		msg, code := explain(c.err, "grpc://h:1")
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("explain(%v) = %q, %d; want %q, %d", c.err, msg, code, c.msg, c.code)
		}
		if strings.Contains(msg, "rpc error") {
			t.Errorf("explain(%v) = %q shows gRPC's wording", c.err, msg)
		}
	}
}
