// Command rotplan makes secrets rotation declarative: an HCL inventory says
// what every secret is, where it lives, where it goes and how often it
// rotates; rotplan plan shows what is due, drifted or missing.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"
)

// Exit codes shared by every command.
const (
	exitOK      = 0
	exitError   = 1
	exitPending = 2 // plan -detailed-exitcode: work to do
	exitFormat  = 3 // fmt -check: files need formatting
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// streams are where a command reads and writes; tests swap them.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	name     string
	synopsis string
	run      func(m *meta, args []string) int
}

var commands = []command{
	{"validate", "Check the inventory without contacting any system", runValidate},
	{"plan", "Show what is due, drifted, missing or waiting to retire", runPlan},
	{"apply", "Rotate what is due, in dependency order, with rollback", runApply},
	{"show", "Show a saved plan", runShow},
	{"fmt", "Rewrite inventory files in the canonical format", runFmt},
	{"graph", "Print the secrets' dependency graph in DOT", runGraph},
	{"force-unlock", "Release the state lock of an apply that is gone", runForceUnlock},
	{"version", "Print the rotplan version", runVersion},
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := streams{stdin: stdin, stdout: stdout, stderr: stderr}
	global := flag.NewFlagSet("rotplan", flag.ContinueOnError)
	global.SetOutput(stderr)
	chdir := global.String("chdir", "", "read the inventory from `DIR` instead of the working directory")
	showVersion := global.Bool("version", false, "print the version and exit")
	global.Usage = func() { usage(stderr) }
	if err := global.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitError
	}
	if *showVersion {
		return runVersion(newMeta(s, *chdir), nil)
	}
	rest := global.Args()
	if len(rest) == 0 {
		usage(stderr)
		return exitError
	}
	for _, c := range commands {
		if c.name == rest[0] {
			return c.run(newMeta(s, *chdir), rest[1:])
		}
	}
	fmt.Fprintf(stderr, "rotplan: unknown command %q.\n\n", rest[0])
	usage(stderr)
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: rotplan [-chdir=DIR] COMMAND [options]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "rotplan reads every *.hcl file in the directory as one inventory of secrets.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.synopsis)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run rotplan COMMAND -help for a command's options. ROTPLAN_LOG=debug or trace logs to stderr.")
}

// newFlagSet returns a command's flag set, printing its usage on -help.
func newFlagSet(m *meta, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.Usage = func() {
		fmt.Fprintf(m.stderr, "Usage: rotplan [-chdir=DIR] %s\n\n%s\n\nOptions:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a command's flags; ok is false when the command should
// stop with code.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK, false
		}
		return exitError, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "rotplan %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitError, false
	}
	return 0, true
}

// newLogger returns the stderr logger, off unless ROTPLAN_LOG names a level.
func newLogger(w io.Writer) hclog.Logger {
	level := hclog.LevelFromString(os.Getenv("ROTPLAN_LOG"))
	if level == hclog.NoLevel {
		return hclog.NewNullLogger()
	}
	return hclog.New(&hclog.LoggerOptions{Name: "rotplan", Level: level, Output: w})
}

// colorEnabled reports whether w is a terminal that wants colour.
func colorEnabled(w io.Writer) bool {
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false
	}
	if strings.EqualFold(os.Getenv("TERM"), "dumb") {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
