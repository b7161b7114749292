// Command licensehooks runs the licensehooks webhooks service and its
// administration commands.
//
//	licensehooks serve [--dev] [--addr 127.0.0.1:8080] [--data ./licensehooks-data] [--db URL]
//	licensehooks tenant create --name N | tenant list
//	licensehooks credential create --tenant T --scopes S | --operator; credential list; credential revoke ID
//	licensehooks migrate-store --from URL --to URL
//	licensehooks bench [-scenario NAME] [-json]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "0.1.0"

const usage = `licensehooks: self-hosted webhooks for license management

Usage:
  licensehooks serve [flags]              run the service (embedded SQLite by default)
  licensehooks tenant create --name NAME  create a tenant (account) with its RSA key pair
  licensehooks tenant list
  licensehooks credential create --tenant ID --scopes webhooks:admin,api:admin,events:publish
  licensehooks credential create --operator [--scopes ...]
  licensehooks credential list [--tenant ID]
  licensehooks credential revoke CLIENT_ID
  licensehooks migrate-store --from sqlite:///path --to postgres://...
  licensehooks bench [-scenario NAME] [-json]
  licensehooks version

Every command takes --data DIR (default ./licensehooks-data) and --db URL
(sqlite:///path/to/file.db or postgres://...). Run "licensehooks CMD -h" for
a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "licensehooks:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest)
	case "tenant":
		return runTenant(ctx, rest)
	case "credential":
		return runCredential(ctx, rest)
	case "migrate-store":
		return runMigrateStore(ctx, rest)
	case "bench":
		return runBench(rest)
	case "bench-receiver":
		return runBenchReceiver(rest)
	case "version", "--version":
		fmt.Println("licensehooks", Version)
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
