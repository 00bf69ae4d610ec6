package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Discovery says which nodes besides the listed ones a block's change goes
// to.
const (
	// DiscoverNone changes the listed nodes only.
	DiscoverNone = "none"
	// DiscoverReplicas adds each listed node's replication group, read
	// with INFO replication: its primary, and the replicas of every node
	// found, down the chain.
	DiscoverReplicas = "replicas"
	// DiscoverCluster adds every member of the listed nodes' Redis
	// Cluster, primaries and replicas, read with CLUSTER NODES.
	DiscoverCluster = "cluster"
)

// maxNodes bounds the nodes one block may reach, listed or found: discovery
// follows what servers say, and stops there rather than run away.
const maxNodes = 1000

// dialer logs in to one node, as the caller chooses.
type dialer func(ctx context.Context, node string) (*goredis.Client, error)

// nodes returns the nodes b's change goes to, in order: its listed nodes
// (address, then nodes), and with discovery every node found from them,
// each once. Discovery logs in with dial; without it nothing is dialled.
func (b *targetBlock) nodes(ctx context.Context, dial dialer) ([]string, error) {
	switch b.discover {
	case DiscoverReplicas:
		return discoverReplicas(ctx, b.seeds, dial)
	case DiscoverCluster:
		return discoverCluster(ctx, b.seeds, dial)
	}
	return b.seeds, nil
}

