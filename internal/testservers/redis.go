package testservers

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a throwaway redis-server started by StartRedis.
type Redis struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	// AdminUser and AdminPassword log in as a user allowed everything. In
	// requirepass mode AdminUser is "" and AdminPassword is the server's
	// password (AUTH with the password alone).
	AdminUser, AdminPassword string
	// ACLFile is the server's ACL file, which ACL SAVE writes; "" in
	// requirepass mode.
	ACLFile string
	// ConfigFile is the server's configuration file, which CONFIG REWRITE
	// writes.
	ConfigFile string

	// clusterPort is the cluster bus port of a cluster node, else 0.
	clusterPort int
}

// RedisOption changes how StartRedis starts a server.
type RedisOption func(*redisOptions)

type redisOptions struct {
	requirePass bool
	// adminPassword, when set, is the admin's password instead of a new
	// random one: the nodes of one group share their admin login.
	adminPassword string
	// replicaOf is the primary the server replicates from.
	replicaOf *Redis
	// cluster enables Redis Cluster.
	cluster bool
	// config holds more lines for the configuration file.
	config []string
}

// RedisRequirePass starts a server protected by requirepass alone, as
// before Redis 6: no ACL file and no users but "default", whose password is
// the requirepass (AdminPassword).
func RedisRequirePass() RedisOption {
	return func(o *redisOptions) { o.requirePass = true }
}

// RedisReplicaOf starts a replica of primary, in primary's mode and with
// primary's admin login, which it also replicates as (masteruser and
// masterauth; masterauth alone in requirepass mode). StartRedis returns once
// primary lists the replica as online. Redis does not replicate ACL changes:
// the replica has its own ACL file, which starts as primary's did.
func RedisReplicaOf(primary *Redis) RedisOption {
	return func(o *redisOptions) { o.replicaOf = primary }
}

// RedisConfig adds lines to the server's configuration file, such as
// `rename-command CONFIG ""`.
func RedisConfig(lines ...string) RedisOption {
	return func(o *redisOptions) { o.config = append(o.config, lines...) }
}

// RedisAdminUser is the ACL user StartRedis creates with every permission.
const RedisAdminUser = "admin"

// StartRedis starts redis-server on 127.0.0.1 and a free port, in a
// temporary directory, with persistence off. By default the server has an
// ACL file holding an admin user (RedisAdminUser) with a random password and
// every permission, and the default user is disabled, so every login names a
// user. The server is killed when the test ends.
func StartRedis(tb testing.TB, opts ...RedisOption) *Redis {
	tb.Helper()
	var o redisOptions
	for _, opt := range opts {
		opt(&o)
	}
	bin := require(tb, "redis-server")
	dir := tb.TempDir()

	r := &Redis{
		AdminPassword: o.adminPassword,
		ConfigFile:    filepath.Join(dir, "redis.conf"),
	}
	if p := o.replicaOf; p != nil {
		o.requirePass = p.ACLFile == ""
		r.AdminPassword = p.AdminPassword
	}
	if r.AdminPassword == "" {
		r.AdminPassword = randomPassword(tb)
	}
	auth := ""
	if o.requirePass {
		auth = "requirepass " + r.AdminPassword + "\n"
	} else {
		r.AdminUser = RedisAdminUser
		r.ACLFile = filepath.Join(dir, "users.acl")
		sum := sha256.Sum256([]byte(r.AdminPassword))
		acl := "user default off resetpass nocommands\n" +
			"user " + r.AdminUser + " on #" + hex.EncodeToString(sum[:]) + " ~* &* +@all\n"
		if err := os.WriteFile(r.ACLFile, []byte(acl), 0o600); err != nil {
			tb.Fatalf("testservers: write redis ACL file: %v", err)
		}
		auth = "aclfile " + strconv.Quote(r.ACLFile) + "\n"
	}
	if p := o.replicaOf; p != nil {
		host, port, _ := net.SplitHostPort(p.Addr)
		auth += "replicaof " + host + " " + port + "\n" +
			"masterauth " + p.AdminPassword + "\n"
		if p.AdminUser != "" {
			auth += "masteruser " + p.AdminUser + "\n"
		}
	}
	for _, line := range o.config {
		auth += line + "\n"
	}

	// A port taken between FreePort and the server's bind is retried with
	// another one.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := FreePort(tb)
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cluster := ""
		if o.cluster {
			// The cluster bus gets a port of its own, not port+10000,
			// which may be taken.
			r.clusterPort = FreePort(tb)
			cluster = "cluster-enabled yes\n" +
				"cluster-config-file nodes.conf\n" +
				"cluster-port " + strconv.Itoa(r.clusterPort) + "\n"
		}
		conf := "port " + strconv.Itoa(port) + "\n" +
			"bind 127.0.0.1\n" +
			"save \"\"\n" +
			"appendonly no\n" +
			// A replica starts its first sync at once, not after 5s.
			"repl-diskless-sync-delay 0\n" +
			"dir " + strconv.Quote(dir) + "\n" +
			"daemonize no\n" +
			"logfile \"\"\n" +
			cluster +
			auth
		// The file holds the requirepass in requirepass mode: keep it private.
		if err := os.WriteFile(r.ConfigFile, []byte(conf), 0o600); err != nil {
			tb.Fatalf("testservers: write redis.conf: %v", err)
		}
		logPath := filepath.Join(dir, fmt.Sprintf("redis-%d.log", attempt))
		if lastErr = r.start(tb, bin, logPath); lastErr == nil {
			if o.replicaOf != nil {
				o.replicaOf.waitReplica(tb, r)
			}
			return r
		}
		log, _ := os.ReadFile(logPath)
		if !strings.Contains(string(log), "Address already in use") {
			tb.Fatalf("testservers: redis-server did not start: %v\n%s", lastErr, log)
		}
	}
	tb.Fatalf("testservers: redis-server did not start: %v", lastErr)
	return nil
}

// start runs the server and waits until it answers PING as the admin.
func (r *Redis) start(tb testing.TB, bin, logPath string) error {
	tb.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		tb.Fatalf("testservers: create redis log: %v", err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, r.ConfigFile)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		tb.Fatalf("testservers: start redis-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	deadline := time.Now().Add(10 * time.Second)
	delay := 5 * time.Millisecond
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server exited: %v", err)
		default:
		}
		err := r.ping()
		if err == nil {
			tb.Cleanup(stop)
			return nil
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("no PING answer on %s after 10s: %v", r.Addr, err)
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// ping logs in as the admin and sends PING, speaking RESP directly so the
// package needs no Redis client.
func (r *Redis) ping() error {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	auth := []string{"AUTH", r.AdminPassword}
	if r.AdminUser != "" {
		auth = []string{"AUTH", r.AdminUser, r.AdminPassword}
	}
	if _, err := io.WriteString(c, respCommand(auth...)+respCommand("PING")); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	for _, want := range []string{"+OK", "+PONG"} {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if got := strings.TrimRight(line, "\r\n"); got != want {
			// An error reply names no password: AUTH errors never echo it.
			return errors.New("redis answered " + strconv.Quote(got))
		}
	}
	return nil
}

// respCommand encodes a command as a RESP array of bulk strings.
func respCommand(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// randomPassword returns 32 random bytes in hex.
func randomPassword(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("testservers: no randomness: %v", err)
	}
	return hex.EncodeToString(b)
}
