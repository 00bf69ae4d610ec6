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
// Commands run without a shell, in the inventory directory, with rotplan's
// environment (plus value_env), until the context is done. Their standard
// output is discarded and never logged, since it may echo the value. A
// failure reports the exit status and the last few lines of standard
// error, each text of the value there (the whole value, and each line of a
// value of several lines) replaced by (sensitive), cut short and quoted. A
// command whose arguments contain the value is refused unrun.
//
// On unix each command runs in a process group of its own, so the SIGINT a
// terminal sends on Ctrl-C reaches rotplan, which lets the command finish or
// stops it through the context, and not the command. When the context is
// done the whole group is killed, the command's own children with it. Like
// any background job, a command that reads the terminal is stopped until
// then.
//
// Target exec runs its command with the new value on Deliver and with the
// old one on Revert (never with no value: reverting a first creation is
// left to a person); Retire does nothing; Observe reports HoldsUnknown.
// Verify exec runs its command once; it does not retry.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package exec
