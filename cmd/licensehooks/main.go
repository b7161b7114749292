// Command licensehooks runs the licensehooks webhooks service and its
// administration commands.
//
//	licensehooks serve [--dev] [--addr 127.0.0.1:8080] [--data ./licensehooks-data] [--db URL]
//	licensehooks tenant create --name N [--external-id E] | list | rename ID --name N | delete ID --yes
//	licensehooks credential create --tenant T | --operator [--scopes S] | list [--tenant T] | revoke ID
//	licensehooks migrate-store --from URL --to URL [--json]
//	licensehooks version [--json]
//	licensehooks bench [-scenario NAME] [-json]
//	licensehooks listen [--addr A] [--status S] [--forward URL] [--jwk FILE|URL] [--secret whsec_...]
//	licensehooks trigger EVENTCODE [--resource ID] [--payload JSON] [--deliver-at T] | --list
//	licensehooks verify [--jwk FILE] [--secret whsec_...] < saved-request
//
// -h on any command prints its usage on stdout and exits 0; a command line
// a command cannot take exits 2 with a one-line error and the usage on
// stderr; other failures exit 1. The administration commands take --json,
// and all but tenant create refuse a folder or database that holds no
// store instead of making a new one.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "0.1.0"

const usage = `licensehooks: self-hosted webhooks for license management

Usage:
  licensehooks serve [flags]                 run the service (embedded SQLite by default)
  licensehooks tenant create --name NAME     create a tenant (account) with its RSA key pair; the first one creates the store
  licensehooks tenant list
  licensehooks tenant rename ID --name NAME  change a tenant's name (or --external-id)
  licensehooks tenant delete ID --yes        delete a tenant with everything it owns
  licensehooks credential create --tenant ID [--scopes webhooks:admin,api:admin,events:publish]
  licensehooks credential create --operator [--scopes ...]
  licensehooks credential list [--tenant ID]
  licensehooks credential revoke CLIENT_ID
  licensehooks migrate-store --from sqlite:///path --to postgres://... [--json]
  licensehooks version [--json]
  licensehooks bench [-scenario NAME] [-json]

For people who write receivers (these talk to a server over HTTP, never to the store):
  licensehooks listen [--addr 127.0.0.1:9000] [--status 200] [--forward URL] [--jwk FILE|URL] [--secret whsec_...]
                                             a local receiver that prints and verifies each delivery
  licensehooks trigger EVENTCODE [--resource ID] [--payload JSON] [--deliver-at T]
                                             publish the catalog's sample for a code to a server
  licensehooks trigger --list                the event codes
  licensehooks verify [--jwk FILE] [--secret whsec_...] < saved-request
                                             say which signatures of a saved request hold

Every command that opens the store takes --data DIR (default
./licensehooks-data) and --db URL (sqlite:///path/to/file.db or
postgres://...); the tenant and credential commands take --json. Run
"licensehooks COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := exitCode(run(ctx, os.Args[1:]), os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &usageError{msg: "no command given", usage: usage}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest)
	case "tenant":
		return tenantGroup(ctx).run(rest)
	case "credential":
		return credentialGroup(ctx).run(rest)
	case "migrate-store":
		return runMigrateStore(ctx, rest)
	case "bench":
		return runBench(rest)
	case "listen":
		return runListen(ctx, rest)
	case "trigger":
		return runTrigger(ctx, rest)
	case "verify":
		return runVerify(ctx, rest)
	case "bench-receiver":
		return runBenchReceiver(rest)
	case "version", "--version":
		return runVersion(rest)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && !isHelp(rest[0]) { // help COMMAND is COMMAND -h
			return run(ctx, append(rest[:1:1], "-h"))
		}
		fmt.Print(usage)
		return nil
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", cmd), usage: usage}
}

var versionCmd = command{name: "version", synopsis: "[--json]",
	about: "Prints the version, and with --json the Go version, platform and the source revision built from."}

// versionJSON is what version --json prints.
type versionJSON struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Revision string `json:"revision,omitempty"` // the VCS commit built from, when known
	Time     string `json:"revisionTime,omitempty"`
	Modified bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
}

func runVersion(args []string) error {
	c := &versionCmd
	fs := c.flags()
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := c.parse(fs, args); err != nil {
		return err
	}
	if !*asJSON {
		fmt.Println("licensehooks", Version)
		return nil
	}
	v := versionJSON{Version: Version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// helpRequested reports whether args ask for help before anything else.
func helpRequested(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelp(a) && a != "help" {
			return true
		}
	}
	return false
}
