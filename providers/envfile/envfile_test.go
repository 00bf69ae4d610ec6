package envfile

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

const canary = "canary-93b1c0de"

func TestParse(t *testing.T) {
	tests := map[string]struct {
		src  string
		want []string // KEY=value pairs, in file order
		err  string   // for a bad file: the error, which must not quote it
	}{
		"empty":            {src: "", want: nil},
		"simple":           {src: "A=1\nB=two\n", want: []string{"A=1", "B=two"}},
		"no_final_newline": {src: "A=1\nB=2", want: []string{"A=1", "B=2"}},
		"crlf":             {src: "A=1\r\nB='x y'\r\n", want: []string{"A=1", "B=x y"}},
		"comments_and_blanks": {
			src:  "# top\n\n   \nA=1\n  # indented comment\n\tB=2\n",
			want: []string{"A=1", "B=2"},
		},
		"export":               {src: "export A=1\nexport\tB=2\n", want: []string{"A=1", "B=2"}},
		"key_named_export":     {src: "export=1\n", want: []string{"export=1"}},
		"spaces_around_equals": {src: "A = 1 \n", want: []string{"A=1"}},
		"empty_values":         {src: "A=\nB=''\nC=\"\"\nD= # nothing\n", want: []string{"A=", "B=", "C=", "D="}},
		"inline_comment":       {src: "A=abc # note\nB=abc\t# note\n", want: []string{"A=abc", "B=abc"}},
		"hash_inside_value":    {src: "A=ab#c\nB=#abc\n", want: []string{"A=ab#c", "B=#abc"}},
		"equals_inside_value":  {src: "A=b=c==\n", want: []string{"A=b=c=="}},
		"single_quoted_literal": {
			src:  `A='a\nb "c" $HOME # d'` + "\n",
			want: []string{`A=a\nb "c" $HOME # d`},
		},
		"double_quoted_escapes": {
			src:  `A="a\nb \"c\" \\ \$x \t\q"` + "\n",
			want: []string{"A=a\nb \"c\" \\ $x \t\\q"},
		},
		"quoted_then_comment": {src: "A='x' # c\nB=\"y\"#c\n", want: []string{"A=x", "B=y"}},
		"multiline_double":    {src: "A=\"one\ntwo\"\nB=3\n", want: []string{"A=one\ntwo", "B=3"}},
		"multiline_single":    {src: "A='one\ntwo'\nB=3\n", want: []string{"A=one\ntwo", "B=3"}},
		"duplicates_kept":     {src: "A=1\nA=2\n", want: []string{"A=1", "A=2"}},
		"dotted_key":          {src: "app.db-pass=1\n", want: []string{"app.db-pass=1"}},

		"no_equals": {
			src: "A=1\n" + canary + "\n",
			err: "line 2: expected KEY=VALUE",
		},
		"space_in_key": {
			src: "A=1\nmy " + canary + "=x\n",
			err: "line 2: expected KEY=VALUE",
		},
		"unterminated_single": {
			src: "A=1\n\nB='" + canary + "\nC=3\n",
			err: "line 3: unterminated single-quoted value",
		},
		"unterminated_double": {
			src: "A=\"" + canary + `\"` + "\n",
			err: "line 1: unterminated double-quoted value",
		},
		"text_after_quote": {
			src: "A='x\ny'" + canary + "\n",
			err: "line 2: unexpected text after the quoted value",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parse([]byte(tc.src))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var pairs []string
			for _, a := range got {
				pairs = append(pairs, a.key+"="+string(a.value))
			}
			if !reflect.DeepEqual(pairs, tc.want) {
				t.Fatalf("got %q, want %q", pairs, tc.want)
			}
		})
	}
}

// target is a decoded target "env_file" block.
func target(path, key string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"path":         cty.StringVal(path),
		"key":          cty.StringVal(key),
		"previous_key": cty.NullVal(cty.String),
	})
}

