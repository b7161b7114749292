package bench

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		scenarios []string
		json      string
		serve     []string
		small     bool
	}{
		{"defaults", nil, scenarioNames, "", nil, false},
		{"json alone prints", []string{"-json"}, scenarioNames, "-", nil, false},
		{"json with a file", []string{"-json", "out.json", "-small"}, scenarioNames, "out.json", nil, true},
		{"json=file", []string{"-json=out.json"}, scenarioNames, "out.json", nil, false},
		{"json last", []string{"-scenario", "one", "-json"}, []string{"one"}, "-", nil, false},
		{"scenario list", []string{"-scenario", "fanout, one,fanout"}, []string{"fanout", "one"}, "", nil, false},
		{"serve args", []string{"-serve-args", "--workers 256  --per-listener 8"}, scenarioNames, "", []string{"--workers", "256", "--per-listener", "8"}, false},
	}
	for _, tt := range tests {
		cfg, err := ParseFlags(tt.args, io.Discard, io.Discard)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(cfg.Scenarios, tt.scenarios) || cfg.JSONPath != tt.json || !reflect.DeepEqual(cfg.ServeArgs, tt.serve) || cfg.Small != tt.small {
			t.Errorf("%s: got scenarios %v json %q serve %v small %v", tt.name, cfg.Scenarios, cfg.JSONPath, cfg.ServeArgs, cfg.Small)
		}
	}
}

func TestParseFlagsRejects(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-scenario", "nope"},
		{"-publishers", "0"},
		{"-max-events", "-1"},
		{"-rate", "-1"},
		{"-batch", "1001"},
		{"stray"},
		{"-json", "a.json", "b.json"},
		{"-unknown"},
	} {
		if _, err := ParseFlags(args, io.Discard, io.Discard); err == nil {
			t.Errorf("ParseFlags(%q) accepted", args)
		}
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	cfg := &Config{Scenarios: []string{"one", "steady", "sick", "backlog"}, Publishers: 8}
	plan := cfg.plan()
	byName := map[string]scenario{}
	for _, sc := range plan {
		byName[sc.Name] = sc
	}
	if sc := byName["one"]; sc.Rate != 0 || sc.Batch != 10 || sc.Duration != 15*time.Second || sc.PerTenant != 1 {
		t.Errorf("one = %+v", sc)
	}
	if sc := byName["steady"]; sc.Rate != 500 || sc.Batch != 1 || sc.Duration != time.Minute || sc.PerTenant != 10 || sc.Publishers != 50 {
		t.Errorf("steady = %+v", sc)
	}
	healthy := 0
	for i := range 10 {
		if _, ok := byName["sick"].ModeOf(i); ok {
			healthy++
		}
	}
	if healthy != 7 {
		t.Errorf("sick has %d healthy listeners, want 7", healthy)
	}
	if sc := byName["backlog"]; sc.Events != 100_000 || sc.Rate != 0 || len(sc.Serve) != 4 {
		t.Errorf("backlog = %+v", sc)
	}
	small := (&Config{Scenarios: []string{"tenants"}, Small: true, Rate: 50, Batch: 5}).plan()[0]
	if small.Tenants != 4 || small.Rate != 50 || small.Batch != 5 || small.Duration != 3*time.Second {
		t.Errorf("small tenants = %+v", small)
	}
}

func TestParseFlagsNodes(t *testing.T) {
	t.Parallel()
	const pg = "postgres://bench@127.0.0.1:5432/test?sslmode=disable"
	tests := []struct {
		name  string
		args  []string
		nodes int  // want, when accepted
		ok    bool // accepted
	}{
		{"default one node", nil, 1, true},
		{"one node on SQLite", []string{"-nodes", "1"}, 1, true},
		{"one node on a SQLite file", []string{"-nodes", "1", "-db", "sqlite:///tmp/x.db"}, 1, true},
		{"two nodes on PostgreSQL", []string{"-nodes", "2", "-db", pg}, 2, true},
		{"postgresql scheme", []string{"-db", "postgresql://h/db", "-nodes", "3"}, 3, true},
		{"two nodes on SQLite", []string{"-nodes", "2"}, 0, false},
		{"two nodes on a SQLite file", []string{"-nodes", "2", "-db", "sqlite:///tmp/x.db"}, 0, false},
		{"zero nodes", []string{"-nodes", "0", "-db", pg}, 0, false},
		{"negative", []string{"-nodes", "-1", "-db", pg}, 0, false},
		{"too many", []string{"-nodes", "65", "-db", pg}, 0, false},
		{"not a number", []string{"-nodes", "two", "-db", pg}, 0, false},
	}
	for _, tt := range tests {
		cfg, err := ParseFlags(tt.args, io.Discard, io.Discard)
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.ok && cfg.Nodes != tt.nodes:
			t.Errorf("%s: %d nodes, want %d", tt.name, cfg.Nodes, tt.nodes)
		case !tt.ok && err == nil:
			t.Errorf("%s: accepted (%d nodes)", tt.name, cfg.Nodes)
		}
	}
	// The refusal tells what to do.
	_, err := ParseFlags([]string{"-nodes", "2"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-db postgres://") {
		t.Errorf("refusal %v does not name -db postgres://", err)
	}
}
