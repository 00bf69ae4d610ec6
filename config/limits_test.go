package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers/builtin"
)

// loadFiles loads files in a fresh directory, as plan does, and returns
// the diagnostics.
func loadFiles(t *testing.T, files map[string]string) (*config.Inventory, hcl.Diagnostics) {
	t.Helper()
	in := make(map[string][]byte, len(files))
	for name, src := range files {
		in[name] = []byte(src)
	}
	return config.Load(t.TempDir(), in, config.Options{
		Schemas:   builtin.Registry(),
		Mode:      config.ModePlan,
		LookupEnv: func(string) (string, bool) { return "", false },
	})
}

// secretWith declares secret a with the description expr.
func secretWith(expr string) string {
	return "secret \"a\" {\n  frequency = \"90d\"\n  generate \"random\" {}\n  description = " + expr + "\n}\n"
}

// TestLimits pins each limit of loading: the input just past it is one
// diagnostic (or the first of a few) with this summary, at this place.
func TestLimits(t *testing.T) {
	deep := func(open, middle, close string, n int) string {
		return strings.Repeat(open, n) + middle + strings.Repeat(close, n)
	}
	cases := map[string]struct {
		files   map[string]string
		summary string
		at      string // file:line of the first diagnostic
	}{
		"file too large": {
			files:   map[string]string{"a.hcl": strings.Repeat("#", config.MaxFileSize+1)},
			summary: "Inventory file too large",
			at:      "a.hcl:1",
		},
		"inventory too large": {
			files: func() map[string]string {
				files := map[string]string{}
				for i := 0; i <= config.MaxInventorySize/config.MaxFileSize; i++ {
					files[fmt.Sprintf("f%02d.hcl", i)] = strings.Repeat("#", config.MaxFileSize)
				}
				return files
			}(),
			summary: "Inventory too large",
			at:      fmt.Sprintf("f%02d.hcl:1", config.MaxInventorySize/config.MaxFileSize),
		},
		"NUL bytes": {
			files:   map[string]string{"a.hcl": "# ok\n" + strings.Repeat("\x00", 1000)},
			summary: "Not a text file",
			at:      "a.hcl:2",
		},
		"invalid UTF-8": {
			files:   map[string]string{"a.hcl": secretWith("\"caf\xe9\"")},
			summary: "Not a text file",
			at:      "a.hcl:4",
		},
		"parentheses": {
			files:   map[string]string{"a.hcl": secretWith(deep("(", `"x"`, ")", 200))},
			summary: "Expression nested too deeply",
			at:      "a.hcl:4",
		},
		"lists": {
			files:   map[string]string{"a.hcl": secretWith(deep("[", `"x"`, "]", 200))},
			summary: "Expression nested too deeply",
			at:      "a.hcl:4",
		},
		"objects over lines": {
			files:   map[string]string{"a.hcl": secretWith(deep("{a=\n", "1", "\n}", 200))},
			summary: "Expression nested too deeply",
			at:      "a.hcl:",
		},
		"quotes and interpolations": {
			files:   map[string]string{"a.hcl": secretWith(deep(`"${`, `"x"`, `}"`, 100))},
			summary: "Expression nested too deeply",
			at:      "a.hcl:4",
		},
		"negations": {
			files:   map[string]string{"a.hcl": secretWith(strings.Repeat("!", 200) + "true")},
			summary: "Expression nested too deeply",
			at:      "a.hcl:4",
		},
		"a chain of additions": {
			files:   map[string]string{"a.hcl": secretWith(strings.Repeat("1 + ", 200) + "1")},
			summary: "Expression nested too deeply",
			at:      "a.hcl:4",
		},
		"a chain of additions over lines in brackets": {
			files:   map[string]string{"a.hcl": secretWith("(" + strings.Repeat("1 +\n", 200) + "1)")},
			summary: "Expression nested too deeply",
			at:      "a.hcl:",
		},
		"conditionals": {
			files:   map[string]string{"a.hcl": secretWith(strings.Repeat(`true ? "a" : `, 200) + `"b"`)},
			summary: "Expression nested too deeply",
			at:      "a.hcl:4",
		},
		"index chains": {
			files:   map[string]string{"a.hcl": secretWith(`["x"]` + strings.Repeat("[0]", 200))},
			summary: "Expression nested too deeply",
			at:      "a.hcl:4",
		},
		"template directives": {
			files:   map[string]string{"a.hcl": secretWith(`"` + deep("%{ if true }", "x", "%{ endif }", 200) + `"`)},
			summary: "Expression nested too deeply",
			at:      "a.hcl:4",
		},
		"heredoc directives": {
			files:   map[string]string{"a.hcl": secretWith("<<EOT\n" + deep("%{ if true }\n", "x\n", "%{ endif }\n", 200) + "EOT")},
			summary: "Expression nested too deeply",
			at:      "a.hcl:",
		},
		"nested blocks": {
			files:   map[string]string{"a.hcl": deep("a {\n", "", "}\n", 200)},
			summary: "Expression nested too deeply",
			at:      "a.hcl:",
		},
		"a long list": {
			files:   map[string]string{"a.hcl": secretWith(`join(",", [` + strings.Repeat(`"a", `, config.MaxListLength+1) + `])`)},
			summary: "List too long",
			at:      "a.hcl:4",
		},
		"a for expression": {
			files:   map[string]string{"a.hcl": secretWith(`join("", [for s in ["a", "b"] : s])`)},
			summary: "For expressions are not supported",
			at:      "a.hcl:4",
		},
		"an object for expression": {
			files:   map[string]string{"a.hcl": secretWith(`jsonencode({for s in ["a"] : s => s})`)},
			summary: "For expressions are not supported",
			at:      "a.hcl:4",
		},
		"a for directive": {
			files:   map[string]string{"a.hcl": secretWith(`"%{ for s in ["a"] }${s}%{ endfor }"`)},
			summary: "For expressions are not supported",
			at:      "a.hcl:4",
		},
		"bad characters": {
			files:   map[string]string{"a.hcl": strings.Repeat("@", 1000)},
			summary: "Invalid characters",
			at:      "a.hcl:1",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, diags := loadFiles(t, tc.files)
			if !diags.HasErrors() {
				t.Fatal("loaded without errors")
			}
			d := diags[0]
			if d.Summary != tc.summary {
				t.Fatalf("first diagnostic %q, want %q; all: %s", d.Summary, tc.summary, diags.Error())
			}
			if d.Subject == nil {
				t.Fatal("diagnostic without a position")
			}
			if at := fmt.Sprintf("%s:%d", d.Subject.Filename, d.Subject.Start.Line); !strings.HasPrefix(at, tc.at) {
				t.Errorf("at %s, want %s", at, tc.at)
			}
			if len(diags) > config.MaxDiagnosticsPerFile+2 {
				t.Errorf("%d diagnostics", len(diags))
			}
		})
	}
}

