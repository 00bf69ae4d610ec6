package envfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// dualTarget is a decoded target "env_file" block with a previous_key.
func dualTarget(path, key, previousKey string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"path":         cty.StringVal(path),
		"key":          cty.StringVal(key),
		"previous_key": cty.StringVal(previousKey),
	})
}

// writeItem is one item of a write call; value and previous "" are empty.
func writeItem(secret string, config cty.Value, value, previous string) providers.WriteItem {
	return providers.WriteItem{
		Secret:   secret,
		Target:   "target.env_file.app",
		Config:   config,
		Value:    sensitive.New(value),
		Previous: sensitive.New(previous),
	}
}

// result is what a test expects of one item: skipped, or an error saying
// err, or written.
type result struct {
	skipped bool
	err     string
}

type writeCall func(t *Target, ctx context.Context, items []providers.WriteItem) (*providers.WriteResponse, error)

func deliver(t *Target, ctx context.Context, items []providers.WriteItem) (*providers.WriteResponse, error) {
	return t.Deliver(ctx, providers.DeliverRequest{Items: items})
}

func revert(t *Target, ctx context.Context, items []providers.WriteItem) (*providers.WriteResponse, error) {
	return t.Revert(ctx, providers.RevertRequest{Items: items})
}

func retire(t *Target, ctx context.Context, items []providers.WriteItem) (*providers.WriteResponse, error) {
	return t.Retire(ctx, providers.RetireRequest{Items: items})
}

