package views

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Diagnostics writes each diagnostic with its position as file:line:col,
// the offending source line with the range underlined, and the detail that
// says how to fix it.
//
// An inventory may come from a pull request, so what it holds is written
// escaped: control characters, bidirectional overrides and other invisible
// characters as \x1b, \u202e, never raw, in the snippet, the file name and
// the text. A snippet shows at most snippetWidth characters of its line,
// around the range, so the output stays small whatever the line's length.
func Diagnostics(w io.Writer, diags hcl.Diagnostics, sources map[string][]byte, color bool) {
	p := palette(color)
	lines := map[string]lineIndex{}
	for _, d := range diags {
		label := p.bold(p.red("Error:"))
		if d.Severity == hcl.DiagWarning {
			label = p.bold(p.yellow("Warning:"))
		}
		fmt.Fprintf(w, "%s %s\n", label, p.bold(escapeText(d.Summary)))
		if d.Subject != nil {
			r := *d.Subject
			fmt.Fprintf(w, "\n  on %s:%d:%d:\n", escapeText(r.Filename), r.Start.Line, r.Start.Column)
			src := sources[r.Filename]
			idx, ok := lines[r.Filename]
			if !ok && src != nil {
				idx = newLineIndex(src)
				lines[r.Filename] = idx
			}
			writeSnippet(w, src, idx, r)
		}
		if d.Detail != "" {
			fmt.Fprintf(w, "\n%s\n", escapeText(d.Detail))
		}
		fmt.Fprintln(w)
	}
}

// snippetWidth is how many characters of a source line a snippet shows at
// most, and snippetLead how many of them come before the range.
const (
	snippetWidth = 120
	snippetLead  = 40
)

// lineIndex holds the byte offset at which each line of a source starts.
type lineIndex []int

func newLineIndex(src []byte) lineIndex {
	idx := lineIndex{0}
	for i, b := range src {
		if b == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

// lineOf returns the number, from 0, of the line holding byte offset off.
func (idx lineIndex) lineOf(off int) int {
	return sort.Search(len(idx), func(i int) bool { return idx[i] > off }) - 1
}

// bounds returns where line n starts and ends, without its line break.
func (idx lineIndex) bounds(src []byte, n int) (start, end int) {
	start, end = idx[n], len(src)
	if n+1 < len(idx) {
		end = idx[n+1] - 1
	}
	if end > start && src[end-1] == '\r' {
		end--
	}
	return start, end
}

// writeSnippet prints the part of the source line a range starts on, and
// carets under the part of it the range covers.
func writeSnippet(w io.Writer, src []byte, idx lineIndex, r hcl.Range) {
	if src == nil || r.Start.Line < 1 || r.Start.Line > len(idx) || r.Start.Byte < 0 || r.Start.Byte > len(src) {
		return
	}
	n, caret := idx.lineOf(r.Start.Byte), r.Start.Byte
	if n != r.Start.Line-1 {
		// A range made by hand, its byte offset not set: go by line and
		// column.
		n = r.Start.Line - 1
		caret = idx[n] + max(r.Start.Column-1, 0)
	}
	start, end := idx.bounds(src, n)
	caret = min(caret, end)
	caretEnd := min(max(r.End.Byte, caret), end)

	// The window of the line to show: snippetLead characters before the
	// range at most, snippetWidth in all, counted as they are shown.
	from, lead := caret, 0
	for from > start {
		r, size := utf8.DecodeLastRune(src[start:from])
		w := shownWidth(r, size)
		if lead+w > snippetLead {
			break
		}
		from, lead = from-size, lead+w
	}
	to, width := from, 0
	for to < end {
		r, size := utf8.DecodeRune(src[to:end])
		w := shownWidth(r, size)
		if width+w > snippetWidth {
			break
		}
		to, width = to+size, width+w
	}
	before, after := "", ""
	if from > start {
		before = "…"
	}
	if to < end {
		after = "…"
	}
	prefix := fmt.Sprintf("  %4d: ", r.Start.Line)
	fmt.Fprintf(w, "%s%s%s%s\n", prefix, before, escapeLine(src[from:to]), after)

	col := utf8.RuneCountInString(prefix+before) + utf8.RuneCountInString(escapeLine(src[from:min(caret, to)]))
	carets := utf8.RuneCountInString(escapeLine(src[min(caret, to):min(caretEnd, to)]))
	fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", col), strings.Repeat("^", max(carets, 1)))
}

// shownWidth is how many characters escapeLine writes for r, encoded in
// size bytes.
func shownWidth(r rune, size int) int {
	switch {
	case r == utf8.RuneError && size <= 1:
		return 4 // \xff
	case r == '\t' || visible(r):
		return 1
	case r < 0x100:
		return 4
	case r <= 0xffff:
		return 6
	}
	return 10
}

// escapeLine writes a source line for a terminal: tabs as spaces, and every
// character that is not visible, or that reorders the text around it, as
// an escape.
func escapeLine(b []byte) string {
	var s strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&s, `\x%02x`, b[0])
		case r == '\t':
			s.WriteByte(' ')
		default:
			writeRune(&s, r)
		}
		b = b[size:]
	}
	return s.String()
}

// escapeText is escapeLine for text that may span lines: a summary, a
// detail, a file name. Newlines and tabs stay.
func escapeText(text string) string {
	if !needsEscape(text) {
		return text
	}
	var s strings.Builder
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&s, `\x%02x`, text[i])
		case r == '\n' || r == '\t':
			s.WriteRune(r)
		default:
			writeRune(&s, r)
		}
		i += size
	}
	return s.String()
}

func needsEscape(text string) bool {
	for _, r := range text {
		if r != '\n' && r != '\t' && !visible(r) {
			return true
		}
	}
	return false
}

// writeRune writes r, or its escape when it is not visible.
func writeRune(s *strings.Builder, r rune) {
	switch {
	case visible(r):
		s.WriteRune(r)
	case r < 0x100:
		fmt.Fprintf(s, `\x%02x`, r)
	case r <= 0xffff:
		fmt.Fprintf(s, `\u%04x`, r)
	default:
		fmt.Fprintf(s, `\U%08x`, r)
	}
}

// visible reports whether r prints as itself and leaves the text around it
// in order: a printable character or a space, and not a bidirectional
// control (which Unicode counts as a format character, not printable, but
// lists here to be plain about it).
func visible(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return false
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return false
	}
	return r == ' ' || unicode.IsPrint(r)
}
