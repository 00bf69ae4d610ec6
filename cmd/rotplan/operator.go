package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/rotplan/rotplan/executor"
	"github.com/rotplan/rotplan/internal/sensitive"
)

// valueFiles collects -value-file secret.NAME=PATH.
type valueFiles map[string]string

func (v valueFiles) String() string { return "" }

func (v valueFiles) Set(s string) error {
	addr, path, ok := strings.Cut(s, "=")
	name, isSecret := strings.CutPrefix(addr, "secret.")
	if !ok || !isSecret || name == "" || path == "" {
		return fmt.Errorf("%q: write secret.NAME=PATH", s)
	}
	v[name] = path
	return nil
}

// operator answers apply's questions: from -value-file and -revoked first,
// then, when apply runs on a terminal, by asking the person there. It asks
// one question at a time, and Ctrl-C at a prompt interrupts it.
type operator struct {
	// tty is the terminal to ask on, nil when there is none.
	tty *os.File
	// out is where prompts go: stdout, or stderr when stdout carries JSON.
	out     io.Writer
	values  valueFiles
	revoked map[string]bool

	mu sync.Mutex // one question at a time
}

var _ executor.Operator = (*operator)(nil)

// newOperator returns the operator for an apply whose input is in; it asks
// questions only when in is a terminal.
func newOperator(in io.Reader, out io.Writer, values valueFiles, revoked addressList) *operator {
	o := &operator{out: out, values: values, revoked: map[string]bool{}}
	if isTerminal(in) {
		o.tty = in.(*os.File)
	}
	for _, name := range revoked {
		o.revoked[name] = true
	}
	return o
}

// Approve asks for "yes".
func (o *operator) Approve(ctx context.Context) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tty == nil {
		return false, errors.New("apply asks for confirmation, and there is no terminal to ask on. Review the plan and run apply -auto-approve, or apply a saved plan")
	}
	fmt.Fprint(o.out, "\nRotate these secrets? Only 'yes' will be accepted: ")
	answer, err := o.readLine(ctx, false)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(answer) == "yes", nil
}

// Value reads a manual secret's new value from its -value-file, or asks for
// it without echo.
func (o *operator) Value(ctx context.Context, q executor.ValueQuestion) (sensitive.Value, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if path, ok := o.values[q.Name]; ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return sensitive.Value{}, fmt.Errorf("read -value-file for %s: %w", q.Secret, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return sensitive.Value{}, fmt.Errorf("the -value-file for %s is empty", q.Secret)
		}
		return sensitive.New(v), nil
	}
	if o.tty == nil {
		return sensitive.Value{}, executor.ErrNoOperatorValue
	}
	fmt.Fprintf(o.out, "\n%s needs a new value made by a person.\n", q.Secret)
	if q.Instructions != "" {
		fmt.Fprintf(o.out, "  %s\n", indent(q.Instructions, "  "))
	}
	fmt.Fprint(o.out, "Paste it here (input is hidden; leave it empty to do it later): ")
	v, err := o.readLine(ctx, true)
	fmt.Fprintln(o.out)
	if err != nil {
		return sensitive.Value{}, err
	}
	if v == "" {
		return sensitive.Value{}, executor.ErrNoOperatorValue
	}
	return sensitive.New(v), nil
}

// ConfirmRevoked takes -revoked secret.NAME as the confirmation, or asks.
// The checklist itself was printed just before, as an operator step.
func (o *operator) ConfirmRevoked(ctx context.Context, q executor.RevokeQuestion) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.revoked[q.Name] {
		return true, nil
	}
	if o.tty == nil {
		return false, nil
	}
	fmt.Fprintf(o.out, "Type 'done' once the previous value of %s is revoked (anything else: later): ", q.Secret)
	answer, err := o.readLine(ctx, false)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(answer) == "done", nil
}

// readLine reads one line from the terminal, without echo when hidden. An
// interrupt (ctx done) ends it at once with ErrInterrupted and puts the
// terminal back as it was; the read left behind ends with the process.
func (o *operator) readLine(ctx context.Context, hidden bool) (string, error) {
	fd := int(o.tty.Fd())
	type line struct {
		b   []byte
		err error
	}
	got := make(chan line, 1)
	var restore func()
	if hidden {
		saved, err := term.GetState(fd)
		if err != nil {
			return "", fmt.Errorf("terminal: %w", err)
		}
		restore = func() { _ = term.Restore(fd, saved) }
		go func() {
			b, err := term.ReadPassword(fd)
			got <- line{b, err}
		}()
	} else {
		go func() {
			var b []byte
			one := make([]byte, 1)
			for {
				n, err := o.tty.Read(one)
				if n == 1 && one[0] != '\n' {
					b = append(b, one[0])
				}
				if err != nil || n == 1 && one[0] == '\n' {
					got <- line{b, err}
					return
				}
			}
		}()
	}
	select {
	case l := <-got:
		if l.err != nil && !errors.Is(l.err, io.EOF) {
			return "", fmt.Errorf("terminal: %w", l.err)
		}
		return strings.TrimRight(string(l.b), "\r"), nil
	case <-ctx.Done():
		if restore != nil {
			restore()
		}
		fmt.Fprintln(o.out)
		return "", executor.ErrInterrupted
	}
}

// indent indents every line of s after the first.
func indent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+prefix)
}
