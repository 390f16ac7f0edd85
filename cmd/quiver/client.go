package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc"

	"github.com/quiverdata/quiver/catalog"
)

// The client subcommands talk to a server only over Flight and Flight SQL, like any
// other client. This file holds what they share: flags, dialing, dataset lookups.

// defaultServer is where the client looks without --server or QUIVER_SERVER; it is
// where `quiver serve` listens by default.
const defaultServer = "grpc://localhost:8815"

// maxMessageBytes bounds one gRPC message (one record batch), as the server does.
const maxMessageBytes = 256 << 20

// clientOptions are the flags every client subcommand has.
type clientOptions struct {
	server   string
	progress string         // auto, always or never
	security clientSecurity // TLS and credentials (clientconn.go)
}

// addClientFlags adds the client flags to cmd. They are per command rather than
// persistent on the root so that `quiver serve --help` does not show them.
func addClientFlags(cmd *cobra.Command, o *clientOptions) {
	server := os.Getenv("QUIVER_SERVER")
	if server == "" {
		server = defaultServer
	}
	f := cmd.Flags()
	f.StringVarP(&o.server, "server", "s", server, "server address, grpc://HOST:PORT or grpc+tls://HOST:PORT (env QUIVER_SERVER)")
	f.StringVar(&o.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	o.security.addFlags(f)
}

// dial connects to the server o names. It is the one place that turns flags into a
// connection, so authentication and TLS options plug in here.
func dial(ctx context.Context, o *clientOptions) (flight.Client, error) {
	dialedServer = o.server
	diagnoseDial = func(ctx context.Context) string { return o.security.diagnose(ctx, o.server) }
	c, err := o.security.connect(ctx, o.server,
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageBytes), grpc.MaxCallSendMsgSize(maxMessageBytes)))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.server, err)
	}
	return c, nil
}

// dialedServer is the server the command dialed, for error messages. One process runs
// one command, so one variable is enough.
var dialedServer = defaultServer

// parseServer splits a --server value into a gRPC target and whether it asks for
// TLS: grpc://HOST:PORT and grpc+tcp://HOST:PORT are plaintext, grpc+tls://HOST:PORT
// is TLS (the schemes of the ADBC and JDBC drivers); a bare HOST:PORT is plaintext
// unless a TLS flag is given. The port defaults to 8815.
func parseServer(s string) (target string, useTLS bool, err error) {
	if !strings.Contains(s, "://") {
		s = "grpc://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", false, usageErrorf("--server %q: %v", s, err)
	}
	if u.Host == "" || u.Path != "" && u.Path != "/" {
		return "", false, usageErrorf("--server %q: want grpc://HOST:PORT or grpc+tls://HOST:PORT", s)
	}
	host := u.Host
	if u.Port() == "" {
		host += ":8815"
	}
	switch u.Scheme {
	case "grpc", "grpc+tcp":
		return host, false, nil
	case "grpc+tls":
		return host, true, nil
	}
	return "", false, usageErrorf("--server %q: scheme %q: want grpc, grpc+tcp or grpc+tls", s, u.Scheme)
}

// session is a connection to the server for the length of one command.
type session struct {
	opts  *clientOptions
	fc    flight.Client
	mem   memory.Allocator
	notes io.Writer // where lookups say which dataset a table name meant
}

func connect(ctx context.Context, o *clientOptions) (*session, error) {
	fc, err := dial(ctx, o)
	if err != nil {
		return nil, err
	}
	return &session{opts: o, fc: fc, mem: memory.DefaultAllocator, notes: os.Stderr}, nil
}

func (s *session) Close() error { return s.fc.Close() }

// connectTo checks name, connects and describes the dataset: the start of every
// command about one existing dataset. The caller closes the session.
func connectTo(ctx context.Context, o *clientOptions, name string) (*session, dataset, error) {
	if err := checkName(name); err != nil {
		return nil, dataset{}, err
	}
	s, err := connect(ctx, o)
	if err != nil {
		return nil, dataset{}, err
	}
	d, err := s.stat(ctx, name)
	if err != nil {
		s.Close()
		return nil, dataset{}, err
	}
	return s, d, nil
}

// sql is a Flight SQL client on the same connection.
func (s *session) sql() *flightsql.Client { return &flightsql.Client{Client: s.fc, Alloc: s.mem} }

// dataset is what a FlightInfo tells about a dataset.
type dataset struct {
	Name     string
	Rows     int64 // -1: unknown
	Bytes    int64 // -1: unknown
	Schema   *arrow.Schema
	Modified time.Time // zero: unknown
	info     *flight.FlightInfo
}

func datasetFromInfo(info *flight.FlightInfo) (dataset, error) {
	d := dataset{Rows: info.GetTotalRecords(), Bytes: info.GetTotalBytes(), info: info}
	if p := info.GetFlightDescriptor().GetPath(); len(p) == 1 {
		d.Name = p[0]
	}
	if len(info.GetSchema()) > 0 {
		schema, err := flight.DeserializeSchema(info.GetSchema(), memory.DefaultAllocator)
		if err != nil {
			return d, fmt.Errorf("dataset %q: the server sent a schema that does not decode: %w", d.Name, err)
		}
		d.Schema = schema
	}
	// app_metadata is JSON with optional fields; anything else is ignored.
	var meta struct {
		Modified string `json:"modified"`
	}
	if json.Unmarshal(info.GetAppMetadata(), &meta) == nil && meta.Modified != "" {
		if t, err := time.Parse(time.RFC3339, meta.Modified); err == nil {
			d.Modified = t
		}
	}
	return d, nil
}

// list returns every dataset the server lists.
func (s *session) list(ctx context.Context) ([]dataset, error) {
	stream, err := s.fc.ListFlights(ctx, &flight.Criteria{})
	if err != nil {
		return nil, err
	}
	var out []dataset
	for {
		info, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		d, err := datasetFromInfo(info)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
}

// stat describes one dataset, found by its name or its SQL table name (names.go). A
// dataset that does not exist is a *notFoundError that lists the names closest to
// name.
func (s *session) stat(ctx context.Context, name string) (dataset, error) {
	d, found, err := s.lookup(ctx, name, s.notes)
	if err != nil {
		return dataset{}, err
	}
	if !found {
		return dataset{}, s.notFound(ctx, name)
	}
	return d, nil
}

// notFound builds the error for a missing dataset, with the close names the server has.
func (s *session) notFound(ctx context.Context, name string) error {
	var names []string
	if all, err := s.list(ctx); err == nil {
		for _, d := range all {
			names = append(names, d.Name)
		}
	}
	return &notFoundError{name: name, suggestions: closeNames(name, names), any: len(names) > 0}
}

func pathDescriptor(name string) *flight.FlightDescriptor {
	return &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{name}}
}

// checkName refuses names the server would refuse, before any file is opened.
func checkName(name string) error {
	if err := catalog.ValidateName(name); err != nil {
		return usageErrorf("%v", err)
	}
	return nil
}

// commandContext is cmd's context, cancelled on SIGINT or SIGTERM so that a transfer
// stops cleanly and the command exits with errInterrupted.
func commandContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// drain reads a stream to its end; a server error arrives as the stream's error.
func drain[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// datasetNames completes dataset names for shell completion.
func datasetNames(o *clientOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := connect(ctx, o)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		defer s.Close()
		all, err := s.list(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		names := make([]string, len(all))
		for i, d := range all {
			names[i] = d.Name
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// tableName is the SQL table name of a dataset.
func tableName(name string) string { return catalog.TableName(name) }
