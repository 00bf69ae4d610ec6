package views

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Diagnostics writes each diagnostic with its position as file:line:col,
// the offending source line with the range underlined, and the detail that
// says how to fix it.
func Diagnostics(w io.Writer, diags hcl.Diagnostics, sources map[string][]byte, color bool) {
	p := palette(color)
	for _, d := range diags {
		label := p.bold(p.red("Error:"))
		if d.Severity == hcl.DiagWarning {
			label = p.bold(p.yellow("Warning:"))
		}
		fmt.Fprintf(w, "%s %s\n", label, p.bold(d.Summary))
		if d.Subject != nil {
			r := *d.Subject
			fmt.Fprintf(w, "\n  on %s:%d:%d:\n", r.Filename, r.Start.Line, r.Start.Column)
			writeSnippet(w, sources[r.Filename], r)
		}
		if d.Detail != "" {
			fmt.Fprintf(w, "\n%s\n", d.Detail)
		}
		fmt.Fprintln(w)
	}
}

// writeSnippet prints the source line a range starts on, and carets under
// the part of it the range covers.
func writeSnippet(w io.Writer, src []byte, r hcl.Range) {
	if src == nil || r.Start.Line < 1 {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if n != r.Start.Line {
			continue
		}
		line := strings.ReplaceAll(sc.Text(), "\t", " ")
		prefix := fmt.Sprintf("  %4d: ", n)
		fmt.Fprintf(w, "%s%s\n", prefix, line)
		start := r.Start.Column - 1
		end := r.End.Column - 1
		if r.End.Line != r.Start.Line || end > len(line) {
			end = len(line)
		}
		if start < 0 || start > len(line) {
			return
		}
		if end <= start {
			end = start + 1
		}
		fmt.Fprintf(w, "%s%s%s\n", strings.Repeat(" ", len(prefix)+start), strings.Repeat("^", end-start), "")
		return
	}
}
