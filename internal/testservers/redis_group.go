package testservers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// groupTimeout bounds the wait for a replica to come online or for cluster
// nodes to know each other.
const groupTimeout = 30 * time.Second

// StartRedisCluster starts n redis-server nodes with Redis Cluster enabled,
// in acl mode and sharing one admin login, and joins them into one cluster
// with CLUSTER MEET. The hash slots are shared out among them with CLUSTER
// ADDSLOTS. It returns once every node lists all n as members (not in
// handshake); it does not wait for the cluster state to be "ok", which
// rotplan, changing ACL users on each node, does not need.
func StartRedisCluster(tb testing.TB, n int) []*Redis {
	tb.Helper()
	if n < 1 {
		tb.Fatalf("testservers: a cluster of %d nodes", n)
	}
	nodes := make([]*Redis, n)
	for i := range nodes {
		o := func(o *redisOptions) { o.cluster = true }
		if i > 0 {
			password := nodes[0].AdminPassword
			nodes[i] = StartRedis(tb, o, func(o *redisOptions) { o.adminPassword = password })
			continue
		}
		nodes[i] = StartRedis(tb, o)
	}
	const slots = 16384
	for i, r := range nodes {
		args := []string{"CLUSTER", "ADDSLOTS"}
		for s := i * slots / n; s < (i+1)*slots/n; s++ {
			args = append(args, strconv.Itoa(s))
		}
		if _, err := r.Command(args...); err != nil {
			tb.Fatalf("testservers: %s: CLUSTER ADDSLOTS: %v", r.Addr, err)
		}
		if i == 0 {
			continue
		}
		host, port, _ := net.SplitHostPort(r.Addr)
		if _, err := nodes[0].Command("CLUSTER", "MEET", host, port, strconv.Itoa(r.clusterPort)); err != nil {
			tb.Fatalf("testservers: %s: CLUSTER MEET %s: %v", nodes[0].Addr, r.Addr, err)
		}
	}
	for _, r := range nodes {
		waitFor(tb, r.Addr+" to know every cluster node", func() (bool, error) {
			out, err := r.Command("CLUSTER", "NODES")
			if err != nil {
				return false, err
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			return len(lines) == n && !strings.Contains(out, "handshake") && !strings.Contains(out, "noaddr"), nil
		})
	}
	return nodes
}

// waitReplica waits until r lists replica as an online replica.
func (r *Redis) waitReplica(tb testing.TB, replica *Redis) {
	tb.Helper()
	_, port, _ := net.SplitHostPort(replica.Addr)
	waitFor(tb, r.Addr+" to list "+replica.Addr+" as an online replica", func() (bool, error) {
		info, err := r.Command("INFO", "replication")
		if err != nil {
			return false, err
		}
		for _, line := range strings.Split(info, "\n") {
			if strings.HasPrefix(line, "slave") && strings.Contains(line, ",port="+port+",") && strings.Contains(line, "state=online") {
				return true, nil
			}
		}
		return false, nil
	})
}

// waitFor calls done until it reports true, failing the test on an error
// or after groupTimeout.
func waitFor(tb testing.TB, what string, done func() (bool, error)) {
	tb.Helper()
	deadline := time.Now().Add(groupTimeout)
	delay := 5 * time.Millisecond
	for {
		ok, err := done()
		if err != nil {
			tb.Fatalf("testservers: waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("testservers: waited %s for %s", groupTimeout, what)
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// Command logs in as the admin on a new connection, runs one command and
// returns its reply as text: a status or bulk string as it is, an integer
// in decimal, an array as its elements' texts, one per line. An error
// reply is returned as an error.
func (r *Redis) Command(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	auth := []string{"AUTH", r.AdminPassword}
	if r.AdminUser != "" {
		auth = []string{"AUTH", r.AdminUser, r.AdminPassword}
	}
	if _, err := io.WriteString(c, respCommand(auth...)+respCommand(args...)); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	if _, err := readReply(br); err != nil {
		// An AUTH error names no password.
		return "", fmt.Errorf("AUTH: %w", err)
	}
	return readReply(br)
}

// readReply reads one RESP2 reply.
func readReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad array length %q", line)
		}
		items := make([]string, 0, max(n, 0))
		for i := 0; i < n; i++ {
			item, err := readReply(br)
			if err != nil {
				return "", err
			}
			items = append(items, item)
		}
		return strings.Join(items, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
