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

// TestStartRedisReplica starts a replica: data written on the primary
// reaches it, an ACL user made on the primary does not (Redis does not
// replicate ACL SETUSER), and it shares the primary's admin login.
func TestStartRedisReplica(t *testing.T) {
	for name, opts := range map[string][]RedisOption{"acl": nil, "requirepass": {RedisRequirePass()}} {
		t.Run(name, func(t *testing.T) {
			primary := StartRedis(t, opts...)
			replica := StartRedis(t, RedisReplicaOf(primary))
			if replica.AdminUser != primary.AdminUser || replica.AdminPassword != primary.AdminPassword {
				t.Errorf("the replica's admin login differs from the primary's")
			}
			if info, err := replica.Command("INFO", "replication"); err != nil || !strings.Contains(info, "role:slave") {
				t.Fatalf("INFO replication on the replica = %q, %v; want role:slave", info, err)
			}
			if _, err := primary.Command("SET", "marker", "1"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the marker on the replica", func() (bool, error) {
				v, err := replica.Command("GET", "marker")
				return v == "1", err
			})
			if name != "acl" {
				return
			}
			if _, err := primary.Command("ACL", "SETUSER", "app", "on", ">pw"); err != nil {
				t.Fatal(err)
			}
			if users, err := replica.Command("ACL", "USERS"); err != nil || strings.Contains(users, "app") {
				t.Errorf("ACL USERS on the replica = %q, %v; want no app: Redis does not replicate ACL changes", users, err)
			}
		})
	}
}

// TestStartRedisCluster starts a cluster of three nodes, each of which
// knows the other two.
func TestStartRedisCluster(t *testing.T) {
	start := time.Now()
	nodes := StartRedisCluster(t, 3)
	t.Logf("started a 3-node Redis cluster in %s", time.Since(start).Round(time.Millisecond))
	for _, r := range nodes {
		out, err := r.Command("CLUSTER", "NODES")
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range nodes {
			if !strings.Contains(out, other.Addr+"@") {
				t.Errorf("CLUSTER NODES on %s does not list %s:\n%s", r.Addr, other.Addr, out)
			}
		}
		if r.AdminPassword != nodes[0].AdminPassword {
			t.Errorf("%s has an admin password of its own; want the cluster's", r.Addr)
		}
	}
}

// TestStartRedisConfig adds configuration lines: here CONFIG renamed away,
// as managed Redis services do.
func TestStartRedisConfig(t *testing.T) {
	r := StartRedis(t, RedisConfig(`rename-command CONFIG ""`))
	if _, err := r.Command("CONFIG", "GET", "port"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("CONFIG GET = %v, want an unknown command", err)
	}
}
