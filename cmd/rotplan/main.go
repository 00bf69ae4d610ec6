// Command rotplan makes secrets rotation declarative: an HCL inventory says
// what every secret is, where it lives, where it goes and how often it
// rotates; rotplan plan shows what is due, drifted or missing.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"

	"github.com/rotplan/rotplan/config"
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

// commands are rotplan's commands, in the order usage lists them. They
// are set in init: help and completion read the list themselves.
var commands []command

func init() {
	commands = []command{
		{"validate", "Check the inventory without contacting any system", runValidate},
		{"plan", "Show what is due, drifted, missing or waiting to retire", runPlan},
		{"apply", "Rotate what is due, in dependency order, with rollback", runApply},
		{"import", "Adopt a secret's existing value without rotating it", runImport},
		{"state", "See and repair apply's state: list, show, unlock, abort", runState},
		{"show", "Show a saved plan", runShow},
		{"fmt", "Rewrite inventory files in the canonical format", runFmt},
		{"graph", "Print the secrets' dependency graph in DOT", runGraph},
		{"init", "Write a starter inventory", runInit},
		{"force-unlock", "Release the state lock of an apply that is gone", runForceUnlock},
		{"completion", "Print a shell completion script (bash, zsh, fish)", runCompletion},
		{"help", "Show help for rotplan or one of its commands", runHelp},
		{"version", "Print the rotplan version", runVersion},
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := streams{stdin: stdin, stdout: stdout, stderr: stderr}
	global := flag.NewFlagSet("rotplan", flag.ContinueOnError)
	global.SetOutput(stderr)
	chdir := global.String("chdir", "", "read the inventory from `DIR` instead of the working directory")
	showVersion := global.Bool("version", false, "print the version and exit")
	global.Usage = func() {}
	if err := global.Parse(args); err != nil {
		if err == flag.ErrHelp {
			usage(stdout)
			return exitOK
		}
		usage(stderr)
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
	if c := lookupCommand(rest[0]); c != nil {
		return c.run(newMeta(s, *chdir), rest[1:])
	}
	fmt.Fprintf(stderr, "rotplan: unknown command %q.\n\n", rest[0])
	usage(stderr)
	return exitError
}

func lookupCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: rotplan [-chdir=DIR] COMMAND [options]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "rotplan reads every *.hcl file in the directory as one inventory of secrets.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.synopsis)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Global options:")
	fmt.Fprintln(w, "  -chdir=DIR   read the inventory from DIR instead of the working directory")
	fmt.Fprintln(w, "  -version     print the version and exit")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run rotplan help COMMAND (or rotplan COMMAND -help) for a command's options.")
	fmt.Fprintln(w, "ROTPLAN_LOG=debug or trace logs to stderr.")
}

// flagSet is a command's options: its usage goes to stdout when asked for
// with -help, to stderr after a mistake.
type flagSet struct {
	*flag.FlagSet
	m        *meta
	name     string // "state abort"
	argsLine string // "secret.NAME", "[PLANFILE]"
	synopsis string
	args     []string // the arguments, once parsed
	// subcommands stops parsing at the first argument: the subcommand's
	// options are its own.
	subcommands bool
}

// newFlagSet returns a command's flag set. usageLine is the command and
// its arguments, as the usage line shows them: "state abort secret.NAME".
func newFlagSet(m *meta, usageLine, synopsis string) *flagSet {
	words := strings.Fields(usageLine)
	n := 0
	for n < len(words) && strings.Trim(words[n], "abcdefghijklmnopqrstuvwxyz-") == "" {
		n++
	}
	name := strings.Join(words[:n], " ")
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), m: m, name: name, argsLine: strings.Join(words[n:], " "), synopsis: synopsis}
	fs.SetOutput(m.stderr)
	fs.Usage = func() {}
	return fs
}

// Arg, NArg and Args are the command's arguments, wherever they stood
// among its options.
func (fs *flagSet) Arg(i int) string {
	if i < len(fs.args) {
		return fs.args[i]
	}
	return ""
}

func (fs *flagSet) NArg() int { return len(fs.args) }

func (fs *flagSet) Args() []string { return fs.args }

func (fs *flagSet) printUsage(w io.Writer) {
	line := fs.name + " [options]"
	if fs.argsLine != "" {
		line += " " + fs.argsLine
	}
	fmt.Fprintf(w, "Usage: rotplan [-chdir=DIR] %s\n\n%s\n", line, fs.synopsis)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nOptions:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(fs.m.stderr)
	}
}

// parse parses a command's options and checks it has between minArgs and
// maxArgs arguments (maxArgs < 0: any number). ok is false when the
// command should stop with code: 0 after -help, 1 after a mistake.
func (fs *flagSet) parse(args []string, minArgs, maxArgs int) (code int, ok bool) {
	if fs.m.flagSets != nil {
		// rotplan completion collects the options without running.
		*fs.m.flagSets = append(*fs.m.flagSets, fs)
		return exitOK, false
	}
	// Options may follow arguments (state abort secret.X -reason ...),
	// up to a "--", after which everything is an argument.
	fs.args = nil
	for {
		err := fs.Parse(args)
		if err == flag.ErrHelp {
			fs.printUsage(fs.m.stdout)
			return exitOK, false
		}
		if err != nil {
			fmt.Fprintln(fs.m.stderr)
			fs.printUsage(fs.m.stderr)
			return exitError, false
		}
		rest := fs.FlagSet.Args()
		consumed := len(args) - len(rest)
		if len(rest) == 0 || fs.subcommands || consumed > 0 && args[consumed-1] == "--" {
			fs.args = append(fs.args, rest...)
			break
		}
		fs.args = append(fs.args, rest[0])
		args = rest[1:]
	}
	switch n := fs.NArg(); {
	case maxArgs == 0 && n > 0:
		fmt.Fprintf(fs.m.stderr, "rotplan %s: unexpected argument %q\n\n", fs.name, fs.Arg(0))
	case maxArgs > 0 && n > maxArgs:
		fmt.Fprintf(fs.m.stderr, "rotplan %s: too many arguments\n\n", fs.name)
	case n < minArgs:
		fmt.Fprintf(fs.m.stderr, "rotplan %s: missing argument\n\n", fs.name)
	default:
		return 0, true
	}
	fs.printUsage(fs.m.stderr)
	return exitError, false
}

// durationFlag is an option that takes a duration as the inventory writes
// them ("30s", "5m", "1d12h"), or 0.
type durationFlag struct{ d *time.Duration }

func newDurationFlag(fs *flagSet, name string, def time.Duration, usage string) *time.Duration {
	d := def
	fs.Var(durationFlag{&d}, name, usage)
	return &d
}

func (f durationFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return "0"
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	if s == "0" {
		*f.d = 0
		return nil
	}
	d, err := config.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%v: write a duration such as 30s, 5m or 1h", err)
	}
	*f.d = d
	return nil
}

// intRange is an integer option that must lie between min and max.
type intRange struct {
	n        *int
	min, max int
}

func newIntRange(fs *flagSet, name string, def, min, max int, usage string) *int {
	n := def
	fs.Var(intRange{&n, min, max}, name, usage)
	return &n
}

func (f intRange) String() string {
	if f.n == nil {
		return ""
	}
	return strconv.Itoa(*f.n)
}

func (f intRange) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < f.min || n > f.max {
		return fmt.Errorf("%q is not a whole number from %d to %d", s, f.min, f.max)
	}
	*f.n = n
	return nil
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