// TestWithinLimits loads what is just inside the limits: it decodes.
func TestWithinLimits(t *testing.T) {
	deep := strings.Repeat("(", 100) + `"x"` + strings.Repeat(")", 100)
	cases := map[string]string{
		"100 parentheses":        secretWith(deep),
		"100 negations":          secretWith(strings.Repeat("!", 100) + "true ? \"a\" : \"b\""),
		"a list of the limit":    secretWith(`join(",", [` + strings.Repeat(`"a", `, config.MaxListLength) + `])`),
		"a long chain of lines":  "# " + strings.Repeat("a + b - c . d ? e : f ! ", 1000) + "\n" + secretWith(`"x"`),
		"operators in a string":  secretWith(`"` + strings.Repeat("a - b. ", 1000) + `"`),
		"a file of the limit":    secretWith(`"x"`) + strings.Repeat("#", config.MaxFileSize-len(secretWith(`"x"`))),
		"tabs and carriage ends": strings.ReplaceAll(secretWith("\"a\tb\""), "\n", "\r\n"),
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			if _, diags := loadFiles(t, map[string]string{"a.hcl": src}); diags.HasErrors() {
				t.Fatal(diags.Error())
			}
		})
	}
}

// TestDiagnosticsPerFile loads files with many errors: each keeps 20 and
// one more that counts the rest, pointing at the first left out.
func TestDiagnosticsPerFile(t *testing.T) {
	var a, b strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&a, "secret \"a%d\" {\n  frequency = \"%dx\"\n  generate \"random\" {}\n}\n", i, i)
	}
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "secret \"b%d\" {\n  frequency = \"%dx\"\n  generate \"random\" {}\n}\n", i, i)
	}
	_, diags := loadFiles(t, map[string]string{"a.hcl": a.String(), "b.hcl": b.String()})
	count := map[string]int{}
	var more *hcl.Diagnostic
	for _, d := range diags {
		count[d.Subject.Filename]++
		if d.Summary == "Too many errors" {
			more = d
		}
	}
	if count["a.hcl"] != config.MaxDiagnosticsPerFile+1 || count["b.hcl"] != 5 {
		t.Errorf("diagnostics per file: %v, want a.hcl %d and b.hcl 5", count, config.MaxDiagnosticsPerFile+1)
	}
	if more == nil {
		t.Fatal("no diagnostic says how many were left out")
	}
	if want := "30 more problems in a.hcl are not shown"; !strings.Contains(more.Detail, want) {
		t.Errorf("detail %q, want it to say %q", more.Detail, want)
	}
	if line := more.Subject.Start.Line; line != 2+4*config.MaxDiagnosticsPerFile {
		t.Errorf("the count points at line %d, want the first left out, line %d", line, 2+4*config.MaxDiagnosticsPerFile)
	}
}

