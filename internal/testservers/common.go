package testservers

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago: it
// listens on port 0, notes the port the kernel chose and closes the
// listener. Another process may take it before the server binds it, which
// on a test machine is rare enough to accept.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testservers: find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		tb.Fatalf("testservers: find a free port: %v", err)
	}
	return port
}

// WaitTCP waits until something accepts TCP connections on addr
// ("127.0.0.1:5432"), failing the test after timeout.
func WaitTCP(tb testing.TB, addr string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	delay := 5 * time.Millisecond
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("testservers: nothing accepts connections on %s after %s: %v", addr, timeout, err)
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// postgresBinDirs is where Debian and Ubuntu put PostgreSQL's server
// programs, which are not on PATH there; the newest version comes first.
var postgresBinDirs = "/usr/lib/postgresql/*/bin"

// require returns the path of the program binary, looking on PATH and then
// in PostgreSQL's own bin directories. A missing program fails the test and
// says how to install it: tests that need a server never skip, since a test
// that silently skips in CI proves nothing.
func require(tb testing.TB, binary string) string {
	tb.Helper()
	if path, err := exec.LookPath(binary); err == nil {
		return path
	}
	dirs, _ := filepath.Glob(postgresBinDirs)
	// Newest version first, comparing the major version as a number.
	major := func(dir string) int {
		v, _, _ := strings.Cut(filepath.Base(filepath.Dir(dir)), ".")
		n, _ := strconv.Atoi(v)
		return n
	}
	sort.Slice(dirs, func(i, j int) bool { return major(dirs[i]) > major(dirs[j]) })
	for _, dir := range dirs {
		path := filepath.Join(dir, binary)
		if info, err := os.Stat(path); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return path
		}
	}
	tb.Fatalf("testservers: %s is not installed (looked on PATH and in %s): run `make test`, which installs it", binary, postgresBinDirs)
	return ""
}
