package config

import (
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The checks here run before and right after the HCL parser, so that no
// input makes it recurse too deeply or report each of a million bad bytes
// on its own. Each takes time linear in its input.

// checkText reports the runs of bytes that are not text: control
// characters other than tab, newline and carriage return, and invalid UTF-8.
// Each run is one diagnostic (a file of NUL bytes is one run), and at most
// MaxDiagnosticsPerFile are made. The parser is not run on such a file.
func checkText(name string, src []byte) hcl.Diagnostics {
	var diags hcl.Diagnostics
	runs := 0
	pos := hcl.Pos{Line: 1, Column: 1, Byte: 0}
	var start hcl.Pos
	inRun := false
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		bad := r == utf8.RuneError && size <= 1 || r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f
		switch {
		case bad && !inRun:
			inRun, start = true, pos
		case !bad && inRun:
			inRun = false
			runs++
			if runs <= MaxDiagnosticsPerFile {
				diags = append(diags, notText(name, start, pos))
			}
		}
		i += size
		pos.Byte = i
		if r == '\n' {
			pos.Line, pos.Column = pos.Line+1, 1
		} else {
			pos.Column++
		}
	}
	if inRun {
		runs++
		if runs <= MaxDiagnosticsPerFile {
			diags = append(diags, notText(name, start, pos))
		}
	}
	if n := runs - len(diags); n > 0 {
		diags = append(diags, tooManyErrors(fmt.Sprintf("%d more %s of bytes that are not text in %s %s not shown.", n, plural(n, "run", "runs"), name, plural(n, "is", "are")), diags[len(diags)-1].Subject))
	}
	return diags
}

func notText(name string, start, end hcl.Pos) *hcl.Diagnostic {
	n := end.Byte - start.Byte
	what := "1 byte"
	if n != 1 {
		what = fmt.Sprintf("%d bytes", n)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Not a text file",
		Detail: fmt.Sprintf("%s here are control characters or not UTF-8. An inventory file is UTF-8 text; inside a string, write a control character as an escape such as \\u001b. A file full of NUL bytes was usually damaged by a crash: restore it from git.",
			what),
		Subject: &hcl.Range{Filename: name, Start: start, End: end},
	}
}

// checkTokens lexes the file and looks at its tokens before the parser
// does, so that the parser never runs on a file that would make it recurse
// too deeply, or report each of a million bad characters on its own.
func checkTokens(name string, src []byte) hcl.Diagnostics {
	tokens, _ := hclsyntax.LexConfig(src, name, hcl.InitialPos)
	if diags := checkBadTokens(name, tokens); diags.HasErrors() {
		return diags
	}
	return checkNesting(tokens)
}

// badTokens are the tokens the parser reports as errors by themselves.
var badTokens = map[hclsyntax.TokenType]bool{
	hclsyntax.TokenInvalid: true, hclsyntax.TokenBadUTF8: true, hclsyntax.TokenQuotedNewline: true,
	hclsyntax.TokenBitwiseAnd: true, hclsyntax.TokenBitwiseOr: true, hclsyntax.TokenBitwiseXor: true, hclsyntax.TokenBitwiseNot: true,
	hclsyntax.TokenStarStar: true, hclsyntax.TokenBacktick: true, hclsyntax.TokenApostrophe: true,
	hclsyntax.TokenSemicolon: true, hclsyntax.TokenTabs: true,
}

// checkBadTokens reports a file with more than MaxDiagnosticsPerFile bad
// tokens, one diagnostic per run of them, at most MaxDiagnosticsPerFile.
// A file with fewer is left to the parser, whose messages are more
// precise.
func checkBadTokens(name string, tokens hclsyntax.Tokens) hcl.Diagnostics {
	n := 0
	for _, tok := range tokens {
		if badTokens[tok.Type] {
			n++
		}
	}
	if n <= MaxDiagnosticsPerFile {
		return nil
	}
	var diags hcl.Diagnostics
	runs := 0
	var run *hcl.Range
	end := func() {
		if run == nil {
			return
		}
		runs++
		if runs <= MaxDiagnosticsPerFile {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid characters",
				Detail:   "These characters are not part of the inventory language here. Is this an HCL file?",
				Subject:  run,
			})
		}
		run = nil
	}
	for _, tok := range tokens {
		switch {
		case !badTokens[tok.Type]:
			end()
		case run != nil && tok.Range.Start.Byte == run.End.Byte:
			run.End = tok.Range.End
		default:
			end()
			r := tok.Range
			run = &r
		}
	}
	end()
	if n := runs - len(diags); n > 0 {
		diags = append(diags, tooManyErrors(fmt.Sprintf("%d more %s of invalid characters in %s %s not shown, and the file was not parsed.", n, plural(n, "run", "runs"), name, plural(n, "is", "are")), diags[len(diags)-1].Subject))
	}
	return diags
}

