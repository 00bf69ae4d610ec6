package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/rotplan/rotplan/planner"
)

// version is set by release builds (-ldflags "-X main.version=1.2.3");
// otherwise rotplanVersion reads it from the build info.
var version = ""

// devVersion is the version of a build that carries none: a test binary,
// or go build outside a git checkout.
const devVersion = "0.1.0-dev"

// rotplanVersion is rotplan's version: the release's, else the module
// version go install recorded (go install ...@v1.2.3), else the git commit
// go build recorded ("0.1.0-dev+1fb7935c1a2b", with ".dirty" for a work
// tree that had changes), else 0.1.0-dev.
func rotplanVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return devVersion
	}
	return versionFrom(info)
}

func versionFrom(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return devVersion
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := devVersion + "+" + rev
	if dirty {
		v += ".dirty"
	}
	return v
}

func runVersion(m *meta, args []string) int {
	fs := newFlagSet(m, "version", "Prints the rotplan version: the release's, the module version go install\nrecorded, or the git commit it was built from.")
	if code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	fmt.Fprintf(m.stdout, "rotplan %s (plan format %s, %s %s/%s)\n", rotplanVersion(), planner.FormatVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
