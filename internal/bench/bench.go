// Package bench is the licensehooks benchmark: `licensehooks bench`.
//
// It measures the real thing from the outside. It starts a `serve` process
// of the same binary on loopback (SQLite in a temporary directory, or the
// database of -db: on PostgreSQL a fresh schema per scenario, and -nodes N
// starts N processes sharing it, the publishers spread over them), creates
// tenants and credentials with the binary's CLI and listeners through the
// public API, points them at receiver processes
// (`licensehooks bench-receiver`, see ReceiverMain), publishes catalog
// events through POST /api/v1/events, and matches what the receivers got
// against what the server accepted: rates, accept-to-arrival latency,
// deliveries lost and duplicated, signatures verified, and the server's CPU
// and memory from /proc. It also measures the machine's bounds in the same
// run (RSA-2048 signatures per second per core with the service's own
// signer, and the raw loopback POST rate to a receiver) so that each figure
// can be read as a fraction of what the hardware allows.
//
// Receivers are separate processes so that their CPU is not the server's,
// and the benchmark chooses every eventId (a run nonce and a sequence
// number, see eventid.go) so that correlation costs no lookups.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Config is a benchmark run, as the flags describe it.
type Config struct {
	Scenarios  []string      // names, in the order to run
	JSONPath   string        // "" for none, "-" for stdout
	Duration   time.Duration // publishing time of each timed scenario; 0 for each one's default
	Publishers int           // concurrent publishers
	Rate       float64       // events per second; 0 for each scenario's own (max, or steady's 500)
	Batch      int           // events per publish request; 0 for 10 at max rate and 1 at a fixed rate
	MaxEvents  int64         // bound on the events of one scenario; 0 for 2,000,000 (-small: 500)
	DB         string        // database URL; "" for SQLite in a temporary directory
	Nodes      int           // serve processes sharing the database; 0 or 1 for one (more need PostgreSQL)
	VerifyAll  bool          // verify every delivery's signatures, not 1 in 20
	Binary     string        // the licensehooks binary; "" for this executable
	ServeArgs  []string      // extra flags for serve
	Small      bool          // smoke mode: seconds and small counts
	DrainIdle  time.Duration // give up waiting for deliveries after this long without one
	Keep       bool          // keep the temporary directories (logs, database)
	TempDir    string        // parent of the temporary directories ("" for the system's)
	Stdout     io.Writer
	Stderr     io.Writer
}

// scenarioNames lists every scenario, in the default order.
var scenarioNames = []string{"one", "ordered", "fanout", "tenants", "steady", "sick", "backlog", "reminders"}

// jsonFlag is -json: bare, it prints JSON on stdout; -json=FILE or
// -json FILE writes the file.
type jsonFlag struct{ path *string }

func (j jsonFlag) String() string {
	if j.path == nil {
		return ""
	}
	return *j.path
}

func (j jsonFlag) Set(s string) error {
	if s == "true" {
		s = "-"
	}
	if s == "false" {
		s = ""
	}
	*j.path = s
	return nil
}

func (j jsonFlag) IsBoolFlag() bool { return true }

