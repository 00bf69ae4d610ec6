package redis

import (
	"bytes"
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	goredis "github.com/redis/go-redis/v9"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/internal/testservers"
	"github.com/rotplan/rotplan/providers"
)

// group is a primary and its replica, each with the user app taking old.
// Redis does not replicate ACL SETUSER, so the user is made on each.
type group struct {
	primary, replica *testservers.Redis
}

func startGroup(t *testing.T, old sensitive.Value) group {
	t.Helper()
	primary := testservers.StartRedis(t)
	replica := testservers.StartRedis(t, testservers.RedisReplicaOf(primary))
	for _, r := range []*testservers.Redis{primary, replica} {
		createUser(t, r, "app", old)
	}
	return group{primary, replica}
}

func (g group) nodes() []*testservers.Redis { return []*testservers.Redis{g.primary, g.replica} }

// groupTarget is a target "redis" block for user app with attrs besides
// r's admin login.
func groupTarget(t *testing.T, r *testservers.Redis, attrs map[string]string) cty.Value {
	t.Helper()
	all := map[string]string{"username": "app", "admin_username": r.AdminUser, "admin_password": r.AdminPassword}
	for k, v := range attrs {
		all[k] = v
	}
	return block(t, targetSpec, all)
}

// checkLoginsOn runs checkLogins on each server.
func checkLoginsOn(t *testing.T, servers []*testservers.Redis, user string, want map[string]bool, values map[string]sensitive.Value) {
	t.Helper()
	for _, r := range servers {
		for name, ok := range want {
			if got := logsIn(t, r.Addr, user, values[name]); got != ok {
				t.Errorf("on %s: %s password logs in = %v, want %v", r.Addr, name, got, ok)
			}
		}
	}
}

// TestRedisReplicasRotation rotates a user on a primary and its replica,
// both listed: deliver adds the new password on each, observe sees the
// current value only once every node takes it, retire removes the old
// password on each, and each node saves the change in its own ACL file.
func TestRedisReplicasRotation(t *testing.T) {
	old, next := newValue(t), newValue(t)
	g := startGroup(t, old)
	values := map[string]sensitive.Value{"old": old, "new": next}
	target := newTarget(t)
	config := groupTarget(t, g.primary, map[string]string{"nodes": hclList(g.primary.Addr, g.replica.Addr)})
	rotation := providers.WriteItem{Secret: "cache", Target: "target.redis", Config: config, Value: next, Previous: old}

	checkObservation(t, "before", observe(t, target, config, old), providers.HoldsCurrent, 0)
	mustWrite(t, target, opDeliver, rotation, false)
	checkLoginsOn(t, g.nodes(), "app", map[string]bool{"old": true, "new": true}, values)
	checkObservation(t, "after deliver", observeWith(t, target, config, next, old), providers.HoldsCurrent, 0)
	mustWrite(t, target, opDeliver, rotation, true)

	mustWrite(t, target, opRetire, rotation, false)
	checkLoginsOn(t, g.nodes(), "app", map[string]bool{"old": false, "new": true}, values)
	checkObservation(t, "after retire, old", observe(t, target, config, old), providers.HoldsOther, 1)
	mustWrite(t, target, opRetire, rotation, true)

	for _, r := range g.nodes() {
		acl, err := os.ReadFile(r.ACLFile)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(acl), "#"+passwordHash(next)) || strings.Contains(string(acl), passwordHash(old)) {
			t.Errorf("%s: the ACL file does not hold the new password alone:\n%s", r.Addr, acl)
		}
	}
}

