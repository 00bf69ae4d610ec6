// Package regular reads files that must be regular files of a bounded size:
// inventory files, what file() reads, store and dotenv files.
//
// A named pipe blocks a reader until someone writes to it, and a device
// such as /dev/zero never ends, so a path that an inventory names cannot
// simply be read. Open opens without blocking (on unix, O_NONBLOCK) and
// refuses anything that is not a regular file; ReadFile also reads no more
// than a limit, whatever the file's reported size (files under /proc report
// none).
//
// This package imports nothing from rotplan.
package regular