// TestJunkStopsReading loads a file of junk before a good one: the junk
// is reported, and the files after it are not read.
func TestJunkStopsReading(t *testing.T) {
	_, diags := loadFiles(t, map[string]string{
		"a.hcl": strings.Repeat("@\n", 100),
		"b.hcl": secretWith(`"x"`),
		"c.hcl": "not valid",
	})
	last := diags[len(diags)-1]
	if last.Summary != "Stopped reading the inventory" || !strings.Contains(last.Detail, "did not read the 2 files after it") {
		t.Errorf("last diagnostic %q: %q", last.Summary, last.Detail)
	}
	for _, d := range diags {
		if d.Subject != nil && d.Subject.Filename != "a.hcl" {
			t.Errorf("diagnostic about %s: %s", d.Subject.Filename, d.Error())
		}
	}
}

// TestFunctionLimits pins that no function makes a value larger than
// MaxValueSize, refusing before the work for those that could make much
// more than their arguments, and that a function's panic is reported
// without its stack.
func TestFunctionLimits(t *testing.T) {
	mib := fmt.Sprintf("%q", strings.Repeat("a", 1<<20))
	cases := map[string]struct {
		expr   string
		detail string
	}{
		"replace multiplying a string": {
			expr:   `replace("` + strings.Repeat("a", 2000) + `", "a", "` + strings.Repeat("b", 1000) + `")`,
			detail: "its result would be",
		},
		"replace with a regular expression": {
			expr:   `replace("` + strings.Repeat("a", 2000) + `", "/a/", "` + strings.Repeat("b", 1000) + `")`,
			detail: "its result would be",
		},
		"replace with references": {
			expr:   `replace("` + strings.Repeat("a", 2000) + `", "/(a)/", "$1$1$1")`,
			detail: "its result would be",
		},
		"indent by a lot": {
			expr:   `indent(2000000, "a\nb")`,
			detail: "its result would be",
		},
		"indent by less than nothing": {
			expr:   `indent(-1, "a\nb")`,
			detail: "its result would be",
		},
		"a wide format": {
			expr:   `format("%99999999d", 1)`,
			detail: "its result would be",
		},
		"a join with a long separator": {
			expr:   `join("` + strings.Repeat("-", 5000) + `", split("", "` + strings.Repeat("a", 250) + `"))`,
			detail: "its result would be",
		},
		"formatlist over a list": {
			expr:   `join("", formatlist("%5000s", split("", "` + strings.Repeat("a", 250) + `")))`,
			detail: "its result would be",
		},
		"split into many values": {
			expr:   `join("", split("", "` + strings.Repeat("a", 1000) + `"))`,
			detail: "it would return 1000 values, more than the limit of 256",
		},
		"upper of a mebibyte and more": {
			expr:   `upper(join("", [` + mib + `, "a"]))`,
			detail: "its result would be",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, diags := loadFiles(t, map[string]string{"a.hcl": secretWith(tc.expr)})
			if !diags.HasErrors() {
				t.Fatal("loaded without errors")
			}
			d := diags[0]
			if d.Subject == nil || d.Subject.Start.Line != 4 {
				t.Errorf("diagnostic not on line 4: %s", d.Error())
			}
			if !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("detail %q, want it to say %q", d.Detail, tc.detail)
			}
			if strings.Contains(d.Detail, "goroutine") || strings.Contains(d.Detail, "panic") {
				t.Errorf("detail shows a panic: %q", d.Detail)
			}
		})
	}
}

// TestFunctionReadsBounded reads one file many times in one expression:
// each call counts against MaxFunctionReads.
func TestFunctionReadsBounded(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "big.txt", strings.Repeat("x", config.MaxFunctionFile))
	calls := strings.Repeat(`${file("big.txt")}`, config.MaxFunctionReads/config.MaxFunctionFile+1)
	_, diags := config.Load(dir, map[string][]byte{"a.hcl": []byte(secretWith(`"` + calls + `"`))}, config.Options{Schemas: builtin.Registry(), Mode: config.ModePlan})
	if !diags.HasErrors() {
		t.Fatal("loaded without errors")
	}
	if want := "env() and file() have returned more than 16 MiB in all"; !strings.Contains(diags[0].Detail, want) {
		t.Errorf("detail %q, want it to say %q", diags[0].Detail, want)
	}
}