func TestWriteCalls(t *testing.T) {
	dual := dualTarget("app.env", "DB", "DB_PREV")
	tests := map[string]struct {
		before map[string]string // file name → content
		call   writeCall
		items  []providers.WriteItem
		want   []result
		after  map[string]string // file name → content; "" for no file
		writes map[string]int    // file name → writes; nil for none
	}{
		"deliver_creates_file": {
			call:   deliver,
			items:  []providers.WriteItem{writeItem("db", target("app.env", "DB"), "new", "")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB=new\n"},
			writes: map[string]int{"app.env": 1},
		},
		"deliver_keeps_the_rest": {
			before: map[string]string{"app.env": "# app\nexport DB='old' # rotated\nHOST=db\n"},
			call:   deliver,
			items:  []providers.WriteItem{writeItem("db", target("app.env", "DB"), "new", "old")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "# app\nexport DB=new # rotated\nHOST=db\n"},
			writes: map[string]int{"app.env": 1},
		},
		"deliver_dual_key": {
			before: map[string]string{"app.env": "DB=old\n"},
			call:   deliver,
			items:  []providers.WriteItem{writeItem("db", dual, "new", "old")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB=new\nDB_PREV=old\n"},
			writes: map[string]int{"app.env": 1},
		},
		"deliver_dual_key_replaces_older_previous": {
			before: map[string]string{"app.env": "DB=old\nDB_PREV=older\n"},
			call:   deliver,
			items:  []providers.WriteItem{writeItem("db", dual, "new", "old")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB=new\nDB_PREV=old\n"},
			writes: map[string]int{"app.env": 1},
		},
		"deliver_already_there_is_skipped": {
			before: map[string]string{"app.env": "DB=new\nDB_PREV=old\n"},
			call:   deliver,
			items:  []providers.WriteItem{writeItem("db", dual, "new", "old")},
			want:   []result{{skipped: true}},
			after:  map[string]string{"app.env": "DB=new\nDB_PREV=old\n"},
		},
		"deliver_value_there_previous_not": {
			before: map[string]string{"app.env": "DB=new\n"},
			call:   deliver,
			items:  []providers.WriteItem{writeItem("db", dual, "new", "old")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB=new\nDB_PREV=old\n"},
			writes: map[string]int{"app.env": 1},
		},
		"deliver_quoted_value_is_the_same_value": {
			before: map[string]string{"app.env": "DB=\"new\" # quoted\n"},
			call:   deliver,
			items:  []providers.WriteItem{writeItem("db", target("app.env", "DB"), "new", "old")},
			want:   []result{{skipped: true}},
			after:  map[string]string{"app.env": "DB=\"new\" # quoted\n"},
		},
		"deliver_first_creation_leaves_previous_key": {
			before: map[string]string{"app.env": "DB_PREV=kept\n"},
			call:   deliver,
			items:  []providers.WriteItem{writeItem("db", dual, "new", "")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB_PREV=kept\nDB=new\n"},
			writes: map[string]int{"app.env": 1},
		},
		"deliver_previous_same_as_value": {
			call:   deliver,
			items:  []providers.WriteItem{writeItem("db", dual, "same", "same")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB=same\n"},
			writes: map[string]int{"app.env": 1},
		},
		"deliver_one_write_per_file": {
			before: map[string]string{"app.env": "A=1\nB=1\n", "worker.env": "A=1\n"},
			call:   deliver,
			items: []providers.WriteItem{
				writeItem("a", target("app.env", "A"), "2", "1"),
				writeItem("a", target("worker.env", "A"), "2", "1"),
				writeItem("b", dualTarget("app.env", "B", "B_PREV"), "2", "1"),
				writeItem("c", target("app.env", "C"), "3", ""),
			},
			want:   []result{{}, {}, {}, {}},
			after:  map[string]string{"app.env": "A=2\nB=2\nB_PREV=1\nC=3\n", "worker.env": "A=2\n"},
			writes: map[string]int{"app.env": 1, "worker.env": 1},
		},
		"deliver_some_skipped": {
			before: map[string]string{"app.env": "A=2\nB=1\n"},
			call:   deliver,
			items: []providers.WriteItem{
				writeItem("a", target("app.env", "A"), "2", "1"),
				writeItem("b", target("app.env", "B"), "2", "1"),
			},
			want:   []result{{skipped: true}, {}},
			after:  map[string]string{"app.env": "A=2\nB=2\n"},
			writes: map[string]int{"app.env": 1},
		},
		"deliver_same_key_same_value": {
			call: deliver,
			items: []providers.WriteItem{
				writeItem("a", target("app.env", "A"), "v", ""),
				writeItem("a", target("./app.env", "A"), "v", ""),
			},
			want:   []result{{}, {}},
			after:  map[string]string{"app.env": "A=v\n"},
			writes: map[string]int{"app.env": 1},
		},
		"deliver_same_key_different_values": {
			before: map[string]string{"app.env": "A=1\n"},
			call:   deliver,
			items: []providers.WriteItem{
				writeItem("a", target("app.env", "A"), "2", ""),
				writeItem("b", dualTarget("app.env", "B", "A"), "3", "4"),
				writeItem("c", target("app.env", "C"), "5", ""),
			},
			want: []result{
				{err: `key A is asked for with different values by secret "a" target.env_file.app and secret "b" target.env_file.app`},
				{err: "key A is asked for with different values"},
				{},
			},
			after:  map[string]string{"app.env": "A=1\nC=5\n"},
			writes: map[string]int{"app.env": 1},
		},
		"deliver_key_is_previous_key": {
			call:  deliver,
			items: []providers.WriteItem{writeItem("db", dualTarget("app.env", "DB", "DB"), "new", "old")},
			want:  []result{{err: "key and previous_key are both DB"}},
			after: map[string]string{"app.env": ""},
		},
		"deliver_empty_value": {
			call:  deliver,
			items: []providers.WriteItem{writeItem("db", target("app.env", "DB"), "", "old")},
			want:  []result{{err: `secret "db" target.env_file.app: no value to deliver`}},
			after: map[string]string{"app.env": ""},
		},
		"deliver_nul_fails_its_item_only": {
			call: deliver,
			items: []providers.WriteItem{
				writeItem("a", target("app.env", "A"), "x\x00y", ""),
				writeItem("b", target("app.env", "B"), "ok", ""),
			},
			want:   []result{{err: "contains a NUL byte"}, {}},
			after:  map[string]string{"app.env": "B=ok\n"},
			writes: map[string]int{"app.env": 1},
		},
		"deliver_broken_file": {
			before: map[string]string{"app.env": "A=1\nnot an assignment\n"},
			call:   deliver,
			items:  []providers.WriteItem{writeItem("a", target("app.env", "A"), "2", "1")},
			want:   []result{{err: "app.env: line 2: expected KEY=VALUE"}},
			after:  map[string]string{"app.env": "A=1\nnot an assignment\n"},
		},
		"deliver_bad_config": {
			call:  deliver,
			items: []providers.WriteItem{writeItem("a", cty.NilVal, "2", "1")},
			want:  []result{{err: `env_file: secret "a" target.env_file.app: env_file block needs path and key`}},
		},

		"revert": {
			before: map[string]string{"app.env": "DB=new\nDB_PREV=old\nHOST=db\n"},
			call:   revert,
			items:  []providers.WriteItem{writeItem("db", dual, "old", "new")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB=old\nHOST=db\n"},
			writes: map[string]int{"app.env": 1},
		},
		"revert_twice_is_skipped": {
			before: map[string]string{"app.env": "DB=old\nHOST=db\n"},
			call:   revert,
			items:  []providers.WriteItem{writeItem("db", dual, "old", "new")},
			want:   []result{{skipped: true}},
			after:  map[string]string{"app.env": "DB=old\nHOST=db\n"},
		},
		"revert_removes_the_candidate_from_previous_key": {
			before: map[string]string{"app.env": "DB=old\nDB_PREV=new\n"},
			call:   revert,
			items:  []providers.WriteItem{writeItem("db", dual, "old", "new")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB=old\n"},
			writes: map[string]int{"app.env": 1},
		},
		"revert_leaves_an_older_previous": {
			before: map[string]string{"app.env": "DB=new\nDB_PREV=older\n"},
			call:   revert,
			items:  []providers.WriteItem{writeItem("db", dual, "old", "new")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB=old\nDB_PREV=older\n"},
			writes: map[string]int{"app.env": 1},
		},
		"revert_single_key": {
			before: map[string]string{"app.env": "DB=new\nDB_PREV=old\n"},
			call:   revert,
			items:  []providers.WriteItem{writeItem("db", target("app.env", "DB"), "old", "new")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB=old\nDB_PREV=old\n"},
			writes: map[string]int{"app.env": 1},
		},
		"revert_first_creation_removes_the_candidate": {
			before: map[string]string{"app.env": "HOST=db\nDB=new\n"},
			call:   revert,
			items:  []providers.WriteItem{writeItem("db", dual, "", "new")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "HOST=db\n"},
			writes: map[string]int{"app.env": 1},
		},
		"revert_first_creation_leaves_another_value": {
			before: map[string]string{"app.env": "DB=someone-else\n"},
			call:   revert,
			items:  []providers.WriteItem{writeItem("db", dual, "", "new")},
			want:   []result{{skipped: true}},
			after:  map[string]string{"app.env": "DB=someone-else\n"},
		},
		"revert_without_values": {
			before: map[string]string{"app.env": "DB=new\n"},
			call:   revert,
			items:  []providers.WriteItem{writeItem("db", dual, "", "")},
			want:   []result{{err: "nothing to revert to"}},
			after:  map[string]string{"app.env": "DB=new\n"},
		},
		"revert_many_one_write": {
			before: map[string]string{"app.env": "A=2\nA_PREV=1\nB=2\n"},
			call:   revert,
			items: []providers.WriteItem{
				writeItem("a", dualTarget("app.env", "A", "A_PREV"), "1", "2"),
				writeItem("b", target("app.env", "B"), "1", "2"),
			},
			want:   []result{{}, {}},
			after:  map[string]string{"app.env": "A=1\nB=1\n"},
			writes: map[string]int{"app.env": 1},
		},

		"retire": {
			before: map[string]string{"app.env": "DB=new\nDB_PREV=old\nHOST=db\n"},
			call:   retire,
			items:  []providers.WriteItem{writeItem("db", dual, "new", "old")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB=new\nHOST=db\n"},
			writes: map[string]int{"app.env": 1},
		},
		"retire_whatever_previous_holds": {
			before: map[string]string{"app.env": "DB=new\nDB_PREV=unknown\n"},
			call:   retire,
			items:  []providers.WriteItem{writeItem("db", dual, "new", "old")},
			want:   []result{{}},
			after:  map[string]string{"app.env": "DB=new\n"},
			writes: map[string]int{"app.env": 1},
		},
		"retire_twice_is_skipped": {
			before: map[string]string{"app.env": "DB=new\n"},
			call:   retire,
			items:  []providers.WriteItem{writeItem("db", dual, "new", "old")},
			want:   []result{{skipped: true}},
			after:  map[string]string{"app.env": "DB=new\n"},
		},
		"retire_without_previous_key_is_skipped": {
			before: map[string]string{"app.env": "DB=new\nDB_PREV=old\n"},
			call:   retire,
			items:  []providers.WriteItem{writeItem("db", target("app.env", "DB"), "new", "old")},
			want:   []result{{skipped: true}},
			after:  map[string]string{"app.env": "DB=new\nDB_PREV=old\n"},
		},
		"retire_missing_file_is_skipped": {
			call:  retire,
			items: []providers.WriteItem{writeItem("db", dual, "new", "old")},
			want:  []result{{skipped: true}},
			after: map[string]string{"app.env": ""},
		},
		"retire_many_one_write": {
			before: map[string]string{"app.env": "A=2\nA_PREV=1\nB=2\nB_PREV=1\n"},
			call:   retire,
			items: []providers.WriteItem{
				writeItem("a", dualTarget("app.env", "A", "A_PREV"), "2", "1"),
				writeItem("b", dualTarget("app.env", "B", "B_PREV"), "2", "1"),
			},
			want:   []result{{}, {}},
			after:  map[string]string{"app.env": "A=2\nB=2\n"},
			writes: map[string]int{"app.env": 1},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for file, content := range tc.before {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(dir, file), 0o644); err != nil { // whatever the umask
					t.Fatal(err)
				}
			}
			writes := countWrites(t, dir)
			tgt, err := New(providers.Settings{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tc.call(tgt, context.Background(), tc.items)
			if err != nil {
				t.Fatal(err)
			}
			checkResults(t, resp, tc.want)
			for file, want := range tc.after {
				got, err := os.ReadFile(filepath.Join(dir, file))
				if errors.Is(err, os.ErrNotExist) && want == "" {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != want {
					t.Errorf("%s:\n%s\nwant:\n%s", file, got, want)
				}
			}
			if len(writes) > 0 || len(tc.writes) > 0 {
				if !reflect.DeepEqual(writes, tc.writes) {
					t.Errorf("writes %v, want %v", writes, tc.writes)
				}
			}
			for file := range tc.writes {
				// A file keeps its mode; a new one is its user's alone.
				want := os.FileMode(0o600)
				if _, existed := tc.before[file]; existed {
					want = 0o644
				}
				assertMode(t, filepath.Join(dir, file), want)
			}
			assertNoTemp(t, dir)
		})
	}
}

// countWrites counts the rewrites of each file in dir until the test ends.
func countWrites(t *testing.T, dir string) map[string]int {
	t.Helper()
	writes := map[string]int{}
	t.Cleanup(func() { rewrite = Write })
	rewrite = func(path string, sets map[string]sensitive.Value, unsets []string) error {
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			t.Fatal(err)
		}
		writes[rel]++
		return Write(path, sets, unsets)
	}
	return writes
}

func checkResults(t *testing.T, resp *providers.WriteResponse, want []result) {
	t.Helper()
	if len(resp.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(resp.Results), len(want))
	}
	for i, got := range resp.Results {
		switch {
		case want[i].err != "":
			if got.Err == nil || !strings.Contains(got.Err.Error(), want[i].err) {
				t.Errorf("item %d: got %+v, want error %q", i, got, want[i].err)
			}
		case got.Err != nil:
			t.Errorf("item %d: %v", i, got.Err)
		case got.Skipped != want[i].skipped:
			t.Errorf("item %d: skipped %v, want %v", i, got.Skipped, want[i].skipped)
		}
	}
}

// A rotation that fails its check and is rolled back leaves the file as it
// was; its retire, later, empties the previous slot.
func TestDeliverRevertRoundTrip(t *testing.T) {
	dir := t.TempDir()
	const before = "# app\nexport DB='old' # rotated by rotplan\nHOST=db\n"
	path := filepath.Join(dir, "app.env")
	if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	tgt := &Target{dir: dir}
	ctx := context.Background()
	cfg := dualTarget("app.env", "DB", "DB_PREV")
	steps := []struct {
		name string
		call writeCall
		item providers.WriteItem
		want string
	}{
		{"deliver", deliver, writeItem("db", cfg, "new", "old"), "# app\nexport DB=new # rotated by rotplan\nHOST=db\nDB_PREV=old\n"},
		{"deliver_again", deliver, writeItem("db", cfg, "new", "old"), "# app\nexport DB=new # rotated by rotplan\nHOST=db\nDB_PREV=old\n"},
		{"revert", revert, writeItem("db", cfg, "old", "new"), "# app\nexport DB=old # rotated by rotplan\nHOST=db\n"},
		{"revert_again", revert, writeItem("db", cfg, "old", "new"), "# app\nexport DB=old # rotated by rotplan\nHOST=db\n"},
		{"deliver_retry", deliver, writeItem("db", cfg, "newer", "old"), "# app\nexport DB=newer # rotated by rotplan\nHOST=db\nDB_PREV=old\n"},
		{"retire", retire, writeItem("db", cfg, "newer", "old"), "# app\nexport DB=newer # rotated by rotplan\nHOST=db\n"},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			resp, err := step.call(tgt, ctx, []providers.WriteItem{step.item})
			if err != nil {
				t.Fatal(err)
			}
			if err := resp.Results[0].Err; err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != step.want {
				t.Fatalf("file:\n%s\nwant:\n%s", got, step.want)
			}
			obs, err := tgt.Observe(ctx, providers.ObserveRequest{Items: []providers.ObserveItem{{Secret: "db", Config: cfg, Current: step.item.Value}}})
			if err != nil {
				t.Fatal(err)
			}
			if h := obs.Results[0].Holds; h != providers.HoldsCurrent {
				t.Errorf("after %s the file holds %s, want current", step.name, h)
			}
		})
	}
}

func TestWriteCallsNeverQuoteValues(t *testing.T) {
	const newValue, oldValue = canary + "-new", canary + "-old"
	dir := t.TempDir()
	files := map[string]string{
		"ok.env":     "DB=" + oldValue + "\n",
		"broken.env": "DB=" + oldValue + "\n" + canary + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "locked"), 0o500); err != nil {
		t.Fatal(err)
	}
	items := []providers.WriteItem{
		writeItem("ok", dualTarget("ok.env", "DB", "DB_PREV"), newValue, oldValue),
		writeItem("conflict", target("ok.env", "DB_PREV"), canary, ""),
		writeItem("broken", dualTarget("broken.env", "DB", "DB_PREV"), newValue, oldValue),
		writeItem("nul", target("nul.env", "DB"), canary+"\x00", oldValue),
		writeItem("locked", dualTarget("locked/app.env", "DB", "DB_PREV"), newValue, oldValue),
		writeItem("same", dualTarget("same.env", "DB", "DB"), newValue, oldValue),
	}
	tgt := &Target{dir: dir}
	for name, call := range map[string]writeCall{"deliver": deliver, "revert": revert, "retire": retire} {
		t.Run(name, func(t *testing.T) {
			resp, err := call(tgt, context.Background(), items)
			if err != nil {
				t.Fatal(err)
			}
			errs := 0
			for i, r := range resp.Results {
				if r.Err == nil {
					continue
				}
				errs++
				if s := fmt.Sprintf("%v %+v %#v", r.Err, r.Err, r.Err); strings.Contains(s, canary) {
					t.Errorf("item %d: error quotes a value: %s", i, s)
				}
			}
			if errs < 2 {
				t.Errorf("only %d errors to check", errs)
			}
		})
	}
}

func TestWriteCallsCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	items := []providers.WriteItem{writeItem("db", target("app.env", "DB"), "new", "old")}
	for name, call := range map[string]writeCall{"deliver": deliver, "revert": revert, "retire": retire} {
		t.Run(name, func(t *testing.T) {
			if _, err := call(&Target{dir: dir}, ctx, items); !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "app.env")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("wrote the file after cancel: %v", err)
			}
		})
	}
}

func TestRegisteredTargetWrites(t *testing.T) {
	r := providers.NewRegistry()
	Register(r)
	tgt, err := r.NewTarget("env_file", providers.Settings{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tgt.(providers.TargetWriter); !ok {
		t.Fatalf("%T is not a providers.TargetWriter", tgt)
	}
}