// checkNesting reports the first place where the file's expressions nest
// more deeply than MaxNesting, counted on its tokens, so that the parser is
// never run on such a file. The count is an upper bound on how deeply the
// parser, and anything that walks what it builds, goes down for any
// construct: each open bracket, quote, heredoc, interpolation and template
// directive (%{ if }, %{ for }) is a level, and so is each operator, each
// "." and each "[" chained at one level, up to the comma or line end where
// the expression ends.
func checkNesting(tokens hclsyntax.Tokens) hcl.Diagnostics {
	type level struct {
		close hclsyntax.TokenType
		// chain counts the operators since the level opened or since the
		// last comma or line end that ends an expression at this level.
		chain int
		// lineEnds says whether a newline ends an expression here: at the
		// top of a body and in an object, not inside brackets or templates.
		lineEnds bool
	}
	stack := []level{{close: hclsyntax.TokenEOF, lineEnds: true}}
	depth := 1
	for i, tok := range tokens {
		top := &stack[len(stack)-1]
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			if tok.Type == hclsyntax.TokenOBrack {
				top.chain++ // a[b][c] nests like a.b.c
				depth++
			}
			lv := level{close: closer(tok.Type)}
			if tok.Type == hclsyntax.TokenOBrace {
				// An object or a block body, unless it is a for expression,
				// which newlines do not end.
				lv.lineEnds = !nextIsFor(tokens[i+1:])
			}
			if tok.Type == hclsyntax.TokenTemplateControl {
				// The directive nests what follows it in the template,
				// until its %{ end... }.
				tmpl := top
				switch directive(tokens[i+1:]) {
				case "if", "for":
					tmpl.chain++
					depth++
				case "endif", "endfor":
					if tmpl.chain > 0 {
						tmpl.chain--
						depth--
					}
				}
			}
			stack = append(stack, lv)
			depth++
		case top.close:
			if len(stack) > 1 {
				depth -= 1 + top.chain
				stack = stack[:len(stack)-1]
			}
		case hclsyntax.TokenComma:
			depth -= top.chain
			top.chain = 0
		case hclsyntax.TokenNewline:
			if top.lineEnds {
				depth -= top.chain
				top.chain = 0
			}
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash, hclsyntax.TokenPercent,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq,
			hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq, hclsyntax.TokenAnd, hclsyntax.TokenOr,
			hclsyntax.TokenBang, hclsyntax.TokenQuestion, hclsyntax.TokenDot:
			top.chain++
			depth++
		}
		if depth > MaxNesting {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Expression nested too deeply",
				Detail: fmt.Sprintf("Expressions here nest more than %d levels deep, counting brackets, quotes, interpolations, template directives and chained operators. rotplan stops before parsing the file; split the expression, or write the value out.",
					MaxNesting),
				Subject: tok.Range.Ptr(),
			}}
		}
	}
	return nil
}

// closer is the token that ends a level opened by open.
func closer(open hclsyntax.TokenType) hclsyntax.TokenType {
	switch open {
	case hclsyntax.TokenOBrace:
		return hclsyntax.TokenCBrace
	case hclsyntax.TokenOBrack:
		return hclsyntax.TokenCBrack
	case hclsyntax.TokenOParen:
		return hclsyntax.TokenCParen
	case hclsyntax.TokenOQuote:
		return hclsyntax.TokenCQuote
	case hclsyntax.TokenOHeredoc:
		return hclsyntax.TokenCHeredoc
	}
	return hclsyntax.TokenTemplateSeqEnd // ${ and %{
}

