package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Limits on what a failed command's error shows of its standard error.
const (
	stderrLines    = 5        // the last lines shown
	stderrLineSize = 200      // bytes shown of each line
	stderrKept     = 64 << 10 // bytes kept while the command runs
)

// waitDelay is how long a command's standard error may stay open after the
// command exits or is killed: a child it left running, or one that left its
// process group, may hold it.
const waitDelay = 5 * time.Second

// minScrub is the shortest text scrubbed from output: shorter ones would
// garble it and are no secret.
const minScrub = 4

// command is a decoded target or verify "exec" block.
type command struct {
	argv     []string
	valueEnv string // "" for standard input
}

// decodeCommand reads a decoded block. Its errors name the attribute at
// fault, never its text.
func decodeCommand(cfg cty.Value) (*command, error) {
	cfg, _ = cfg.UnmarkDeep()
	if cfg.IsNull() || !cfg.IsKnown() || !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute("command") {
		return nil, errors.New("the exec block is not decoded")
	}
	list := cfg.GetAttr("command")
	if list.IsNull() || !list.IsWhollyKnown() || !list.CanIterateElements() {
		return nil, errors.New("command is not a known list of strings")
	}
	c := &command{}
	for it := list.ElementIterator(); it.Next(); {
		_, arg := it.Element()
		if arg.IsNull() || arg.Type() != cty.String {
			return nil, errors.New("command is not a list of strings")
		}
		c.argv = append(c.argv, arg.AsString())
	}
	if len(c.argv) == 0 || c.argv[0] == "" {
		return nil, errors.New("command names no program")
	}
	if cfg.Type().HasAttribute("value_env") {
		v := cfg.GetAttr("value_env")
		switch {
		case v.IsNull():
		case !v.IsKnown() || v.Type() != cty.String:
			return nil, errors.New("value_env is not a known string")
		case !envName.MatchString(v.AsString()):
			return nil, errors.New("value_env is not an environment variable name")
		default:
			c.valueEnv = v.AsString()
		}
	}
	return c, nil
}

// runner runs commands in the inventory directory.
type runner struct {
	dir    string
	logger hclog.Logger
}

func newRunner(s providers.Settings, name string) runner {
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return runner{dir: s.Dir, logger: logger.Named(name)}
}

// run runs c, without a shell, with value in the environment variable
// c.valueEnv or, without one, on standard input. It returns nil when the
// command exits 0; otherwise an error with its exit status and the last
// lines of its standard error, every text of the value there replaced by
// (sensitive). Standard output is discarded: it may echo the value.
func (r runner) run(ctx context.Context, c *command, value sensitive.Value) error {
	program := scrub(c.argv[0], value)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: not run: %w", program, err)
	}
	if v := value.Reveal(); len(v) >= minScrub && slices.ContainsFunc(c.argv, func(arg string) bool { return strings.Contains(arg, v) }) {
		return fmt.Errorf("%s: not run: the value is in the command's arguments, where every user of this machine can read it; pass it in value_env or on standard input", program)
	}

	cmd := osexec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Dir = r.dir
	ownProcessGroup(cmd)
	cmd.WaitDelay = waitDelay
	if c.valueEnv != "" {
		if bytes.IndexByte(value.Bytes(), 0) >= 0 {
			return fmt.Errorf("%s: not run: the value contains a NUL byte, which an environment variable cannot hold; leave value_env out to pass it on standard input", program)
		}
		// The last of duplicate names wins.
		cmd.Env = append(os.Environ(), c.valueEnv+"="+value.Reveal())
	} else {
		cmd.Stdin = bytes.NewReader(value.Bytes())
	}
	stderr := &tail{max: stderrKept}
	cmd.Stderr = stderr
	defer stderr.clear()

	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start).Round(time.Millisecond)
	if err != nil && errors.Is(err, osexec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		// It exited 0 but left a child holding its standard error.
		err = nil
	}
	if err == nil {
		r.logger.Debug("command done", "program", program, "elapsed", elapsed)
		return nil
	}

	var exitErr *osexec.ExitError
	var status string
	switch {
	case ctx.Err() != nil:
		status = fmt.Sprintf("stopped after %s", elapsed)
	case errors.As(err, &exitErr):
		status = exitErr.ProcessState.String() // "exit status 3", "signal: killed"
	default:
		// It did not start: not found, not executable. os/exec names the
		// program, which is configuration, not the value.
		return fmt.Errorf("%s: %s", program, scrub(err.Error(), value))
	}
	r.logger.Debug("command failed", "program", program, "status", status, "elapsed", elapsed)
	msg := fmt.Sprintf("%s: %s", program, status)
	if lines := stderr.lastLines(value); len(lines) > 0 {
		msg += "; its standard error ended with " + strings.Join(lines, " ")
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", msg, ctx.Err())
	}
	return errors.New(msg)
}

// scrub replaces every text of value in s with (sensitive): the whole
// value, the value without surrounding blanks, and each line of a value of
// several lines (a PEM key), longest first.
func scrub(s string, value sensitive.Value) string {
	v := value.Reveal()
	texts := []string{v, strings.TrimSpace(v)}
	for _, line := range strings.Split(v, "\n") {
		texts = append(texts, strings.TrimSpace(line))
	}
	slices.SortFunc(texts, func(a, b string) int { return len(b) - len(a) })
	for _, t := range texts {
		if len(t) >= minScrub {
			s = strings.ReplaceAll(s, t, sensitive.Redacted)
		}
	}
	return s
}

// tail keeps the last max bytes written to it.
type tail struct {
	max     int
	buf     []byte
	dropped bool
}

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		copy(t.buf, t.buf[over:])
		clear(t.buf[len(t.buf)-over:])
		t.buf = t.buf[:t.max]
		t.dropped = true
	}
	return n, nil
}

func (t *tail) clear() { clear(t.buf[:cap(t.buf)]) }

// lastLines returns the last non-blank lines kept, scrubbed of value, each
// cut short and quoted so that no control character reaches a terminal. A
// line cut by the start of the buffer is left out: scrub could not
// recognise a part of the value in it.
func (t *tail) lastLines(value sensitive.Value) []string {
	text := scrub(string(t.buf), value)
	lines := strings.Split(text, "\n")
	if t.dropped {
		lines = lines[1:]
	}
	var out []string
	for i := len(lines) - 1; i >= 0 && len(out) < stderrLines; i-- {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		if len(line) > stderrLineSize {
			line = strings.ToValidUTF8(line[:stderrLineSize], "") + "…"
		}
		out = append(out, strconv.Quote(line))
	}
	slices.Reverse(out)
	return out
}