// discoverReplicas walks the replication groups of seeds: from each node,
// INFO names its primary (on a replica) and its replicas (on any node), and
// each of those is asked in turn. A node reached under two addresses (its
// run_id says so) counts once, under the first. A node that cannot be asked
// is an error that names it: the change must reach it too.
func discoverReplicas(ctx context.Context, seeds []string, dial dialer) ([]string, error) {
	queue := append([]string(nil), seeds...)
	queued := map[string]bool{}
	for _, s := range seeds {
		queued[nodeKey(s)] = true
	}
	runs := map[string]bool{}
	var found []string
	var errs nodeErrors
	for i := 0; i < len(queue); i++ {
		node := queue[i]
		c, err := dial(ctx, node)
		if err != nil {
			errs = append(errs, nodeError{node, err})
			continue
		}
		info, err := c.Info(ctx).Result()
		if err != nil {
			errs = append(errs, nodeError{node, fmt.Errorf("info: %w", err)})
			continue
		}
		rep := parseReplication(info)
		if rep.runID != "" {
			if runs[rep.runID] {
				continue
			}
			runs[rep.runID] = true
		}
		found = append(found, node)
		for _, next := range rep.linked {
			if k := nodeKey(next); !queued[k] {
				queued[k] = true
				queue = append(queue, next)
			}
		}
		if len(queue) > maxNodes {
			return nil, fmt.Errorf("discover replicas: more than %d nodes", maxNodes)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("discover replicas: %w", errs)
	}
	return found, nil
}

// replication is what INFO says of a node's place among its replicas.
type replication struct {
	runID string
	// linked holds the node's primary, when it is a replica, and its
	// replicas, as host:port.
	linked []string
}

// parseReplication reads the server and replication sections of INFO: the
// run_id, a replica's master_host and master_port, and a node's slaveN
// lines ("slave0:ip=10.0.0.5,port=6379,state=online,offset=1,lag=0").
func parseReplication(info string) replication {
	var r replication
	var masterHost, masterPort string
	for _, line := range strings.Split(info, "\n") {
		key, value, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if !ok {
			continue
		}
		switch {
		case key == "run_id":
			r.runID = value
		case key == "master_host":
			masterHost = value
		case key == "master_port":
			masterPort = value
		case isReplicaLine(key):
			var ip, port string
			for _, field := range strings.Split(value, ",") {
				k, v, _ := strings.Cut(field, "=")
				switch k {
				case "ip":
					ip = v
				case "port":
					port = v
				}
			}
			if ip != "" && port != "" {
				r.linked = append(r.linked, net.JoinHostPort(ip, port))
			}
		}
	}
	if masterHost != "" && masterPort != "" {
		r.linked = append([]string{net.JoinHostPort(masterHost, masterPort)}, r.linked...)
	}
	return r
}

// isReplicaLine reports whether an INFO key is slave0, slave1, ….
func isReplicaLine(key string) bool {
	n := strings.TrimPrefix(key, "slave")
	if n == key || n == "" {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// discoverCluster asks the first seed that answers for CLUSTER NODES and
// returns every member it lists, primaries and replicas; the seed itself
// under the address it was reached at. The other seeds are only there in
// case the first cannot be asked.
func discoverCluster(ctx context.Context, seeds []string, dial dialer) ([]string, error) {
	var errs nodeErrors
	for _, seed := range seeds {
		c, err := dial(ctx, seed)
		if err != nil {
			errs = append(errs, nodeError{seed, err})
			continue
		}
		out, err := c.Do(ctx, "CLUSTER", "NODES").Text()
		if err != nil {
			errs = append(errs, nodeError{seed, fmt.Errorf("cluster nodes: %w", err)})
			continue
		}
		nodes, err := parseClusterNodes(out, seed)
		if err != nil {
			return nil, fmt.Errorf("discover cluster: %s: cluster nodes: %w", seed, err)
		}
		return nodes, nil
	}
	return nil, fmt.Errorf("discover cluster: %w", errs)
}

// parseClusterNodes reads CLUSTER NODES: one line per node, "<id>
// <ip:port@cport[,hostname]> <flags> ...". The node flagged myself is the
// one asked, and is named self. A node still in handshake is not a member
// yet and is left out; one with no address cannot be reached, and is an
// error.
func parseClusterNodes(out, self string) ([]string, error) {
	var nodes []string
	seen := map[string]bool{}
	add := func(n string) {
		if k := nodeKey(n); !seen[k] {
			seen[k] = true
			nodes = append(nodes, n)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 3 {
			continue
		}
		id, addr, flags := fields[0], fields[1], ","+fields[2]+","
		switch {
		case strings.Contains(flags, ",myself,"):
			add(self)
			continue
		case strings.Contains(flags, ",handshake,"):
			continue
		case strings.Contains(flags, ",noaddr,"):
			return nil, fmt.Errorf("node %s has no known address", id)
		}
		addr, _, _ = strings.Cut(addr, ",")
		addr, _, _ = strings.Cut(addr, "@")
		i := strings.LastIndex(addr, ":")
		if i <= 0 || i == len(addr)-1 {
			return nil, fmt.Errorf("node %s has no address of the form ip:port", id)
		}
		add(net.JoinHostPort(strings.Trim(addr[:i], "[]"), addr[i+1:]))
		if len(nodes) > maxNodes {
			return nil, fmt.Errorf("more than %d nodes", maxNodes)
		}
	}
	if len(nodes) == 0 {
		return nil, errors.New("no nodes listed")
	}
	return nodes, nil
}

// nodeKey is a node's address in one spelling: the host in lower case.
func nodeKey(node string) string {
	host, port, err := net.SplitHostPort(node)
	if err != nil {
		return strings.ToLower(node)
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

// nodeError is why one node did not take a change or could not be read.
type nodeError struct {
	node string
	err  error
}

// nodeErrors names each node that failed, with its reason.
type nodeErrors []nodeError

func (e nodeErrors) Error() string {
	var b strings.Builder
	for i, ne := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %v", ne.node, ne.err)
	}
	return b.String()
}

// Unwrap lets errors.As find a refused login or a missing permission
// behind any node's error.
func (e nodeErrors) Unwrap() []error {
	out := make([]error, len(e))
	for i, ne := range e {
		out[i] = ne.err
	}
	return out
}

// nodeNames lists nodes for a message.
func nodeNames(nodes []string) string {
	return strings.Join(nodes, ", ")
}

// session holds the logins of one call (Observe, Deliver, Revert, Retire):
// one connection per node and login, made the first time it is asked for
// and closed when the call ends. A login that failed is not tried again.
// Login probes never come from here: each opens a fresh connection.
type session struct {
	conns []sessionConn
}

type sessionConn struct {
	node string
	tls  bool
	l    login
	c    *goredis.Client
	err  error
}

// client returns a connection to node logged in as l.
func (s *session) client(ctx context.Context, node string, useTLS bool, l login) (*goredis.Client, error) {
	for _, sc := range s.conns {
		if sc.node == node && sc.tls == useTLS && sc.l.username == l.username && sc.l.password.Equal(l.password) {
			return sc.c, sc.err
		}
	}
	c := newClient(node, useTLS, l)
	err := c.Ping(ctx).Err()
	if err != nil {
		c.Close()
		c = nil
	}
	// A login cut short by the end of ctx is not remembered as failed.
	if err == nil || ctx.Err() == nil {
		s.conns = append(s.conns, sessionConn{node: node, tls: useTLS, l: l, c: c, err: err})
	}
	return c, err
}

func (s *session) close() {
	for _, sc := range s.conns {
		if sc.c != nil {
			sc.c.Close()
		}
	}
	s.conns = nil
}
