package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"licensehooks"
)

// The command line's conventions, the same for every command:
//
//   - -h, -help, --help (and "help" in place of a subcommand) print the
//     command's usage on stdout and exit 0;
//   - a command line the command cannot take (an unknown command or flag,
//     a missing or extra argument, a missing or wrong flag value) prints a
//     one-line error naming the problem, then the command's synopsis, on
//     stderr, and exits 2, before anything is opened;
//   - any other failure prints its error on stderr and exits 1.

// usageError is a command line a command refuses: exit code 2.
type usageError struct {
	msg   string
	usage string // printed after msg: the command's synopsis and where its help is
}

func (e *usageError) Error() string { return e.msg }

// exitCode reports err on w and returns the process's exit code.
func exitCode(err error, w io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp): // help went to stdout
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(w, "licensehooks:", ue.msg)
		fmt.Fprint(w, ue.usage)
		return 2
	}
	fmt.Fprintln(w, "licensehooks:", err)
	return 1
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return slices.Contains([]string{"-h", "-help", "--help", "help"}, arg)
}

// command describes one command for its help and its errors.
type command struct {
	name     string // as typed after licensehooks: "tenant rename"
	synopsis string // its arguments: "ID --name NAME [--json]"
	about    string // what it does, for its help
	// args names the positional arguments it takes, all required.
	args []string
	// optional names positional arguments after args that may be left
	// out (trigger's EVENTCODE, which --list does without).
	optional []string
}

// flags returns the command's flag set, which prints nothing itself:
// parse prints help and reports errors.
func (c *command) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse reads args, flags anywhere among the positional arguments
// (credential revoke ID --data D), and returns the positional arguments,
// len(c.args) of them and up to len(c.optional) more. -h prints the help on stdout and returns
// flag.ErrHelp.
func (c *command) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.printHelp(os.Stdout, fs)
				return nil, err
			}
			return nil, c.usageErr("%s", err)
		}
		if fs.NArg() == 0 {
			break
		}
		// "help" where a positional argument would be is help too.
		if isHelp(fs.Arg(0)) {
			c.printHelp(os.Stdout, fs)
			return nil, flag.ErrHelp
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(positional) < len(c.args):
		return nil, c.usageErr("missing %s", strings.Join(c.args[len(positional):], " "))
	case len(positional) > len(c.args)+len(c.optional):
		return nil, c.usageErr("unexpected argument %q", positional[len(c.args)+len(c.optional)])
	}
	return positional, nil
}

// usageErr is a usageError about this command.
func (c *command) usageErr(format string, a ...any) error {
	return &usageError{
		msg:   c.name + ": " + fmt.Sprintf(format, a...),
		usage: fmt.Sprintf("Usage: licensehooks %s %s\nRun \"licensehooks %s -h\" for its flags.\n", c.name, c.synopsis, c.name),
	}
}

func (c *command) printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: licensehooks %s %s\n\n%s\n", c.name, c.synopsis, c.about)
	if fs != nil {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// serviceErr words an error of the service for the command line: what
// the caller got wrong (EINVALID) is a usage error, the rest is the
// service's message (internal errors in full: an operator runs the CLI).
func (c *command) serviceErr(err error) error {
	var e *licensehooks.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	if e.Code == licensehooks.EINVALID {
		msgs := []string{e.Message}
		if len(e.Fields) > 1 {
			msgs = msgs[:0]
			for _, f := range e.Fields {
				msgs = append(msgs, f.Message)
			}
		}
		return c.usageErr("%s", strings.Join(msgs, " "))
	}
	return fmt.Errorf("%s: %s", c.name, e.Message)
}

// group is a command with subcommands (tenant, credential).
type group struct {
	name  string
	about string
	subs  []*subcommand
}

type subcommand struct {
	command
	run func(c *command, args []string) error
}

// run dispatches args to the subcommand they name.
func (g *group) run(args []string) error {
	if len(args) == 0 {
		return g.usageErr("missing a %s command (%s)", g.name, g.names())
	}
	if isHelp(args[0]) {
		g.printHelp(os.Stdout)
		return nil
	}
	for _, s := range g.subs {
		if s.name == g.name+" "+args[0] {
			return s.run(&s.command, args[1:])
		}
	}
	return g.usageErr("unknown %s command %q (%s)", g.name, args[0], g.names())
}

func (g *group) names() string {
	var ns []string
	for _, s := range g.subs {
		ns = append(ns, strings.TrimPrefix(s.name, g.name+" "))
	}
	return strings.Join(ns, ", ")
}

func (g *group) usageErr(format string, a ...any) error {
	var b strings.Builder
	g.printSynopses(&b)
	fmt.Fprintf(&b, "Run \"licensehooks %s -h\" for more.\n", g.name)
	return &usageError{msg: fmt.Sprintf(format, a...), usage: b.String()}
}

func (g *group) printSynopses(w io.Writer) {
	fmt.Fprintln(w, "Usage:")
	for _, s := range g.subs {
		fmt.Fprintf(w, "  licensehooks %s %s\n", s.name, s.synopsis)
	}
}

func (g *group) printHelp(w io.Writer) {
	fmt.Fprintf(w, "licensehooks %s: %s\n\n", g.name, g.about)
	g.printSynopses(w)
	fmt.Fprintln(w)
	for _, s := range g.subs {
		fmt.Fprintf(w, "  %-18s %s\n", strings.TrimPrefix(s.name, g.name+" "), firstSentence(s.about))
	}
	fmt.Fprintf(w, "\nEvery command takes --data DIR and --db URL (the store) and --json.\n"+
		"Run \"licensehooks %s COMMAND -h\" for a command's flags.\n", g.name)
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}