// TestRedisReplicasDiscover finds the replica from the primary, and the
// primary from the replica, with INFO replication: the change lands on
// both whichever one the block names.
func TestRedisReplicasDiscover(t *testing.T) {
	for _, from := range []string{"primary", "replica"} {
		t.Run("from the "+from, func(t *testing.T) {
			old, next := newValue(t), newValue(t)
			g := startGroup(t, old)
			seed := g.primary
			if from == "replica" {
				seed = g.replica
			}
			values := map[string]sensitive.Value{"old": old, "new": next}
			target := newTarget(t)
			config := groupTarget(t, seed, map[string]string{"address": seed.Addr, "discover": DiscoverReplicas})
			rotation := providers.WriteItem{Config: config, Value: next, Previous: old}

			mustWrite(t, target, opDeliver, rotation, false)
			checkLoginsOn(t, g.nodes(), "app", map[string]bool{"old": true, "new": true}, values)
			mustWrite(t, target, opRetire, rotation, false)
			checkLoginsOn(t, g.nodes(), "app", map[string]bool{"old": false, "new": true}, values)
			checkObservation(t, "after retire", observe(t, target, config, next), providers.HoldsCurrent, 0)

			// The same node under another name counts once.
			host := strings.Replace(seed.Addr, "127.0.0.1", "localhost", 1)
			found, err := discoverReplicas(context.Background(), []string{seed.Addr, host}, adminDialer(t, seed))
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != 2 || found[0] != seed.Addr {
				t.Errorf("discovered %q, want %s first and 2 nodes in all", found, seed.Addr)
			}
		})
	}
}

// adminDialer logs in to any node as r's admin, for discovery.
func adminDialer(t *testing.T, r *testservers.Redis) dialer {
	s := &session{}
	t.Cleanup(s.close)
	admin := login{username: r.AdminUser, password: sensitive.New(r.AdminPassword)}
	return func(ctx context.Context, node string) (*goredis.Client, error) {
		return s.client(ctx, node, false, admin)
	}
}

// TestRedisReplicasNodeRefuses fails a deliver because one node cannot
// take it: the error names that node, and no node is changed.
func TestRedisReplicasNodeRefuses(t *testing.T) {
	old, next := newValue(t), newValue(t)
	g := startGroup(t, old)
	adminPW, otherPW := newValue(t), newValue(t)
	// rotplan logs in as its own admin, whose password differs on the
	// replica.
	createUser(t, g.primary, "rotplan", adminPW)
	createUser(t, g.replica, "rotplan", otherPW)
	closed := net.JoinHostPort("127.0.0.1", strconv.Itoa(testservers.FreePort(t)))
	values := map[string]sensitive.Value{"old": old, "new": next}
	as := func(nodes ...string) cty.Value {
		return block(t, targetSpec, map[string]string{
			"nodes": hclList(nodes...), "username": "app", "admin_username": "rotplan", "admin_password": adminPW.Reveal(),
		})
	}

	tests := map[string]struct {
		config  cty.Value
		wantErr []string
	}{
		"wrong admin password on the replica": {
			config: as(g.primary.Addr, g.replica.Addr),
			wantErr: []string{
				"changed on no node, as 1 of 2 cannot take the change: " + g.replica.Addr + ": admin login as rotplan: WRONGPASS",
			},
		},
		"a node down": {
			config:  as(g.primary.Addr, closed),
			wantErr: []string{"changed on no node, as 1 of 2 cannot take the change: " + closed + ": admin login as rotplan: dial tcp"},
		},
		"both": {
			config:  as(g.primary.Addr, g.replica.Addr, closed),
			wantErr: []string{"as 2 of 3 cannot take the change: " + g.replica.Addr + ": admin login as rotplan: WRONGPASS", "; " + closed + ": admin login"},
		},
	}
	target := newTarget(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := write(t, target, opDeliver, providers.WriteItem{Config: tc.config, Value: next, Previous: old})
			if res.Err == nil {
				t.Fatal("deliver succeeded")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(res.Err.Error(), want) {
					t.Errorf("Err = %v, want it to contain %q", res.Err, want)
				}
			}
			t.Logf("Err: %v", res.Err)
			checkLoginsOn(t, g.nodes(), "app", map[string]bool{"old": true, "new": false}, values)

			obs := observe(t, target, tc.config, old)
			if obs.Err == nil || !strings.Contains(obs.Err.Error(), "could not be read") {
				t.Errorf("Observe: Err = %v, want the node it could not read", obs.Err)
			}
			checkNoLeak(t, obs.Err, adminPW, otherPW)
		})
	}
}

