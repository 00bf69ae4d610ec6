// Package views renders rotplan's results for people and programs: the only
// code that writes a command's output. Each command has a human view and a
// JSON view chosen in one place; plans also render as Markdown for pull
// request comments. Views see plain data (plans, diagnostics), never a
// secret value.
package views
