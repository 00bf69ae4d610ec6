package views

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// rangeOf is the range of the first occurrence of part in line n of src.
func rangeOf(t *testing.T, name, src, part string) *hcl.Range {
	t.Helper()
	i := strings.Index(src, part)
	if i < 0 {
		t.Fatalf("%q not in the source", part)
	}
	line := strings.Count(src[:i], "\n") + 1
	col := i - strings.LastIndex(src[:i], "\n")
	return &hcl.Range{
		Filename: name,
		Start:    hcl.Pos{Line: line, Column: col, Byte: i},
		End:      hcl.Pos{Line: line, Column: col + len(part), Byte: i + len(part)},
	}
}

// TestDiagnosticsSnippets pins what a snippet shows: the line, escaped,
// cut to a window around the range, and carets under the range as shown.
func TestDiagnosticsSnippets(t *testing.T) {
	long := strings.Repeat("a", 300)
	cases := map[string]struct {
		src, part string
		// line and carets as printed, after the "  NNNN: " prefix
		line, carets string
	}{
		"plain": {
			src: "x = 1\ny = bad\n", part: "bad",
			line: "y = bad", carets: "    ^^^",
		},
		"tab": {
			src: "y =\tbad\n", part: "bad",
			line: "y = bad", carets: "    ^^^",
		},
		"right-to-left override": {
			src: "n = \"a\u202eb\" bad\n", part: "bad",
			line: `n = "a\u202eb" bad`, carets: "               ^^^",
		},
		"NUL and ESC": {
			src: "\x00\x1b[2J bad\n", part: "bad",
			line: `\x00\x1b[2J bad`, carets: "            ^^^",
		},
		"the range itself escaped": {
			src: "y = \x00\x00\n", part: "\x00\x00",
			line: `y = \x00\x00`, carets: "    ^^^^^^^^",
		},
		"invalid UTF-8": {
			src: "y = \xff bad\n", part: "bad",
			line: `y = \xff bad`, carets: "         ^^^",
		},
		"other invisible characters": {
			src: "y = \u200b\u2028\ufeff bad\n", part: "bad",
			line: `y = \u200b\u2028\ufeff bad`, carets: "                       ^^^",
		},
		"multi-byte characters": {
			src: "y = \"héllo\" bad\n", part: "bad",
			line: `y = "héllo" bad`, carets: "            ^^^",
		},
		"long line, range far in": {
			src: long + " bad " + long + "\n", part: "bad",
			line: "…" + strings.Repeat("a", 39) + " bad " + strings.Repeat("a", 76) + "…", carets: " " + strings.Repeat(" ", 40) + "^^^",
		},
		"long line, range at the start": {
			src: "bad " + long + "\n", part: "bad",
			line: "bad " + strings.Repeat("a", 116) + "…", carets: "^^^",
		},
		"long range": {
			src: "y = " + long + "\n", part: long,
			line: "y = " + strings.Repeat("a", 116) + "…", carets: "    " + strings.Repeat("^", 116),
		},
		"carriage return": {
			src: "x = 1\r\ny = bad\r\n", part: "bad",
			line: "y = bad", carets: "    ^^^",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			r := rangeOf(t, "a.hcl", tc.src, tc.part)
			Diagnostics(&out, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bad", Subject: r}}, map[string][]byte{"a.hcl": []byte(tc.src)}, false)
			lines := strings.Split(out.String(), "\n")
			if len(lines) < 6 {
				t.Fatalf("output:\n%s", out.String())
			}
			prefix := lines[3][:len("  NNNN: ")]
			if got := strings.TrimPrefix(lines[3], prefix); got != tc.line {
				t.Errorf("line\n got %q\nwant %q", got, tc.line)
			}
			if got := strings.TrimPrefix(lines[4], strings.Repeat(" ", len(prefix))); got != tc.carets {
				t.Errorf("carets\n got %q\nwant %q", got, tc.carets)
			}
		})
	}
}

// TestDiagnosticsEscapeText escapes the summary, the detail and the file
// name, keeping the detail's lines.
func TestDiagnosticsEscapeText(t *testing.T) {
	var out bytes.Buffer
	Diagnostics(&out, hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Bad \x1b[31m",
		Detail:   "first line \u202e\nsecond line",
		Subject:  &hcl.Range{Filename: "a\x1b.hcl", Start: hcl.Pos{Line: 1, Column: 1}},
	}}, nil, false)
	want := "Error: Bad \\x1b[31m\n\n  on a\\x1b.hcl:1:1:\n\nfirst line \\u202e\nsecond line\n\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}

// TestDiagnosticsLinear writes many diagnostics on one long line: the
// output holds a window per diagnostic, not the line.
func TestDiagnosticsLinear(t *testing.T) {
	src := strings.Repeat("x, ", 100000)
	var diags hcl.Diagnostics
	for i := 0; i < 1000; i++ {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Bad", Subject: &hcl.Range{
			Filename: "a.hcl", Start: hcl.Pos{Line: 1, Column: 1 + 3*i, Byte: 3 * i}, End: hcl.Pos{Line: 1, Column: 2 + 3*i, Byte: 1 + 3*i},
		}})
	}
	var out bytes.Buffer
	Diagnostics(&out, diags, map[string][]byte{"a.hcl": []byte(src)}, false)
	if n := out.Len(); n > 1000*300 {
		t.Errorf("%d bytes for 1,000 diagnostics", n)
	}
}

// TestDiagnosticsRangeWithoutOffset shows a range made with a line and a
// column but no byte offset by its line.
func TestDiagnosticsRangeWithoutOffset(t *testing.T) {
	var out bytes.Buffer
	src := "a = 1\nb = bad\n"
	Diagnostics(&out, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bad", Subject: &hcl.Range{
		Filename: "a.hcl", Start: hcl.Pos{Line: 2, Column: 5}, End: hcl.Pos{Line: 2, Column: 8},
	}}}, map[string][]byte{"a.hcl": []byte(src)}, false)
	if !strings.Contains(out.String(), "     2: b = bad\n            ^\n") {
		t.Errorf("got\n%s", out.String())
	}
}