// TestRedisReplicasPartialDeliverReverts fails a deliver half way: the
// primary takes the new password, the replica refuses ACL SETUSER. The item
// fails naming the replica, and the revert apply runs next puts every node
// back on the old password.
func TestRedisReplicasPartialDeliverReverts(t *testing.T) {
	old, next := newValue(t), newValue(t)
	g := startGroup(t, old)
	adminPW := newValue(t)
	createUser(t, g.primary, "rotplan", adminPW)
	// On the replica rotplan may read users but not change them.
	createUser(t, g.replica, "rotplan", adminPW, "-acl|setuser")
	values := map[string]sensitive.Value{"old": old, "new": next}
	config := block(t, targetSpec, map[string]string{
		"address": g.primary.Addr, "discover": DiscoverReplicas,
		"username": "app", "admin_username": "rotplan", "admin_password": adminPW.Reveal(),
	})
	target := newTarget(t)

	res := write(t, target, opDeliver, providers.WriteItem{Config: config, Value: next, Previous: old})
	want := "not changed on 1 of 2 nodes: " + g.replica.Addr + ": acl setuser: NOPERM"
	if res.Err == nil || !strings.Contains(res.Err.Error(), want) || !strings.Contains(res.Err.Error(), "+info") {
		t.Fatalf("Err = %v, want it to contain %q and the permissions discovery needs", res.Err, want)
	}
	t.Logf("Err: %v", res.Err)
	checkLogins(t, g.primary.Addr, "app", map[string]bool{"old": true, "new": true}, values)
	checkLogins(t, g.replica.Addr, "app", map[string]bool{"old": true, "new": false}, values)
	checkObservation(t, "half delivered", observeWith(t, target, config, next, old), providers.HoldsOther, 0)

	mustWrite(t, target, opRevert, providers.WriteItem{Config: config, Value: old, Previous: next}, false)
	checkLoginsOn(t, g.nodes(), "app", map[string]bool{"old": true, "new": false}, values)
	checkObservation(t, "reverted", observe(t, target, config, old), providers.HoldsCurrent, 0)
}

// TestRedisReplicasRevertReachesWhatItCan reverts with one node down: the
// others are reverted, and the item fails naming the node it could not
// reach.
func TestRedisReplicasRevertReachesWhatItCan(t *testing.T) {
	old, candidate := newValue(t), newValue(t)
	g := startGroup(t, old)
	for _, r := range g.nodes() {
		do(t, r, "ACL", "SETUSER", "app", ">"+candidate.Reveal())
	}
	closed := net.JoinHostPort("127.0.0.1", strconv.Itoa(testservers.FreePort(t)))
	config := groupTarget(t, g.primary, map[string]string{"nodes": hclList(g.primary.Addr, closed, g.replica.Addr)})

	res := write(t, newTarget(t), opRevert, providers.WriteItem{Config: config, Value: old, Previous: candidate})
	if res.Err == nil || !strings.Contains(res.Err.Error(), "not changed on 1 of 3 nodes: "+closed+": admin login") {
		t.Fatalf("Err = %v, want it to name %s", res.Err, closed)
	}
	checkLoginsOn(t, g.nodes(), "app", map[string]bool{"old": true, "candidate": false}, map[string]sensitive.Value{"old": old, "candidate": candidate})
}

// TestRedisReplicasRetireRefused refuses to retire while the replica does
// not take the current password: no node loses the old one.
func TestRedisReplicasRetireRefused(t *testing.T) {
	old, next := newValue(t), newValue(t)
	g := startGroup(t, old)
	do(t, g.primary, "ACL", "SETUSER", "app", ">"+next.Reveal())
	config := groupTarget(t, g.primary, map[string]string{"nodes": hclList(g.primary.Addr, g.replica.Addr)})

	res := write(t, newTarget(t), opRetire, providers.WriteItem{Config: config, Value: next, Previous: old})
	want := "changed on no node, as 1 of 2 cannot take the change: " + g.replica.Addr + ": refusing to remove the user's other passwords"
	if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
		t.Fatalf("Err = %v, want it to contain %q", res.Err, want)
	}
	checkLoginsOn(t, g.nodes(), "app", map[string]bool{"old": true}, map[string]sensitive.Value{"old": old})
	checkLogins(t, g.primary.Addr, "app", map[string]bool{"new": true}, map[string]sensitive.Value{"new": next})
}

