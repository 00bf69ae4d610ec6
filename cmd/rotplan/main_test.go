package main

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rotplan/rotplan/executor/state"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/ from what rotplan prints now")

func TestMain(m *testing.M) {
	// The end-to-end tests run the CLI as a separate process (so that it can
	// be killed): the test binary itself, with this variable set.
	if os.Getenv("ROTPLAN_TEST_AS_CLI") == "1" {
		setTestSeams()
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"rotplan": func() {
			setTestSeams()
			os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// setTestSeams sets apply's test seams from the environment of a CLI run
// by a test:
//
//   - ROTPLAN_TEST_CRASH_AFTER=STEP or STEP:begun kills the process with
//     SIGKILL once that step is done (journaled) or has begun, so tests can
//     prove that apply resumes from any point;
//   - ROTPLAN_TEST_CLOCK=TIME or +DURATION (as plan -at reads them) stops
//     apply's clock there, so a test can reach the end of a grace period, or
//     the day its store's dates were made for, and plan -at that time sees
//     what apply stamped as of then.
func setTestSeams() {
	if spec := os.Getenv("ROTPLAN_TEST_CRASH_AFTER"); spec != "" {
		step, phase, _ := strings.Cut(spec, ":")
		wantDone := phase != "begun"
		afterStep = func(_ string, s state.Step, done bool) {
			if string(s) == step && done == wantDone {
				if p, err := os.FindProcess(os.Getpid()); err == nil {
					_ = p.Kill() // SIGKILL: no deferred function runs
				}
				select {} // wait for it
			}
		}
	}
	if spec := os.Getenv("ROTPLAN_TEST_CLOCK"); spec != "" {
		at, err := evaluationTime(spec, time.Now().Truncate(time.Second))
		if err != nil {
			panic("ROTPLAN_TEST_CLOCK: " + err.Error())
		}
		clock = func() time.Time { return at }
	}
}

// TestScripts runs the CLI end to end: every testdata/script/*.txtar is a
// shell-like script with its files and expected output. -update rewrites the
// expected output in place.
func TestScripts(t *testing.T) {
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("EXAMPLES", examples)
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"repeat": repeatCmd,
		},
	})
}

// repeatCmd is the scripts' "repeat [-from N] FILE COUNT TEXT": it appends
// TEXT to FILE COUNT times, {i} in it standing for a counter that starts at
// N (0 by default). TEXT in double quotes is read as a Go string, so that
// "\x00" or "\n" can be written. It makes the large inputs that scripts
// about bounded work need without putting them in the txtar.
func repeatCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! repeat")
	}
	from := 0
	if len(args) > 1 && args[0] == "-from" {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		from, args = n, args[2:]
	}
	if len(args) != 3 {
		ts.Fatalf("usage: repeat [-from N] FILE COUNT TEXT")
	}
	count, err := strconv.Atoi(args[1])
	ts.Check(err)
	text := args[2]
	if strings.HasPrefix(text, `"`) {
		text, err = strconv.Unquote(text)
		ts.Check(err)
	}
	var b strings.Builder
	for i := from; i < from+count; i++ {
		b.WriteString(strings.ReplaceAll(text, "{i}", strconv.Itoa(i)))
	}
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	ts.Check(err)
	_, err = f.WriteString(b.String())
	ts.Check(err)
	ts.Check(f.Close())
}
