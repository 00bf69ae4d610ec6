package testservers

import (
	"bufio"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStartRedis(t *testing.T) {
	tests := map[string]struct {
		opts []RedisOption
		// commands are sent in order on one connection; the admin's
		// password is written ADMINPW.
		commands [][]string
		// want is the start of each reply's first line.
		want []string
	}{
		"acl": {
			commands: [][]string{
				{"PING"},
				{"AUTH", "default", "ADMINPW"},
				{"AUTH", "admin", "wrong"},
				{"AUTH", "admin", "ADMINPW"},
				{"ACL", "WHOAMI"},
				{"CONFIG", "GET", "save"},
			},
			want: []string{"-NOAUTH", "-WRONGPASS", "-WRONGPASS", "+OK", "$5", "*2"},
		},
		"requirepass": {
			opts: []RedisOption{RedisRequirePass()},
			commands: [][]string{
				{"PING"},
				{"AUTH", "wrong"},
				{"AUTH", "ADMINPW"},
				{"ACL", "WHOAMI"},
				{"ACL", "LIST"},
			},
			want: []string{"-NOAUTH", "-WRONGPASS", "+OK", "$7", "*1"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var addr string
			t.Run("server", func(t *testing.T) {
				r := StartRedis(t, tc.opts...)
				addr = r.Addr
				if !strings.HasPrefix(r.Addr, "127.0.0.1:") {
					t.Errorf("Addr = %q, want 127.0.0.1:port", r.Addr)
				}
				if info, err := os.Stat(r.ConfigFile); err != nil {
					t.Error(err)
				} else if info.Mode().Perm() != 0o600 {
					t.Errorf("config file mode %v, want 0600", info.Mode().Perm())
				}
				got := send(t, r.Addr, tc.commands, r.AdminPassword)
				for i := range tc.want {
					if i >= len(got) || !strings.HasPrefix(got[i], tc.want[i]) {
						t.Errorf("reply to %q = %q, want %s…", tc.commands[i], at(got, i), tc.want[i])
					}
				}
			})
			// The subtest has ended: its cleanup killed the server.
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("redis-server still accepts connections on %s after the test", addr)
			}
		})
	}
}

func TestStartRedisACLFileHasNoPassword(t *testing.T) {
	r := StartRedis(t)
	acl, err := os.ReadFile(r.ACLFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(acl), r.AdminPassword) {
		t.Errorf("ACL file holds the admin password in clear; want its hash only")
	}
}

// send writes each command on one connection and returns the first line
// of each reply.
func send(t *testing.T, addr string, commands [][]string, adminPassword string) []string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var replies []string
	for _, args := range commands {
		args = append([]string(nil), args...)
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, "ADMINPW", adminPassword)
		}
		if _, err := io.WriteString(c, respCommand(args...)); err != nil {
			t.Fatal(err)
		}
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, strings.TrimRight(line, "\r\n"))
		// Skip the rest of a multi-line reply: these tests only ask for
		// short arrays and bulk strings of single-line items.
		skipRest(t, br, line)
	}
	return replies
}

// skipRest reads the remainder of a reply whose first line was line.
func skipRest(t *testing.T, br *bufio.Reader, line string) {
	t.Helper()
	switch line[0] {
	case '$':
		if !strings.HasPrefix(line, "$-1") {
			if _, err := br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
	case '*':
		n, err := strconv.Atoi(strings.TrimRight(line[1:], "\r\n"))
		if err != nil {
			t.Fatalf("bad array header %q", line)
		}
		for i := 0; i < n; i++ {
			item, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			skipRest(t, br, item)
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}
