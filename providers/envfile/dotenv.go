package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/rotplan/rotplan/internal/atomicfile"

	"github.com/rotplan/rotplan/internal/sensitive"
)

// assignment is one KEY=VALUE of a dotenv file and where it sits, so a
// rewrite can change its value and keep everything around it.
type assignment struct {
	key   string
	value []byte
	// start is the first byte of its line, next the first byte after its
	// line ends; valueStart and valueEnd bound the value as written, quotes
	// included, without a trailing comment.
	start, valueStart, valueEnd, next int
}

// parse reads a dotenv file: KEY=VALUE lines, an optional "export " prefix,
// # comments on their own line or after a value, blank lines, and values
// bare, 'single-quoted' (literal) or "double-quoted" (with \n \r \t \" \\ \$
// escapes); quoted values may span lines. Errors give a line number and
// never the text.
func parse(src []byte) ([]assignment, error) {
	var out []assignment
	line := 1
	for i := 0; i < len(src); {
		start, startLine := i, line
		i = skipBlank(src, i)
		if i == len(src) {
			break
		}
		if src[i] == '#' {
			i = lineEnd(src, i)
		}
		if atEOL(src, i) {
			i, line = skipEOL(src, i, line)
			continue
		}

		a := assignment{start: start}
		if bytes.HasPrefix(src[i:], []byte("export")) && i+6 < len(src) && (src[i+6] == ' ' || src[i+6] == '\t') {
			i = skipBlank(src, i+6)
		}
		keyStart := i
		for i < len(src) && isKeyChar(src[i]) {
			i++
		}
		a.key = string(src[keyStart:i])
		i = skipBlank(src, i)
		if a.key == "" || i == len(src) || src[i] != '=' {
			return nil, fmt.Errorf("line %d: expected KEY=VALUE", startLine)
		}
		i++
		afterEq := i
		i = skipBlank(src, i)
		a.valueStart = i

		switch {
		case i < len(src) && src[i] == '\'':
			j := bytes.IndexByte(src[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("line %d: unterminated single-quoted value", startLine)
			}
			a.value = bytes.Clone(src[i+1 : i+1+j])
			line += bytes.Count(a.value, []byte("\n"))
			i += j + 2
		case i < len(src) && src[i] == '"':
			var err error
			if a.value, i, line, err = parseDoubleQuoted(src, i, line); err != nil {
				return nil, err
			}
		default:
			end := lineEnd(src, i)
			v := src[i:end]
			for k := range v {
				// A # starts a comment after a blank, not inside a value.
				if v[k] == '#' && (k > 0 && isBlank(v[k-1]) || k == 0 && i > afterEq) {
					v = v[:k]
					break
				}
			}
			v = bytes.TrimRight(v, " \t")
			a.value = bytes.Clone(v)
			i += len(v)
		}
		a.valueEnd = i

		i = skipBlank(src, i)
		if i < len(src) && src[i] == '#' {
			i = lineEnd(src, i)
		}
		if !atEOL(src, i) {
			return nil, fmt.Errorf("line %d: unexpected text after the quoted value", line)
		}
		i, line = skipEOL(src, i, line)
		a.next = i
		out = append(out, a)
	}
	return out, nil
}

// parseDoubleQuoted reads the double-quoted value at src[i] and returns it
// with the index after the closing quote and the line number there.
func parseDoubleQuoted(src []byte, i, line int) (value []byte, next, nextLine int, err error) {
	startLine := line
	for i++; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '"':
			return value, i + 1, line, nil
		case c == '\\' && i+1 < len(src):
			i++
			switch n := src[i]; n {
			case 'n':
				value = append(value, '\n')
			case 'r':
				value = append(value, '\r')
			case 't':
				value = append(value, '\t')
			case '"', '\\', '$':
				value = append(value, n)
			default:
				value = append(value, '\\', n)
				if n == '\n' {
					line++
				}
			}
			continue
		case c == '\n':
			line++
		}
		value = append(value, c)
	}
	clear(value)
	return nil, 0, 0, fmt.Errorf("line %d: unterminated double-quoted value", startLine)
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func isKeyChar(c byte) bool {
	return c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func skipBlank(src []byte, i int) int {
	for i < len(src) && isBlank(src[i]) {
		i++
	}
	return i
}

// lineEnd returns the index of the line terminator ("\n" or "\r\n") at or
// after i, or len(src).
func lineEnd(src []byte, i int) int {
	j := bytes.IndexByte(src[i:], '\n')
	if j < 0 {
		return len(src)
	}
	j += i
	if j > i && src[j-1] == '\r' {
		j--
	}
	return j
}

func atEOL(src []byte, i int) bool {
	return i == len(src) || src[i] == '\n' || src[i] == '\r' && i+1 < len(src) && src[i+1] == '\n'
}

// skipEOL steps over the line terminator at i, if any.
func skipEOL(src []byte, i, line int) (int, int) {
	switch {
	case i < len(src) && src[i] == '\n':
		return i + 1, line + 1
	case i+1 < len(src) && src[i] == '\r' && src[i+1] == '\n':
		return i + 2, line + 1
	}
	return i, line
}

// Write rewrites the dotenv file at path: each key of sets gets its value
// (everywhere it is assigned, keeping an "export " prefix and a trailing
// comment; appended at the end, sorted, when absent), each key of unsets
// loses its lines, and every other line, comment and the order stay as they
// were. The file is replaced atomically and keeps its owner, group and
// mode; a missing file is created with mode 0600. When the owner cannot be
// kept, the file is left as it was and the error says so.
func Write(path string, sets map[string]sensitive.Value, unsets []string) error {
	fail := func(err error) error { return fmt.Errorf("env_file %s: %w", path, err) }
	drop := make(map[string]bool, len(unsets))
	for _, k := range unsets {
		if !validKey(k) {
			return fail(fmt.Errorf("cannot unset %q: not an environment variable name", k))
		}
		drop[k] = true
	}
	for k, v := range sets {
		switch {
		case !validKey(k):
			return fail(fmt.Errorf("cannot set %q: not an environment variable name", k))
		case drop[k]:
			return fail(fmt.Errorf("key %s is both set and unset", k))
		case bytes.IndexByte(v.Bytes(), 0) >= 0:
			return fail(fmt.Errorf("the value for %s contains a NUL byte, which an environment variable cannot hold", k))
		}
	}

	src, err := readFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	defer clear(src)
	assignments, err := parse(src)
	if err != nil {
		return fail(fmt.Errorf("cannot rewrite: %w", err))
	}
	defer func() {
		for _, a := range assignments {
			clear(a.value)
		}
	}()

	var out bytes.Buffer
	defer func() { b := out.Bytes(); clear(b[:cap(b)]) }()
	out.Grow(len(src) + 64*len(sets))
	last := 0
	written := map[string]bool{}
	for _, a := range assignments {
		if drop[a.key] {
			out.Write(src[last:a.start])
			last = a.next
			continue
		}
		if v, ok := sets[a.key]; ok {
			out.Write(src[last:a.valueStart])
			writeValue(&out, v.Bytes())
			last = a.valueEnd
			written[a.key] = true
		}
	}
	out.Write(src[last:])

	var missing []string
	for k := range sets {
		if !written[k] {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		nl := "\n"
		if bytes.Contains(src, []byte("\r\n")) {
			nl = "\r\n"
		}
		if out.Len() > 0 && out.Bytes()[out.Len()-1] != '\n' {
			out.WriteString(nl)
		}
		for _, k := range missing {
			out.WriteString(k)
			out.WriteByte('=')
			writeValue(&out, sets[k].Bytes())
			out.WriteString(nl)
		}
	}
	if err := atomicfile.Write(path, out.Bytes()); err != nil {
		return fail(err)
	}
	return nil
}

// writeValue writes v as a dotenv value: bare when every byte is plain,
// else single-quoted (literal in every dotenv dialect), else double-quoted
// with escapes.
func writeValue(out *bytes.Buffer, v []byte) {
	if !slices.ContainsFunc(v, func(c byte) bool { return !isPlain(c) }) {
		out.Write(v)
		return
	}
	if !bytes.ContainsAny(v, "'\\\n\r") {
		out.WriteByte('\'')
		out.Write(v)
		out.WriteByte('\'')
		return
	}
	out.WriteByte('"')
	for _, c := range v {
		switch c {
		case '\n':
			out.WriteString(`\n`)
		case '\r':
			out.WriteString(`\r`)
		case '"', '\\', '$':
			out.WriteByte('\\')
			out.WriteByte(c)
		default:
			out.WriteByte(c)
		}
	}
	out.WriteByte('"')
}

// isPlain reports whether c needs no quoting in any dotenv dialect.
func isPlain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || bytes.IndexByte([]byte("_-.,/:@%+="), c) >= 0
}
