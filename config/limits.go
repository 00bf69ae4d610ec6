package config

// Limits on the work of loading an inventory. A pull request's plan reads an
// inventory its author controls, so each holds whatever the input; exceeding
// one is a diagnostic at the place it happened. docs/inventory.md lists them.
const (
	// MaxFileSize bounds one inventory file. Parsing HCL costs a few hundred
	// bytes of memory per byte of input, so this also bounds memory.
	MaxFileSize = 2 << 20
	// MaxInventorySize bounds all of an inventory's files together.
	MaxInventorySize = 16 << 20
	// MaxFiles bounds the number of inventory files in a directory.
	MaxFiles = 1000
	// MaxNesting bounds how deeply an expression nests: brackets, quotes,
	// interpolations and template directives, each counting one, plus the
	// operators chained at one level (a + b + c, !!x, a ? b : c ? d : e),
	// each of which the parser and the evaluator also go down a level for.
	// It is checked on the tokens, before the parser recurses.
	MaxNesting = 128
	// MaxDiagnosticsPerFile bounds the diagnostics reported for one file;
	// one more says how many were left out.
	MaxDiagnosticsPerFile = 20
	// MaxListLength bounds the values of a list written in an inventory
	// (depends_on excepted) and of a list a function returns: turning a
	// list into a typed one costs time that grows with the square of its
	// length in the expression library rotplan uses.
	MaxListLength = 256
	// MaxFunctionFile bounds what one file() call reads.
	MaxFunctionFile = 1 << 20
	// MaxFunctionReads bounds all that env() and file() return while an
	// inventory is loaded, each call counted, so that one expression
	// repeating file("big") cannot make a value larger than this.
	MaxFunctionReads = 16 << 20
	// MaxValueSize bounds the string a function returns (replace, indent,
	// format, join, ...): a call whose result would be larger fails before
	// it is computed.
	MaxValueSize = 1 << 20
)