// nextIsFor reports whether the first token of tokens that is not a newline
// is the keyword for.
func nextIsFor(tokens hclsyntax.Tokens) bool {
	for _, tok := range tokens {
		if tok.Type != hclsyntax.TokenNewline {
			return tok.Type == hclsyntax.TokenIdent && string(tok.Bytes) == "for"
		}
	}
	return false
}

// directive is the keyword of the template directive whose %{ token
// precedes tokens: if, else, endif, for or endfor.
func directive(tokens hclsyntax.Tokens) string {
	if len(tokens) > 0 && tokens[0].Type == hclsyntax.TokenIdent {
		return string(tokens[0].Bytes)
	}
	return ""
}

// checkExpressions rejects what would make evaluating the file's
// expressions cost more than linear time:
//
//   - for expressions, and the %{ for } directive the parser turns into
//     one: each evaluates its body once per element, and the body may be
//     another for or a large list;
//   - a list of more than MaxListLength values (depends_on excepted, which
//     is read without being evaluated): converting one to a typed list
//     costs the square of its length.
func checkExpressions(body hcl.Body) hcl.Diagnostics {
	b, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	dependsOn := map[hclsyntax.Expression]bool{}
	for _, blk := range b.Blocks {
		if attr := blk.Body.Attributes["depends_on"]; blk.Type == "secret" && attr != nil {
			dependsOn[attr.Expr] = true
		}
	}
	var diags hcl.Diagnostics
	hclsyntax.VisitAll(b, func(n hclsyntax.Node) hcl.Diagnostics {
		if len(diags) >= MaxDiagnosticsPerFile {
			return nil
		}
		switch e := n.(type) {
		case *hclsyntax.ForExpr:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "For expressions are not supported",
				Detail:   "An inventory writes its lists and maps out: a for expression (or a %{ for } directive in a template) does work that grows with the product of the sizes of what it ranges over, which rotplan bounds for any input.",
				Subject:  e.OpenRange.Ptr(),
			})
		case *hclsyntax.TupleConsExpr:
			if len(e.Exprs) > MaxListLength && !dependsOn[e] {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "List too long",
					Detail:   fmt.Sprintf("This list holds %d values; a list in an inventory holds at most %d (depends_on excepted).", len(e.Exprs), MaxListLength),
					Subject:  e.OpenRange.Ptr(),
				})
			}
		}
		return nil
	})
	return diags
}

// tooManyErrors is the diagnostic that follows a file's first
// MaxDiagnosticsPerFile and says what was left out.
func tooManyErrors(detail string, subject *hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Too many errors",
		Detail:   detail,
		Subject:  subject,
		Extra:    leftOut{},
	}
}

// leftOut marks a diagnostic made by tooManyErrors.
type leftOut struct{}

// limitDiagnostics keeps at most MaxDiagnosticsPerFile diagnostics for each
// file, in order, and adds for each file that had more one that says how
// many were left out, pointing at the first of them. Diagnostics without a
// subject count as a file of their own; one that already says what was
// left out is kept and not counted.
func limitDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics {
	type omitted struct {
		n     int
		first *hcl.Range
	}
	count := map[string]int{}
	more := map[string]*omitted{}
	var files []string
	out := diags[:0:0]
	for _, d := range diags {
		if _, ok := d.Extra.(leftOut); ok {
			out = append(out, d)
			continue
		}
		file := ""
		if d.Subject != nil {
			file = d.Subject.Filename
		}
		count[file]++
		if count[file] <= MaxDiagnosticsPerFile {
			out = append(out, d)
			continue
		}
		if more[file] == nil {
			more[file] = &omitted{first: d.Subject}
			files = append(files, file)
		}
		more[file].n++
	}
	for _, file := range files {
		o := more[file]
		where := "in " + file
		if file == "" {
			where = "without a position"
		}
		out = append(out, tooManyErrors(fmt.Sprintf("%d more %s %s %s not shown, from here on. Fix the ones above and run rotplan again.", o.n, plural(o.n, "problem", "problems"), where, plural(o.n, "is", "are")), o.first))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
