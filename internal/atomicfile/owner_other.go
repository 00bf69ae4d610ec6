//go:build !unix

package atomicfile

import (
	"io/fs"
	"os"
)

// keepOwner does nothing where files have no unix owner: Write keeps the
// mode only.
func keepOwner(*os.File, string, fs.FileInfo) error { return nil }

// processRunning reports true: a pid cannot be looked up here, so a
// temporary file is stale only by its age.
func processRunning(int) bool { return true }
