package main

import (
	"slices"
	"strings"
	"testing"
)

func TestNodeFlags(t *testing.T) {
	n, err := nodeOptions{}.nodes("0.0.0.0:0", "grpc://")
	if err != nil || n.Self != "" || n.Peers != nil {
		t.Fatalf("no peers: %+v, %v; want a server on its own", n, err)
	}
	n, err = nodeOptions{peers: []string{"10.0.0.2:8815", " 10.0.0.3:8815", "10.0.0.1:8815", "10.0.0.2:8815"}}.nodes("10.0.0.1:8815", "grpc+tls://")
	if err != nil || n.Self != "grpc+tls://10.0.0.1:8815" || !slices.Equal(n.Peers, []string{"grpc+tls://10.0.0.2:8815", "grpc+tls://10.0.0.3:8815"}) {
		t.Fatalf("peers: %+v, %v; want self from --addr, peers once each without self", n, err)
	}
	n, err = nodeOptions{advertise: "node1.example:9000", peers: []string{"node2.example:9000"}}.nodes("0.0.0.0:8815", "grpc://")
	if err != nil || n.Self != "grpc://node1.example:9000" {
		t.Fatalf("advertise: %+v, %v", n, err)
	}
	for _, tc := range []struct {
		o      nodeOptions
		listen string
		msg    string
	}{
		{nodeOptions{peers: []string{"b:1"}}, "0.0.0.0:8815", "--peers needs --advertise-addr"},
		{nodeOptions{peers: []string{"b:1"}}, "127.0.0.1:0", "--peers needs --advertise-addr"},
		{nodeOptions{peers: []string{"b"}}, "a:1", "--peers"},
		{nodeOptions{peers: []string{"[::]:5"}}, "a:1", "no address a client can dial"},
		{nodeOptions{advertise: "a:99999", peers: []string{"b:1"}}, "a:1", "--advertise-addr"},
		{nodeOptions{advertise: "a"}, "a:1", "--advertise-addr"},
	} {
		_, err := tc.o.nodes(tc.listen, "grpc://")
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v on %s: %v, want an error mentioning %q", tc.o, tc.listen, err, tc.msg)
		}
	}
}
