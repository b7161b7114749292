package main

import (
	"fmt"
	"os"
	"regexp"
	"testing"
)

// TestDefaultNodeIDIsUnique: two nodes on the same host with the same PID
// (containers with one hostname, each running as PID 1) get different lease
// identities; the default still reads host-pid-random.
func TestDefaultNodeIDIsUnique(t *testing.T) {
	a, err := parseServeFlags([]string{"--data", t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseServeFlags([]string{"--data", t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if a.NodeID == b.NodeID {
		t.Fatalf("two nodes of the same host and PID share the lease owner %q", a.NodeID)
	}
	host, _ := os.Hostname()
	want := regexp.MustCompile("^" + regexp.QuoteMeta(host) + fmt.Sprintf("-%d-", os.Getpid()) + "[0-9a-f]{8}$")
	for _, id := range []string{a.NodeID, b.NodeID} {
		if !want.MatchString(id) {
			t.Errorf("default node id %q, want %s", id, want)
		}
	}
	c, err := parseServeFlags([]string{"--data", t.TempDir(), "--node-id", "node-a"})
	if err != nil || c.NodeID != "node-a" {
		t.Fatalf("--node-id node-a: %q %v", c.NodeID, err)
	}
}