// ParseFlags reads the command line of `licensehooks bench`.
func ParseFlags(args []string, stdout, stderr io.Writer) (*Config, error) {
	cfg := &Config{Stdout: stdout, Stderr: stderr}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: licensehooks bench [flags]\n\n"+
			"Starts serve and receiver processes on loopback, publishes catalog events through the API,\n"+
			"and prints per scenario: events accepted/s, deliveries/s, latency, lost and duplicated\n"+
			"deliveries, the server's CPU and memory, and the machine's bounds.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	scenarios := fs.String("scenario", "all", "scenarios to run, comma-separated: "+strings.Join(scenarioNames, ", ")+", or all")
	fs.Var(jsonFlag{&cfg.JSONPath}, "json", "write the results as JSON: -json alone prints them on stdout (the tables then go to stderr), -json FILE writes FILE")
	fs.DurationVar(&cfg.Duration, "duration", 0, "publishing time of each timed scenario (default 15s, steady 60s; -small 3s)")
	fs.IntVar(&cfg.Publishers, "publishers", 8, "concurrent publishers")
	fs.Float64Var(&cfg.Rate, "rate", 0, "events per second for every scenario (default: as fast as accepted, steady 500)")
	fs.IntVar(&cfg.Batch, "batch", 0, "events per publish request; >1 uses /api/v1/events/batch (default 10 at max rate, 1 at a fixed rate)")
	fs.Int64Var(&cfg.MaxEvents, "max-events", 0, "at most this many events per scenario (default 2,000,000; -small 500)")
	fs.StringVar(&cfg.DB, "db", "", "database URL for serve (default SQLite in a temporary directory), e.g. postgres://…; on PostgreSQL each scenario runs in a fresh schema lh_bench_…, dropped after it")
	fs.IntVar(&cfg.Nodes, "nodes", 1, "serve processes on the database, the publishers spread over them round-robin (more than 1 needs -db postgres://…)")
	fs.BoolVar(&cfg.VerifyAll, "verify-all", false, "verify the signatures of every delivery (default 1 in 20)")
	fs.StringVar(&cfg.Binary, "binary", "", "the licensehooks binary to run (default this executable)")
	serveArgs := fs.String("serve-args", "", "extra flags for serve, space-separated (e.g. \"--workers 256\")")
	fs.BoolVar(&cfg.Small, "small", false, "smoke mode: a few seconds and small counts")
	fs.DurationVar(&cfg.DrainIdle, "drain-timeout", 30*time.Second, "stop waiting for deliveries after this long without one")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the temporary directories (server log, database)")
	if err := parseInterleaved(fs, args, &cfg.JSONPath); err != nil {
		return nil, err
	}
	var err error
	if cfg.Scenarios, err = parseScenarios(*scenarios); err != nil {
		return nil, err
	}
	if f := strings.Fields(*serveArgs); len(f) > 0 {
		cfg.ServeArgs = f
	}
	if cfg.Publishers < 1 || cfg.Rate < 0 || cfg.Batch < 0 || cfg.Duration < 0 || cfg.MaxEvents < 0 {
		return nil, errors.New("bench: -publishers must be positive; -rate, -batch, -duration, -max-events not negative")
	}
	if cfg.Batch > 1000 {
		return nil, errors.New("bench: -batch is at most 1000 (the batch endpoint's limit)")
	}
	if err := checkNodes(cfg.Nodes, cfg.DB); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkNodes refuses a node count the database cannot serve: several serve
// processes share one PostgreSQL database, while a SQLite file belongs to
// one process.
func checkNodes(nodes int, db string) error {
	switch {
	case nodes < 1:
		return fmt.Errorf("bench: -nodes %d: want at least 1", nodes)
	case nodes > 1 && !isPostgresURL(db):
		return fmt.Errorf("bench: -nodes %d needs -db postgres://… (nodes share one PostgreSQL database; SQLite serves one process)", nodes)
	case nodes > 64:
		return fmt.Errorf("bench: -nodes %d: at most 64", nodes)
	}
	return nil
}

// nodes is the number of serve processes (a zero Config has one).
func (c *Config) nodes() int { return max(c.Nodes, 1) }

// parseInterleaved parses flags, taking a word after a bare -json as its
// file, and goes on parsing the flags that follow it.
func parseInterleaved(fs *flag.FlagSet, args []string, jsonPath *string) error {
	for range len(args) + 1 { // every round consumes at least one argument
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return nil
		}
		if *jsonPath != "-" {
			return fmt.Errorf("bench: unexpected argument %q", rest[0])
		}
		*jsonPath = rest[0]
		args = rest[1:]
	}
	return nil
}

func parseScenarios(s string) ([]string, error) {
	if s == "" || s == "all" {
		return slices.Clone(scenarioNames), nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(scenarioNames, name) {
			return nil, fmt.Errorf("bench: unknown scenario %q (known: %s)", name, strings.Join(scenarioNames, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// verifyEvery is the receivers' sampling: 1 verifies every delivery.
func (c *Config) verifyEvery() int {
	if c.VerifyAll {
		return 1
	}
	return 20
}

// Main runs `licensehooks bench` with the given arguments: the tables on
// stdout, the progress line on stderr.
func Main(args []string) error {
	cfg, err := ParseFlags(args, os.Stdout, os.Stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg)
	if rep != nil {
		if werr := writeJSON(cfg, rep); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// Run measures the bounds and runs the scenarios of cfg, printing a table
// per scenario as it ends and a summary at the end. It returns the report
// even when a scenario failed (with what was measured), and an error that
// names every failure, including any lost delivery.
func Run(ctx context.Context, cfg *Config) (*Report, error) {
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("bench: find this executable: %w", err)
		}
		cfg.Binary = exe
	}
	templates := catalogTemplates()
	if len(templates) == 0 {
		return nil, errors.New("bench: the catalog has no event types")
	}
	// With -json on stdout, the tables go to stderr and stdout is JSON.
	out := cfg.Stdout
	if cfg.JSONPath == "-" {
		out = cfg.Stderr
	}
	rep := newReport(cfg)
	b, err := measureBounds(ctx, cfg)
	if err != nil {
		return rep, err
	}
	rep.Bounds = b
	printBounds(out, b)
	var errs []error
	for i, sc := range cfg.plan() {
		if ctx.Err() != nil {
			break
		}
		if i > 0 {
			settle(ctx, cfg.Small)
		}
		res, err := runScenario(ctx, cfg, sc, templates)
		if res != nil {
			rep.add(res)
			printResult(out, res)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("scenario %s: %w", sc.Name, err))
			fmt.Fprintf(cfg.Stderr, "\nscenario %s: %v\n", sc.Name, err)
		}
	}
	rep.finish()
	printSummary(out, rep)
	return rep, errors.Join(append(errs, ctx.Err())...)
}

// settleTime is the pause between scenarios.
const settleTime = 3 * time.Second

// settle lets the machine quiet down between scenarios: the last one's
// database was hundreds of megabytes written through the page cache, and
// its writeback (and this process's garbage) would otherwise land in the
// next scenario's figures. Measured: steady run after fanout had a p99 of
// 20.9 ms against 12.4 ms run alone.
func settle(ctx context.Context, small bool) {
	syscall.Sync()
	runtime.GC()
	debug.FreeOSMemory()
	if !small {
		sleepUntil(ctx, time.Now().Add(settleTime))
	}
}