// TestRedisReplicasObserve reads what each node holds: the current value
// only when every node takes it, the nodes that differ named in the log,
// and the passwords rotplan did not make counted once however many nodes
// have them.
func TestRedisReplicasObserve(t *testing.T) {
	current, shared, extra := newValue(t), newValue(t), newValue(t)
	g := startGroup(t, current)
	// shared is on both nodes; extra on the replica only.
	do(t, g.primary, "ACL", "SETUSER", "app", ">"+shared.Reveal())
	do(t, g.replica, "ACL", "SETUSER", "app", ">"+shared.Reveal(), ">"+extra.Reveal())
	// other is on the primary only.
	createUser(t, g.primary, "other", current)
	createUser(t, g.replica, "other", extra)

	var logs syncBuffer
	target, err := New(providers.Settings{Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})})
	if err != nil {
		t.Fatal(err)
	}
	nodes := hclList(g.primary.Addr, g.replica.Addr)
	config := groupTarget(t, g.primary, map[string]string{"nodes": nodes})
	checkObservation(t, "unknown across nodes", observe(t, target, config, current), providers.HoldsCurrent, 2)
	checkObservation(t, "shared as previous", observeWith(t, target, config, current, shared), providers.HoldsCurrent, 1)
	checkObservation(t, "no current value", observe(t, target, config, sensitive.Value{}), providers.HoldsOther, 3)

	split := groupTarget(t, g.primary, map[string]string{"nodes": nodes, "username": "other"})
	checkObservation(t, "split", observe(t, target, split, current), providers.HoldsOther, 1)
	if !strings.Contains(logs.String(), "not every node takes the store's current value") || !strings.Contains(logs.String(), "differ="+g.replica.Addr) {
		t.Errorf("the log does not name the node that differs:\n%s", logs.String())
	}
	// A plan without the admin login probes each node with the value.
	plain := block(t, targetSpec, map[string]string{"nodes": nodes, "username": "other"})
	checkObservation(t, "split, no admin", observe(t, target, plain, current), providers.HoldsOther, 0)
	discovered := block(t, targetSpec, map[string]string{"address": g.primary.Addr, "discover": DiscoverReplicas, "username": "app"})
	checkObservation(t, "discovered as the user, no admin", observe(t, target, discovered, current), providers.HoldsCurrent, 0)
	// The primary refuses extra, so discovery cannot log in: another value.
	refused := block(t, targetSpec, map[string]string{"address": g.primary.Addr, "discover": DiscoverReplicas, "username": "other"})
	checkObservation(t, "discovery refused, no admin", observe(t, target, refused, extra), providers.HoldsOther, 0)
	for _, v := range []sensitive.Value{current, shared, extra} {
		if strings.Contains(logs.String(), v.Reveal()) || strings.Contains(logs.String(), passwordHash(v)) || strings.Contains(logs.String(), canary) {
			t.Fatalf("the log carries a value or its hash")
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger to write from any
// goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRedisSave runs each save setting against a server that forbids
// saving, as managed Redis does: CONFIG is renamed away and rotplan's login
// may not run ACL SAVE. Only save = "none" goes through; the others fail
// saying the change was not saved.
func TestRedisSave(t *testing.T) {
	r := testservers.StartRedis(t, testservers.RedisConfig(`rename-command CONFIG ""`))
	adminPW := newValue(t)
	createUser(t, r, "rotplan", adminPW, "-acl|save")
	aclBefore, err := os.ReadFile(r.ACLFile)
	if err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		save    string
		wantErr []string
	}{
		"none": {save: SaveNone},
		"acl_save": {save: SaveACL, wantErr: []string{
			"changed in memory but not saved, so a restart would undo it: acl save: NOPERM",
			"to save the change, +acl|save;", `set save = "none"`,
		}},
		"config_rewrite": {save: SaveConfigRewrite, wantErr: []string{"not saved, so a restart would undo it: config get aclfile: ERR unknown command", `set save = "none"`}},
		"auto":           {save: SaveAuto, wantErr: []string{"acl save: NOPERM"}},
	}
	target := newTarget(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			old, next := newValue(t), newValue(t)
			user := "app_" + name
			createUser(t, r, user, old)
			config := block(t, targetSpec, map[string]string{
				"address": r.Addr, "username": user, "admin_username": "rotplan", "admin_password": adminPW.Reveal(), "save": tc.save,
			})
			res := write(t, target, opDeliver, providers.WriteItem{Config: config, Value: next, Previous: old})
			if len(tc.wantErr) == 0 {
				if res.Err != nil {
					t.Fatalf("deliver: %v", res.Err)
				}
				checkLogins(t, r.Addr, user, map[string]bool{"old": true, "new": true}, map[string]sensitive.Value{"old": old, "new": next})
				mustWrite(t, target, opRetire, providers.WriteItem{Config: config, Value: next, Previous: old}, false)
				checkLogins(t, r.Addr, user, map[string]bool{"old": false, "new": true}, map[string]sensitive.Value{"old": old, "new": next})
				return
			}
			for _, want := range tc.wantErr {
				if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
					t.Errorf("Err = %v, want it to contain %q", res.Err, want)
				}
			}
			t.Logf("Err: %v", res.Err)
		})
	}
	// Nothing was saved: the ACL file is as the server started.
	aclAfter, err := os.ReadFile(r.ACLFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(aclBefore, aclAfter) {
		t.Errorf("the ACL file changed:\n%s", aclAfter)
	}
}

