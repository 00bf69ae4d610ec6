package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// block is a decoded exec block; valueEnv "" passes the value on stdin.
func block(valueEnv string, argv ...string) cty.Value {
	args := make([]cty.Value, len(argv))
	for i, a := range argv {
		args[i] = cty.StringVal(a)
	}
	env := cty.NullVal(cty.String)
	if valueEnv != "" {
		env = cty.StringVal(valueEnv)
	}
	return cty.ObjectVal(map[string]cty.Value{"command": cty.ListVal(args), "value_env": env})
}

// sh is a block running script with /bin/sh.
func sh(valueEnv, script string) cty.Value {
	return block(valueEnv, "/bin/sh", "-c", script)
}

// pemValue is a value of several lines, each of which scrub must find.
const pemValue = "-----BEGIN TEST KEY-----\n" + canary + "AAAA\nBBBB" + canary + "\n-----END TEST KEY-----\n"

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// settings runs commands in a new directory, logging at every level.
func settings(t *testing.T) (providers.Settings, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	return providers.Settings{
		Dir:    t.TempDir(),
		Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace}),
	}, logs
}

func TestVerify(t *testing.T) {
	tests := map[string]struct {
		config cty.Value
		value  string
		ctx    time.Duration // a deadline, 0 for none
		// err is part of the error; "" means the check passes.
		err string
		// not must not be in the error.
		not []string
		// got, when set, is what the command must have written to got.txt.
		got *string
		// wrapsDeadline: the error wraps context.DeadlineExceeded.
		wrapsDeadline bool
	}{
		"value_in_env": {
			config: sh("TOKEN", `printf %s "$TOKEN" > got.txt`),
			value:  canary,
			got:    ptr(canary),
		},
		"value_on_stdin": {
			config: sh("", `cat > got.txt`),
			value:  pemValue,
			got:    ptr(pemValue),
		},
		"env_not_set_without_value_env": {
			config: sh("", `cat >/dev/null; env > got.txt`),
			value:  canary,
			got:    nil,
		},
		"stdin_empty_with_value_env": {
			config: sh("TOKEN", `cat > got.txt`),
			value:  canary,
			got:    ptr(""),
		},
		"exit_status": {
			config: sh("TOKEN", `echo "checking" >&2; echo "login failed for token $TOKEN" >&2; exit 3`),
			value:  canary,
			err:    `/bin/sh: exit status 3; its standard error ended with "checking" "login failed for token (sensitive)"`,
		},
		"last_lines_only": {
			config: sh("", `cat >/dev/null; for i in 1 2 3 4 5 6 7 8; do echo "line $i" >&2; done; exit 1`),
			value:  canary,
			err:    `ended with "line 4" "line 5" "line 6" "line 7" "line 8"`,
			not:    []string{"line 3"},
		},
		"stdout_never_shown": {
			config: sh("TOKEN", `echo "stdout says $TOKEN"; exit 1`),
			value:  canary,
			err:    "/bin/sh: exit status 1",
			not:    []string{"stdout says", "ended with"},
		},
		"whole_value_scrubbed": {
			config: sh("", `echo "got:" >&2; cat >&2; exit 2`),
			value:  pemValue,
			err:    `ended with "got:" "(sensitive)"`,
			not:    []string{"AAAA", "BBBB", "KEY"},
		},
		"each_line_of_the_value_scrubbed": {
			config: sh("", `echo before >&2; sed -n '3p;2p' >&2; exit 2`),
			value:  pemValue,
			err:    `ended with "before" "(sensitive)" "(sensitive)"`,
			not:    []string{"AAAA", "BBBB"},
		},
		"long_line_cut": {
			config: sh("", `cat >/dev/null; head -c 1000 /dev/zero | tr '\0' x >&2; exit 1`),
			value:  canary,
			err:    `"` + strings.Repeat("x", 200) + `…"`,
			not:    []string{strings.Repeat("x", 201)},
		},
		"control_characters_quoted": {
			config: sh("", `cat >/dev/null; printf '\033[31mred\033[0m\n' >&2; exit 1`),
			value:  canary,
			err:    `"\x1b[31mred\x1b[0m"`,
		},
		"flood_keeps_the_end": {
			config: sh("TOKEN", `head -c 100000 /dev/zero | tr '\0' y >&2; echo >&2; printf '%s\nlast line\n' "$TOKEN" >&2; exit 1`),
			value:  canary,
			err:    `ended with "(sensitive)" "last line"`,
			not:    []string{"yyyy"},
		},
		"signal": {
			config: sh("", `kill -9 $$`),
			value:  canary,
			err:    "signal: killed",
		},
		"deadline": {
			config:        sh("", `cat >/dev/null; echo "waiting" >&2; exec sleep 10`),
			value:         canary,
			ctx:           300 * time.Millisecond,
			err:           `stopped after `,
			wrapsDeadline: true,
		},
		"not_found": {
			config: block("", "./no-such-check.sh"),
			value:  canary,
			err:    "./no-such-check.sh",
		},
		"value_in_arguments_refused": {
			config: block("TOKEN", "/bin/sh", "-c", "echo ran > got.txt", "sh", "--token="+canary),
			value:  canary,
			err:    "not run: the value is in the command's arguments",
		},
		"nul_in_env_refused": {
			config: sh("TOKEN", `echo ran > got.txt`),
			value:  canary + "\x00",
			err:    "not run: the value contains a NUL byte",
		},
		"nul_on_stdin": {
			config: sh("", `cat > got.txt`),
			value:  canary + "\x00x",
			got:    ptr(canary + "\x00x"),
		},
		"bad_config": {
			config: cty.NilVal,
			err:    "verify exec: the exec block is not decoded",
		},
		"unknown_command": {
			config: cty.ObjectVal(map[string]cty.Value{"command": cty.UnknownVal(cty.List(cty.String)), "value_env": cty.NullVal(cty.String)}),
			err:    "command is not a known list of strings",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, logs := settings(t)
			v, err := NewVerifier(s)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.ctx != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			resp, err := v.Verify(ctx, providers.VerifyRequest{Secret: "api_token", Config: tc.config, Value: sensitive.New(tc.value)})
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if resp.Detail != "/bin/sh: exit status 0" {
					t.Errorf("detail %q", resp.Detail)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error saying %q", err, tc.err)
				}
				for _, not := range tc.not {
					if strings.Contains(err.Error(), not) {
						t.Errorf("error says %q: %v", not, err)
					}
				}
				if got := errors.Is(err, context.DeadlineExceeded); got != tc.wrapsDeadline {
					t.Errorf("wraps context.DeadlineExceeded: %v, want %v", got, tc.wrapsDeadline)
				}
				if strings.Contains(tc.err, "not run") {
					if _, err := os.Stat(filepath.Join(s.Dir, "got.txt")); err == nil {
						t.Error("the command ran")
					}
				}
			}
			got, readErr := os.ReadFile(filepath.Join(s.Dir, "got.txt"))
			if tc.got != nil && (readErr != nil || string(got) != *tc.got) {
				t.Errorf("the command got %q (%v), want the value", got, readErr)
			}
			if name == "env_not_set_without_value_env" && bytes.Contains(got, []byte(canary)) {
				t.Error("the value is in the environment without value_env")
			}
			out := fmt.Sprintf("%v %+v %#v", err, err, err) + logs.String()
			if resp != nil {
				out += resp.Detail
			}
			for _, leak := range []string{canary, "AAAA", "BBBB"} {
				if strings.Contains(out, leak) {
					t.Errorf("%q leaked: %s", leak, out)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestVerifyRunsInInventoryDir(t *testing.T) {
	s, _ := settings(t)
	script := "#!/bin/sh\ntest \"$(cat)\" = \"$(cat expected.txt)\"\n"
	if err := os.WriteFile(filepath.Join(s.Dir, "check.sh"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "expected.txt"), []byte(canary), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(s)
	if err != nil {
		t.Fatal(err)
	}
	for value, pass := range map[string]bool{canary: true, canary + "-wrong": false} {
		_, err := v.Verify(context.Background(), providers.VerifyRequest{Config: block("", "./check.sh"), Value: sensitive.New(value)})
		if (err == nil) != pass {
			t.Errorf("value passes: %v, want %v (%v)", err == nil, pass, err)
		}
		if err != nil && !strings.Contains(err.Error(), "./check.sh: exit status 1") {
			t.Errorf("error %v, want the exit status", err)
		}
	}
}

func TestTarget(t *testing.T) {
	// Each command appends what it got to delivered.txt, tagged.
	appendTo := func(tag string) cty.Value {
		return sh("NEW_VALUE", `printf '`+tag+`=%s\n' "$NEW_VALUE" >> delivered.txt`)
	}
	item := func(secret string, config cty.Value, value, previous string) providers.WriteItem {
		return providers.WriteItem{Secret: secret, Target: "target.exec.reload", Config: config, Value: sensitive.New(value), Previous: sensitive.New(previous)}
	}
	type result struct {
		skipped bool
		err     string
	}
	tests := map[string]struct {
		call  func(t *Target, ctx context.Context, items []providers.WriteItem) (*providers.WriteResponse, error)
		items []providers.WriteItem
		want  []result
		file  string // delivered.txt afterwards
	}{
		"deliver": {
			call: deliverCall,
			items: []providers.WriteItem{
				item("db", appendTo("a"), "new-1", "old-1"),
				item("db", sh("", `printf 'b=%s\n' "$(cat)" >> delivered.txt`), "new-2", "old-2"),
			},
			want: []result{{}, {}},
			file: "a=new-1\nb=new-2\n",
		},
		"deliver_failure_fails_its_item_only": {
			call: deliverCall,
			items: []providers.WriteItem{
				item("db", sh("NEW_VALUE", `echo "pgbouncer refused $NEW_VALUE" >&2; exit 4`), canary, "old"),
				item("cache", appendTo("c"), "new-3", "old-3"),
			},
			want: []result{{err: `exec: secret "db" target.exec.reload: deliver: /bin/sh: exit status 4; its standard error ended with "pgbouncer refused (sensitive)"`}, {}},
			file: "c=new-3\n",
		},
		"deliver_empty_value": {
			call:  deliverCall,
			items: []providers.WriteItem{item("db", appendTo("a"), "", "old")},
			want:  []result{{err: "deliver: no value to deliver"}},
		},
		"deliver_bad_config": {
			call:  deliverCall,
			items: []providers.WriteItem{item("db", cty.NilVal, "new", "old")},
			want:  []result{{err: `exec: secret "db" target.exec.reload: deliver: the exec block is not decoded`}},
		},
		"revert_delivers_the_old_value": {
			call:  revertCall,
			items: []providers.WriteItem{item("db", appendTo("a"), "old-1", "new-1")},
			want:  []result{{}},
			file:  "a=old-1\n",
		},
		"revert_without_old_value": {
			call:  revertCall,
			items: []providers.WriteItem{item("db", appendTo("a"), "", "new-1")},
			want:  []result{{err: "revert: no old value to restore"}},
		},
		"retire_does_nothing": {
			call: retireCall,
			items: []providers.WriteItem{
				item("db", appendTo("a"), "new-1", "old-1"),
				item("db", cty.NilVal, "new-1", "old-1"),
			},
			want: []result{{skipped: true}, {skipped: true}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, logs := settings(t)
			tgt, err := NewTarget(s)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tc.call(tgt, context.Background(), tc.items)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Results) != len(tc.want) {
				t.Fatalf("%d results, want %d", len(resp.Results), len(tc.want))
			}
			out := logs.String()
			for i, got := range resp.Results {
				want := tc.want[i]
				switch {
				case want.err != "":
					if got.Err == nil || !strings.Contains(got.Err.Error(), want.err) {
						t.Errorf("item %d: got %+v, want error %q", i, got, want.err)
					}
				case got.Err != nil:
					t.Errorf("item %d: %v", i, got.Err)
				case got.Skipped != want.skipped:
					t.Errorf("item %d: skipped %v, want %v", i, got.Skipped, want.skipped)
				}
				out += fmt.Sprint(got.Err)
			}
			b, _ := os.ReadFile(filepath.Join(s.Dir, "delivered.txt"))
			if string(b) != tc.file {
				t.Errorf("delivered.txt:\n%s\nwant:\n%s", b, tc.file)
			}
			if strings.Contains(out, canary) {
				t.Errorf("the value leaked: %s", out)
			}
		})
	}
}

func deliverCall(t *Target, ctx context.Context, items []providers.WriteItem) (*providers.WriteResponse, error) {
	return t.Deliver(ctx, providers.DeliverRequest{Items: items})
}

func revertCall(t *Target, ctx context.Context, items []providers.WriteItem) (*providers.WriteResponse, error) {
	return t.Revert(ctx, providers.RevertRequest{Items: items})
}

func retireCall(t *Target, ctx context.Context, items []providers.WriteItem) (*providers.WriteResponse, error) {
	return t.Retire(ctx, providers.RetireRequest{Items: items})
}

func TestTargetObserve(t *testing.T) {
	s, _ := settings(t)
	tgt, err := NewTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	items := []providers.ObserveItem{
		{Secret: "a", Config: sh("", "exit 1"), Current: sensitive.New("x")},
		{Secret: "b", Config: cty.NilVal},
	}
	resp, err := tgt.Observe(context.Background(), providers.ObserveRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		if r.Holds != providers.HoldsUnknown || r.Err != nil {
			t.Errorf("item %d: %+v, want unknown", i, r)
		}
	}
}

func TestTargetCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, _ := settings(t)
	tgt, err := NewTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	items := []providers.WriteItem{{Secret: "a", Config: sh("", "echo ran > got.txt"), Value: sensitive.New("v"), Previous: sensitive.New("p")}}
	for name, call := range map[string]func() error{
		"deliver": func() error { _, err := tgt.Deliver(ctx, providers.DeliverRequest{Items: items}); return err },
		"revert":  func() error { _, err := tgt.Revert(ctx, providers.RevertRequest{Items: items}); return err },
		"retire":  func() error { _, err := tgt.Retire(ctx, providers.RetireRequest{Items: items}); return err },
		"observe": func() error {
			_, err := tgt.Observe(ctx, providers.ObserveRequest{Items: []providers.ObserveItem{{Secret: "a"}}})
			return err
		},
	} {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: got %v, want context.Canceled", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "got.txt")); err == nil {
		t.Error("a command ran after cancel")
	}
}

// A value cut by the start of the kept standard error cannot be
// recognised, so the line it is on is never shown.
func TestTailDropsCutLine(t *testing.T) {
	const value = "SECRET-VALUE-123"
	tests := map[string]struct {
		writes []string
		want   []string
	}{
		"fits": {
			writes: []string{"a\n", "b " + value + "\n"},
			want:   []string{`"a"`, `"b (sensitive)"`},
		},
		"value_cut_at_start": {
			// 34 bytes: the 24 kept start inside the value.
			writes: []string{"xxxx" + value, "\nend and more\n"},
			want:   []string{`"end and more"`},
		},
		"one_long_line": {
			writes: []string{strings.Repeat("z", 40) + value},
			want:   nil,
		},
		"blank_lines_skipped": {
			writes: []string{"a\n\n  \n\n"},
			want:   []string{`"a"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tl := &tail{max: 24}
			for _, w := range tc.writes {
				if n, err := tl.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("write: %d, %v", n, err)
				}
			}
			got := tl.lastLines(sensitive.New(value))
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
