package main

import (
	"fmt"
	"runtime"

	"github.com/rotplan/rotplan/planner"
)

// version is rotplan's version; release builds set it with
// -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func runVersion(m *meta, args []string) int {
	fs := newFlagSet(m, "version", "Prints the rotplan version.")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fmt.Fprintf(m.stdout, "rotplan %s (plan format %s, %s %s/%s)\n", version, planner.FormatVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