// TestRedisSaveStrict asks for one way of saving where the server has only
// the other: acl_save fails on a server without an ACL file, where auto
// falls back to CONFIG REWRITE; config_rewrite writes the configuration
// file, and fails for an ACL user on a server that keeps its users in an
// ACL file, which CONFIG REWRITE does not write.
func TestRedisSaveStrict(t *testing.T) {
	r := testservers.StartRedis(t)
	old, next := newValue(t), newValue(t)
	createUser(t, r, "app", old)
	config := block(t, targetSpec, map[string]string{
		"address": r.Addr, "username": "app", "admin_username": r.AdminUser, "admin_password": r.AdminPassword, "save": SaveConfigRewrite,
	})
	res := write(t, newTarget(t), opDeliver, providers.WriteItem{Config: config, Value: next, Previous: old})
	want := "config rewrite: the server keeps its users in an ACL file (aclfile), which CONFIG REWRITE does not write (save = \"auto\" or \"acl_save\""
	if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
		t.Fatalf("config_rewrite with an ACL file: Err = %v, want it to contain %q", res.Err, want)
	}
	t.Logf("Err: %v", res.Err)

	pr := testservers.StartRedis(t, testservers.RedisRequirePass())
	old = sensitive.New(pr.AdminPassword)
	target := newTarget(t)
	for _, save := range []string{SaveACL, SaveConfigRewrite} {
		next := newValue(t)
		config := block(t, targetSpec, map[string]string{"address": pr.Addr, "mode": ModeRequirePass, "save": save})
		res := write(t, target, opDeliver, providers.WriteItem{Config: config, Value: next, Previous: old})
		if save == SaveACL {
			for _, want := range []string{"acl save: ERR This Redis instance is not configured to use an ACL file", `save = "auto" or "config_rewrite"`} {
				if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
					t.Fatalf("%s: Err = %v, want it to contain %q", save, res.Err, want)
				}
			}
			t.Logf("Err: %v", res.Err)
			// The password was set, and apply reverts it: the revert cannot
			// save either, but the old password is back.
			if res := write(t, target, opRevert, providers.WriteItem{Config: config, Value: old, Previous: next}); res.Err == nil {
				t.Errorf("revert saved with ACL SAVE on a server without an ACL file")
			}
			checkLogins(t, pr.Addr, "", map[string]bool{"old": true, "new": false}, map[string]sensitive.Value{"old": old, "new": next})
			continue
		}
		if res.Err != nil {
			t.Fatalf("%s: %v", save, res.Err)
		}
		conf, err := os.ReadFile(pr.ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(conf), next.Reveal()) {
			t.Errorf("%s: the configuration file does not hold the new requirepass", save)
		}
	}
}

