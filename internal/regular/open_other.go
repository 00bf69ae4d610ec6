//go:build !unix

package regular

import "os"

// openNonblocking opens path. Where there are no unix named pipes, opening
// a file does not wait for a writer.
func openNonblocking(path string) (*os.File, error) {
	return os.Open(path)
}
