// Package exec runs a local command as a target or a check, for systems
// rotplan has no provider for:
//
//   - target "exec": delivers the value by running a command, which gets it
//     on standard input or in an environment variable, never as an argument
//     (arguments are visible to every user of the machine). Exit status 0
//     means delivered. The command cannot be asked what it holds, so such a
//     target never reports drift.
//   - verify "exec": runs a command the same way; exit status 0 passes.
//
// Commands run without a shell, in the inventory directory, and their
// output is never logged, since it may echo the value.
//
// For now the package declares its block types by schema only, so that
// inventories using them validate; plan reports them as not implemented.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package exec
