package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runCLI runs the binary in dir and returns its stdout, stderr and exit code.
func runCLI(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("licensehooks %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// assertEmpty fails when dir holds anything: the command created files.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("%s holds %s: the command created it", dir, e.Name())
	}
}

// TestHelpExitsZero: -h, --help and help print the usage of the command
// asked about on stdout and exit 0, opening nothing; a subcommand's help
// shows its own flags only.
func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args     []string
		want     string // in stdout
		wantNot  string // not in stdout
		wantFlag string
	}{
		{args: []string{"-h"}, want: "licensehooks tenant delete ID"},
		{args: []string{"--help"}, want: "licensehooks credential revoke"},
		{args: []string{"help"}, want: "licensehooks migrate-store"},
		{args: []string{"help", "tenant"}, want: "licensehooks tenant rename ID"},
		{args: []string{"tenant", "--help"}, want: "licensehooks tenant rename ID"},
		{args: []string{"tenant", "-h"}, want: "licensehooks tenant delete ID"},
		{args: []string{"tenant", "help"}, want: "licensehooks tenant create"},
		{args: []string{"credential", "--help"}, want: "licensehooks credential revoke CLIENT_ID"},
		{args: []string{"credential", "-h"}, want: "licensehooks credential create"},
		{args: []string{"tenant", "create", "-h"}, want: "Usage: licensehooks tenant create", wantFlag: "-external-id"},
		{args: []string{"tenant", "list", "-h"}, want: "Usage: licensehooks tenant list", wantNot: "-name", wantFlag: "-json"},
		{args: []string{"tenant", "rename", "--help"}, want: "Usage: licensehooks tenant rename", wantNot: "-yes", wantFlag: "-name"},
		{args: []string{"tenant", "delete", "-h"}, want: "Usage: licensehooks tenant delete", wantNot: "-name", wantFlag: "-yes"},
		{args: []string{"credential", "create", "-h"}, want: "Usage: licensehooks credential create", wantFlag: "-operator"},
		{args: []string{"credential", "list", "-h"}, want: "Usage: licensehooks credential list", wantNot: "-operator", wantFlag: "-tenant"},
		{args: []string{"credential", "revoke", "-h"}, want: "Usage: licensehooks credential revoke", wantNot: "-scopes", wantFlag: "-data"},
		{args: []string{"serve", "-h"}, want: "Usage: licensehooks serve", wantFlag: "-retry-schedule"},
		{args: []string{"migrate-store", "--help"}, want: "Usage: licensehooks migrate-store", wantFlag: "-json"},
		{args: []string{"version", "-h"}, want: "Usage: licensehooks version", wantFlag: "-json"},
		{args: []string{"bench", "-h"}, want: "Usage: licensehooks bench", wantFlag: "-scenario"},
		{args: []string{"-h"}, want: "licensehooks trigger --list"},
		{args: []string{"listen", "-h"}, want: "Usage: licensehooks listen", wantFlag: "-forward"},
		{args: []string{"trigger", "--help"}, want: "Usage: licensehooks trigger EVENTCODE", wantFlag: "-deliver-at"},
		{args: []string{"verify", "-h"}, want: "Usage: licensehooks verify", wantNot: "-forward", wantFlag: "-jwk"},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out, errOut, code := runCLI(t, dir, nil, tc.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, errOut)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("stdout lacks %q:\n%s", tc.want, out)
			}
			if tc.wantFlag != "" && !strings.Contains(out, "  "+tc.wantFlag) {
				t.Errorf("stdout lacks the flag %s:\n%s", tc.wantFlag, out)
			}
			if tc.wantNot != "" && strings.Contains(out, "  "+tc.wantNot) {
				t.Errorf("stdout shows another command's flag %s:\n%s", tc.wantNot, out)
			}
			assertEmpty(t, dir)
		})
	}
}

// TestWrongUsageExitsTwo: a command line a command cannot take is refused
// with exit code 2, a first line naming the problem and the usage on
// stderr, nothing on stdout, and no store made.
func TestWrongUsageExitsTwo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string // in the first line of stderr
	}{
		{nil, "no command given"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"tenant"}, "missing a tenant command (create, list, rename, delete)"},
		{[]string{"credential"}, "missing a credential command"},
		{[]string{"tenant", "--bogus"}, `unknown tenant command "--bogus"`},
		{[]string{"tenant", "bogus"}, `unknown tenant command "bogus"`},
		{[]string{"credential", "remove", "c_1"}, `unknown credential command "remove"`},
		{[]string{"tenant", "list", "extra"}, `tenant list: unexpected argument "extra"`},
		{[]string{"tenant", "list", "--name", "x"}, "flag provided but not defined: -name"},
		{[]string{"tenant", "create"}, "tenant create: --name is required"},
		{[]string{"tenant", "create", "--name", "A", "B"}, `unexpected argument "B"`},
		{[]string{"tenant", "rename", "--name", "A"}, "tenant rename: missing ID"},
		{[]string{"tenant", "rename", "t_1"}, "give --name NAME, --external-id ID or both"},
		{[]string{"tenant", "rename", "t_1", "t_2", "--name", "A"}, `unexpected argument "t_2"`},
		{[]string{"tenant", "delete"}, "tenant delete: missing ID"},
		{[]string{"tenant", "delete", "t_1", "--yes", "t_2"}, `unexpected argument "t_2"`},
		{[]string{"credential", "revoke"}, "credential revoke: missing CLIENT_ID"},
		{[]string{"credential", "create"}, "give exactly one of --tenant ID or --operator"},
		{[]string{"credential", "create", "--operator", "--scopes", "root"}, "unknown scope root"},
		{[]string{"credential", "create", "--tenant", "t_1", "--scopes", "tenants:admin"}, "held by operator credentials only"},
		{[]string{"credential", "list", "c_1"}, `unexpected argument "c_1"`},
		{[]string{"version", "x"}, `version: unexpected argument "x"`},
		{[]string{"serve", "--retention", "x"}, `serve: --retention "x"`},
		{[]string{"serve", "extra"}, `serve: unexpected argument "extra"`},
		{[]string{"serve", "--signer", "nonsense"}, `serve: --signer "nonsense": want go, openssl or auto`},
		{[]string{"migrate-store", "--from", "sqlite:///x.db"}, "migrate-store: --from and --to are required"},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out, errOut, code := runCLI(t, dir, nil, tc.args...)
			if code != 2 || out != "" {
				t.Fatalf("exit %d, stdout %q; want 2 and nothing on stdout", code, out)
			}
			first, rest, _ := strings.Cut(errOut, "\n")
			if !strings.HasPrefix(first, "licensehooks: ") || !strings.Contains(first, tc.want) {
				t.Errorf("stderr's first line %q does not say %q", first, tc.want)
			}
			if !strings.Contains(rest, "Usage") {
				t.Errorf("stderr shows no usage after the error:\n%s", errOut)
			}
			assertEmpty(t, dir)
		})
	}
}