// TestRedisRequirePassReplicas rotates requirepass on a primary and its
// replica, found from the primary with no admin login: both take the new
// password, the replica's masterauth follows, and replication still works
// after the replica reconnects.
func TestRedisRequirePassReplicas(t *testing.T) {
	primary := testservers.StartRedis(t, testservers.RedisRequirePass())
	replica := testservers.StartRedis(t, testservers.RedisReplicaOf(primary))
	old, next := sensitive.New(primary.AdminPassword), newValue(t)
	values := map[string]sensitive.Value{"old": old, "new": next}
	target := newTarget(t)
	config := block(t, targetSpec, map[string]string{"address": primary.Addr, "mode": ModeRequirePass, "discover": DiscoverReplicas})

	mustWrite(t, target, opDeliver, providers.WriteItem{Config: config, Value: next, Previous: old}, false)
	for _, r := range []*testservers.Redis{primary, replica} {
		checkLogins(t, r.Addr, "", map[string]bool{"old": false, "new": true}, values)
	}
	checkObservation(t, "after deliver", observe(t, target, config, next), providers.HoldsCurrent, 0)

	// Log in with the new password from now on.
	p, rep := *primary, *replica
	p.AdminPassword, rep.AdminPassword = next.Reveal(), next.Reveal()
	if auth, err := rep.Command("CONFIG", "GET", "masterauth"); err != nil || !strings.HasSuffix(auth, "\n"+next.Reveal()) {
		t.Fatalf("the replica's masterauth is not the new password (%v)", err)
	}
	if _, err := rep.Command("CLIENT", "KILL", "TYPE", "master"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Command("SET", "after-rotation", "1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := rep.Command("GET", "after-rotation")
		if err == nil && v == "1" {
			break
		}
		if time.Now().After(deadline) {
			info, _ := rep.Command("INFO", "replication")
			t.Fatalf("a write on the primary did not reach the replica after it reconnected (%v):\n%s", err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Revert: the old password and masterauth back on both.
	mustWrite(t, target, opRevert, providers.WriteItem{Config: config, Value: old, Previous: next}, false)
	for _, r := range []*testservers.Redis{primary, replica} {
		checkLogins(t, r.Addr, "", map[string]bool{"old": true, "new": false}, values)
	}
	if auth, err := replica.Command("CONFIG", "GET", "masterauth"); err != nil || !strings.HasSuffix(auth, "\n"+old.Reveal()) {
		t.Errorf("the replica's masterauth is not the old password again (%v)", err)
	}
}

// TestRedisCluster rotates a user on every member of a three-node Redis
// Cluster, found from one of them with CLUSTER NODES.
func TestRedisCluster(t *testing.T) {
	nodes := testservers.StartRedisCluster(t, 3)
	old, next := newValue(t), newValue(t)
	for _, r := range nodes {
		createUser(t, r, "app", old)
	}
	values := map[string]sensitive.Value{"old": old, "new": next}
	target := newTarget(t)
	config := groupTarget(t, nodes[1], map[string]string{"address": nodes[1].Addr, "discover": DiscoverCluster})
	rotation := providers.WriteItem{Config: config, Value: next, Previous: old}

	mustWrite(t, target, opDeliver, rotation, false)
	checkLoginsOn(t, nodes, "app", map[string]bool{"old": true, "new": true}, values)
	checkObservation(t, "after deliver", observeWith(t, target, config, next, old), providers.HoldsCurrent, 0)
	mustWrite(t, target, opRetire, rotation, false)
	checkLoginsOn(t, nodes, "app", map[string]bool{"old": false, "new": true}, values)

	// A cluster node that has not the user fails the item, naming it.
	do(t, nodes[2], "ACL", "DELUSER", "app")
	res := write(t, target, opDeliver, providers.WriteItem{Config: config, Value: newValue(t), Previous: next})
	if res.Err == nil || !strings.Contains(res.Err.Error(), nodes[2].Addr+": no such ACL user") {
		t.Fatalf("Err = %v, want it to name %s", res.Err, nodes[2].Addr)
	}
	checkLoginsOn(t, nodes[:2], "app", map[string]bool{"new": true}, values)

	// discover = "cluster" on a server without cluster support says so.
	plain := testservers.StartRedis(t)
	res = write(t, target, opDeliver, providers.WriteItem{
		Config: groupTarget(t, plain, map[string]string{"address": plain.Addr, "discover": DiscoverCluster}), Value: next, Previous: old,
	})
	if res.Err == nil || !strings.Contains(res.Err.Error(), "discover cluster: "+plain.Addr+": cluster nodes: ERR This instance has cluster support disabled") {
		t.Fatalf("Err = %v, want cluster support disabled", res.Err)
	}
}

func TestParseReplication(t *testing.T) {
	tests := map[string]struct {
		info  string
		runID string
		want  []string
	}{
		"primary": {
			info:  "# Server\r\nrun_id:abc\r\n# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=10.0.0.5,port=6379,state=online,offset=1,lag=0\r\nslave1:ip=::1,port=6380,state=wait_bgsave,offset=0,lag=0\r\nslave_read_only:1\r\n",
			runID: "abc", want: []string{"10.0.0.5:6379", "[::1]:6380"},
		},
		"replica with its own replica": {
			info:  "run_id:def\nrole:slave\nmaster_host:cache-1.internal\nmaster_port:6379\nmaster_link_status:up\nslave_repl_offset:10\nslave_priority:100\nconnected_slaves:1\nslave0:ip=10.0.0.7,port=6379,state=online,offset=1,lag=0\n",
			runID: "def", want: []string{"cache-1.internal:6379", "10.0.0.7:6379"},
		},
		"alone": {info: "run_id:x\nrole:master\nconnected_slaves:0\n", runID: "x"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := parseReplication(tc.info)
			if got.runID != tc.runID || strings.Join(got.linked, " ") != strings.Join(tc.want, " ") {
				t.Errorf("parseReplication = %q %q, want %q %q", got.runID, got.linked, tc.runID, tc.want)
			}
		})
	}
}

func TestParseClusterNodes(t *testing.T) {
	tests := map[string]struct {
		out     string
		want    []string
		wantErr string
	}{
		"redis 7": {
			out: "07c3 10.0.0.1:6379@16379,cache-1.internal myself,master - 0 0 1 connected 0-5460\n" +
				"67ed 10.0.0.2:6379@16379,cache-2.internal master - 0 1 2 connected 5461-10922\n" +
				"292f 10.0.0.3:6380@16380 slave 67ed 0 1 2 connected\n" +
				"6ec2 [::1]:6381@16381 master,fail - 0 1 3 disconnected\n" +
				"824f 10.0.0.9:6379@16379 handshake - 0 0 0 connected\n",
			want: []string{"seed:6379", "10.0.0.2:6379", "10.0.0.3:6380", "[::1]:6381"},
		},
		"redis 3": {
			out:  "07c3 :6379 myself,master - 0 0 1 connected\n67ed 10.0.0.2:6379 master - 0 1 2 connected\n",
			want: []string{"seed:6379", "10.0.0.2:6379"},
		},
		"no address": {
			out:     "07c3 :6379@16379 myself,master - 0 0 1 connected\n67ed :0@0 master,noaddr - 0 1 2 connected\n",
			wantErr: "node 67ed has no known address",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseClusterNodes(tc.out, "seed:6379")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("parseClusterNodes = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRedisVerifyNodes checks every node a verify block lists: each must
// take the value, and the error names the ones that do not.
func TestRedisVerifyNodes(t *testing.T) {
	pw := newValue(t)
	g := startGroup(t, pw)
	lone := testservers.StartRedis(t)
	createUser(t, lone, "app", newValue(t))
	v, err := NewVerifier(providers.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(timeout time.Duration, nodes ...string) (*providers.VerifyResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return v.Verify(ctx, providers.VerifyRequest{
			Config: block(t, verifySpec, map[string]string{"nodes": hclList(nodes...), "username": "app"}), Value: pw,
		})
	}

	resp, err := verify(time.Minute, g.primary.Addr, g.replica.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp.Detail, g.primary.Addr) || !strings.Contains(resp.Detail, g.replica.Addr) {
		t.Errorf("Detail = %q, want both nodes", resp.Detail)
	}

	_, err = verify(500*time.Millisecond, g.primary.Addr, lone.Addr, g.replica.Addr)
	checkNoLeak(t, err, pw)
	want := "PING: 1 of 3 nodes did not pass: " + lone.Addr + ": no success in"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Verify error = %v, want it to contain %q", err, want)
	}
	t.Logf("Err: %v", err)
}
