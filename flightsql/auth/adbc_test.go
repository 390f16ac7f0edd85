package auth_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	adbcflightsql "github.com/apache/arrow-adbc/go/adbc/driver/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ADBC's Flight SQL driver (the one Python's and R's ADBC packages load) logs in
// the two ways drivers do: username/password through the Handshake, and a fixed
// authorization header. Opening a connection runs the login and then a GetSqlInfo
// (GetFlightInfo), which the fake Flight SQL server records with its principal.
func TestADBCDriverAuthenticates(t *testing.T) {
	s := startGuarded(t)
	cases := []struct {
		name    string
		opts    map[string]string
		want    string // principal the server saw; "" when Open must fail
		wantErr string
	}{
		{"username and password", map[string]string{adbc.OptionKeyUsername: "writer", adbc.OptionKeyPassword: writerPassword}, "user writer", ""},
		{"authorization header", map[string]string{adbcflightsql.OptionAuthorizationHeader: "Bearer " + s.tokens["reader"]}, "token reader", ""},
		{"wrong password", map[string]string{adbc.OptionKeyUsername: "writer", adbc.OptionKeyPassword: "nope"}, "", "Unauthenticated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := map[string]string{adbc.OptionKeyURI: "grpc://" + s.addr}
			for k, v := range c.opts {
				opts[k] = v
			}
			db, err := adbcflightsql.NewDriver(memory.DefaultAllocator).NewDatabase(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			before := len(s.sql.principals())
			cnxn, err := db.Open(context.Background())
			if c.want == "" {
				if err == nil {
					cnxn.Close()
					t.Fatal("Open succeeded")
				}
				if !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Open: %v, want %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer cnxn.Close()
			seen := s.sql.principals()[before:]
			if !slices.Contains(seen, c.want) {
				t.Fatalf("the server saw %q, want a call from %q", seen, c.want)
			}
		})
	}
	s.assertNoSecrets(t)
}