func TestObserve(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("app.env", "# app\nexport DB_PASSWORD='s3cret'\nOLD=stale\nEMPTY=\nTWICE=old\nTWICE=new\n")
	write("broken.env", "OK=1\n"+canary+"\n")

	tests := map[string]struct {
		config  cty.Value
		current string
		want    providers.Holding
		err     string
	}{
		"current":           {config: target("app.env", "DB_PASSWORD"), current: "s3cret", want: providers.HoldsCurrent},
		"other":             {config: target("app.env", "OLD"), current: "fresh", want: providers.HoldsOther},
		"prefix_is_other":   {config: target("app.env", "DB_PASSWORD"), current: "s3cre", want: providers.HoldsOther},
		"missing_key":       {config: target("app.env", "NOPE"), current: "x", want: providers.HoldsNothing},
		"empty_value":       {config: target("app.env", "EMPTY"), current: "x", want: providers.HoldsNothing},
		"last_one_wins":     {config: target("app.env", "TWICE"), current: "new", want: providers.HoldsCurrent},
		"missing_file":      {config: target("none.env", "DB_PASSWORD"), current: "x", want: providers.HoldsNothing},
		"absolute_path":     {config: target(filepath.Join(dir, "app.env"), "DB_PASSWORD"), current: "s3cret", want: providers.HoldsCurrent},
		"broken_file":       {config: target("broken.env", "OK"), current: "1", err: "line 2: expected KEY=VALUE"},
		"unknown_path":      {config: cty.ObjectVal(map[string]cty.Value{"path": cty.UnknownVal(cty.String), "key": cty.StringVal("K"), "previous_key": cty.NullVal(cty.String)}), err: "path is not known"},
		"no_config":         {config: cty.NilVal, err: "needs path and key"},
		"no_current_value":  {config: target("app.env", "DB_PASSWORD"), want: providers.HoldsOther},
		"no_current_no_key": {config: target("app.env", "NOPE"), want: providers.HoldsNothing},
		"with_previous_key": {config: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("app.env"), "key": cty.StringVal("DB_PASSWORD"), "previous_key": cty.StringVal("OLD")}), current: "s3cret", want: providers.HoldsCurrent},
	}

	var names []string
	var items []providers.ObserveItem
	for name, tc := range tests {
		names = append(names, name)
		items = append(items, providers.ObserveItem{Secret: name, Target: "target.env_file.app", Config: tc.config, Current: sensitive.New(tc.current)})
	}
	reads := map[string]int{}
	read := readFile
	readFile = func(name string) ([]byte, error) {
		reads[name]++
		return read(name)
	}
	t.Cleanup(func() { readFile = read })

	tgt, err := New(providers.Settings{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tgt.Observe(context.Background(), providers.ObserveRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != len(items) {
		t.Fatalf("%d results for %d items", len(resp.Results), len(items))
	}
	for i, name := range names {
		tc := tests[name]
		t.Run(name, func(t *testing.T) {
			got := resp.Results[i]
			if tc.err != "" {
				if got.Err == nil || !strings.Contains(got.Err.Error(), tc.err) {
					t.Fatalf("got %+v, want error %q", got, tc.err)
				}
				if strings.Contains(got.Err.Error(), canary) {
					t.Fatalf("error quotes the file: %v", got.Err)
				}
				return
			}
			if got.Err != nil {
				t.Fatal(got.Err)
			}
			if got.Holds != tc.want {
				t.Fatalf("holds %s, want %s", got.Holds, tc.want)
			}
		})
	}
	want := map[string]int{
		filepath.Join(dir, "app.env"):    1,
		filepath.Join(dir, "none.env"):   1,
		filepath.Join(dir, "broken.env"): 1,
	}
	if !reflect.DeepEqual(reads, want) {
		t.Errorf("reads %v, want each file once: %v", reads, want)
	}
}

func TestObserveCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	items := []providers.ObserveItem{{Secret: "s", Config: target("a.env", "A")}}
	if _, err := (&Target{dir: t.TempDir()}).Observe(ctx, providers.ObserveRequest{Items: items}); err == nil {
		t.Fatal("observed with a canceled context")
	}
}

func TestSpec(t *testing.T) {
	tests := map[string]struct {
		body string
		want cty.Value
		diag string
	}{
		"minimal": {
			body: "path = \".env\"\nkey = \"DB_PASSWORD\"\n",
			want: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(".env"), "key": cty.StringVal("DB_PASSWORD"), "previous_key": cty.NullVal(cty.String)}),
		},
		"dual_key": {
			body: "path = \".env\"\nkey = \"DB_PASSWORD\"\nprevious_key = \"DB_PASSWORD_OLD\"\n",
			want: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(".env"), "key": cty.StringVal("DB_PASSWORD"), "previous_key": cty.StringVal("DB_PASSWORD_OLD")}),
		},
		"no_path":              {body: `key = "A"`, diag: `The argument "path" is required`},
		"no_key":               {body: `path = ".env"`, diag: `The argument "key" is required`},
		"empty_path":           {body: "path = \"\"\nkey = \"A\"\n", diag: "Empty path"},
		"bad_key":              {body: "path = \".env\"\nkey = \"DB PASSWORD\"\n", diag: "Invalid key"},
		"key_starts_digit":     {body: "path = \".env\"\nkey = \"1A\"\n", diag: "Invalid key"},
		"bad_previous_key":     {body: "path = \".env\"\nkey = \"A\"\nprevious_key = \"A=B\"\n", diag: "Invalid previous_key"},
		"unsupported_argument": {body: "path = \".env\"\nkey = \"A\"\nmode = \"0600\"\n", diag: "Unsupported argument"},
	}
	r := providers.NewRegistry()
	Register(r)
	schema, ok := r.Schema(config.KindTarget, "env_file")
	if !ok || schema.NotImplemented {
		t.Fatalf("env_file target not registered: %v %+v", ok, schema)
	}
	if _, err := r.NewTarget("env_file", providers.Settings{Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, diags := hclsyntax.ParseConfig([]byte(tc.body), "test.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, diags := hcldec.Decode(f.Body, schema.Spec, nil)
			if tc.diag != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.diag) {
					t.Fatalf("diagnostics %v, want %q", diags, tc.diag)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !got.RawEquals(tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}
