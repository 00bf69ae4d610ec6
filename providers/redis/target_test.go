package redis

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/internal/testservers"
	"github.com/rotplan/rotplan/providers"
)

func TestRedisTargetObserve(t *testing.T) {
	r := testservers.StartRedis(t)
	pr := testservers.StartRedis(t, testservers.RedisRequirePass())
	current, other, unknown := newValue(t), newValue(t), newValue(t)
	createUser(t, r, "app", current)
	createUser(t, r, "off", current)
	do(t, r, "ACL", "SETUSER", "off", "off")
	// taken over had a password before rotplan, and keeps it beside the
	// current one.
	createUser(t, r, "taken", unknown, ">"+current.Reveal())
	do(t, r, "ACL", "SETUSER", "nopw", "on", "~*", "+@all")
	do(t, r, "ACL", "SETUSER", "any", "on", "nopass", "~*", "+@all")
	createUser(t, r, "limited", other, "-@all", "+ping")
	limited := block(t, targetSpec, map[string]string{
		"address": r.Addr, "username": "taken", "admin_username": "limited", "admin_password": other.Reveal(),
	})
	requirePass := sensitive.New(pr.AdminPassword)

	// closed is an address nothing listens on.
	closed := net.JoinHostPort("127.0.0.1", strconv.Itoa(testservers.FreePort(t)))
	// plain answers every connection as a server without TLS would.
	plain := plainServer(t)

	tests := map[string]struct {
		config            cty.Value
		current, previous sensitive.Value
		want              providers.Holding
		wantUnknown       int
		wantErr           string
	}{
		"acl current": {
			config: aclTarget(t, r, "app"), current: current, want: providers.HoldsCurrent,
		},
		"acl other": {
			// The user's password is not the store's: rotplan did not make it.
			config: aclTarget(t, r, "app"), current: other, want: providers.HoldsOther, wantUnknown: 1,
		},
		"acl no such user": {
			config: aclTarget(t, r, "nobody"), current: current, want: providers.HoldsOther,
		},
		"acl user disabled": {
			config: aclTarget(t, r, "off"), current: current, want: providers.HoldsOther,
		},
		"acl without admin password": {
			// A plan needs no admin: the probe logs in as the user.
			config:  block(t, targetSpec, map[string]string{"address": r.Addr, "username": "app"}),
			current: current, want: providers.HoldsCurrent,
		},
		"requirepass current": {
			config: requirePassTarget(t, pr), current: requirePass, want: providers.HoldsCurrent,
		},
		"requirepass other": {
			config: requirePassTarget(t, pr), current: other, want: providers.HoldsOther,
		},
		"unreachable": {
			config: aclTarget(t, &testservers.Redis{Addr: closed}, "app"), current: current,
			wantErr: "redis user app at " + closed + ": login probe:",
		},
		"tls to a plain server": {
			config:  block(t, targetSpec, map[string]string{"address": plain, "username": "app", "tls": "true"}),
			current: current, wantErr: "redis user app at " + plain + ": login probe:",
		},
		"acl password rotplan did not make": {
			config: aclTarget(t, r, "taken"), current: current, want: providers.HoldsCurrent, wantUnknown: 1,
		},
		"acl previous password": {
			config: aclTarget(t, r, "taken"), current: current, previous: unknown, want: providers.HoldsCurrent,
		},
		"acl previous password, current not taken": {
			config: aclTarget(t, r, "taken"), current: other, previous: unknown, want: providers.HoldsOther, wantUnknown: 1,
		},
		"acl nopass": {
			// It takes the current value, and any other.
			config: aclTarget(t, r, "any"), current: current, want: providers.HoldsCurrent, wantUnknown: 1,
		},
		"acl passwords unread without admin": {
			config:  block(t, targetSpec, map[string]string{"address": r.Addr, "username": "taken"}),
			current: current, want: providers.HoldsCurrent,
		},
		"acl admin may not read users": {
			config: limited, current: current,
			wantErr: "acl getuser: NOPERM",
		},
		"acl no current value, user with a password": {
			config: aclTarget(t, r, "app"), want: providers.HoldsOther, wantUnknown: 1,
		},
		"acl no current value, user with two passwords": {
			config: aclTarget(t, r, "taken"), want: providers.HoldsOther, wantUnknown: 2,
		},
		"acl no current value, user without a password": {
			config: aclTarget(t, r, "nopw"), want: providers.HoldsNothing,
		},
		"acl no current value, nopass user": {
			config: aclTarget(t, r, "any"), want: providers.HoldsOther, wantUnknown: 1,
		},
		"acl no current value, no such user": {
			config:  aclTarget(t, r, "nobody"),
			wantErr: "redis user nobody at " + r.Addr + ": no such ACL user: create it with its permissions first",
		},
		"acl no current value without admin": {
			// Nothing to log in with and no admin: it cannot tell.
			config: block(t, targetSpec, map[string]string{"address": r.Addr, "username": "app"}),
			want:   providers.HoldsUnknown,
		},
		"requirepass no current value": {
			config: requirePassTarget(t, pr), want: providers.HoldsOther,
		},
	}
	target := newTarget(t)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := observeWith(t, target, tc.config, tc.current, tc.previous)
			if tc.wantErr != "" {
				if got.Err == nil || !strings.Contains(got.Err.Error(), tc.wantErr) {
					t.Fatalf("Err = %v, want it to contain %q", got.Err, tc.wantErr)
				}
				t.Logf("Err: %v", got.Err)
				return
			}
			checkObservation(t, "Observe", got, tc.want, tc.wantUnknown)
		})
	}
}

func TestRedisTargetObserveRequirePassOpenServer(t *testing.T) {
	pr := testservers.StartRedis(t, testservers.RedisRequirePass())
	do(t, pr, "CONFIG", "SET", "requirepass", "")
	// The server now takes any password: it holds none.
	checkObservation(t, "Observe", observe(t, newTarget(t), requirePassTarget(t, pr), newValue(t)), providers.HoldsNothing, 0)
	checkObservation(t, "Observe with no current value", observe(t, newTarget(t), requirePassTarget(t, pr), sensitive.Value{}), providers.HoldsNothing, 0)
}

// TestRedisACLRotation walks one rotation: deliver keeps the old password
// valid beside the new one through grace, retire removes the old one.
func TestRedisACLRotation(t *testing.T) {
	r := testservers.StartRedis(t)
	old, next := newValue(t), newValue(t)
	createUser(t, r, "app", old)
	values := map[string]sensitive.Value{"old": old, "new": next}
	target := newTarget(t)
	config := aclTarget(t, r, "app")
	rotation := providers.WriteItem{Secret: "cache", Target: "target.redis", Config: config, Value: next, Previous: old}

	mustWrite(t, target, opDeliver, rotation, false)
	checkLogins(t, r.Addr, "app", map[string]bool{"old": true, "new": true}, values)
	if got := observe(t, target, config, next); got.Holds != providers.HoldsCurrent {
		t.Errorf("after deliver, Observe(new) = %s %v, want current", got.Holds, got.Err)
	}
	mustWrite(t, target, opDeliver, rotation, true)

	mustWrite(t, target, opRetire, rotation, false)
	checkLogins(t, r.Addr, "app", map[string]bool{"old": false, "new": true}, values)
	if got := observe(t, target, config, old); got.Holds != providers.HoldsOther {
		t.Errorf("after retire, Observe(old) = %s %v, want other", got.Holds, got.Err)
	}
	mustWrite(t, target, opRetire, rotation, true)

	// The change is saved in the server's ACL file, by hash.
	acl, err := os.ReadFile(r.ACLFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(acl), "user app ") || !strings.Contains(string(acl), "#"+passwordHash(next)) {
		t.Errorf("ACL file does not hold the new password's hash:\n%s", acl)
	}
	if strings.Contains(string(acl), passwordHash(old)) || strings.Contains(string(acl), canary) {
		t.Errorf("ACL file still holds the old password or a cleartext value:\n%s", acl)
	}
}

func TestRedisACLRevert(t *testing.T) {
	tests := map[string]struct {
		// before changes the user after a deliver of the candidate.
		before func(t *testing.T, r *testservers.Redis, old sensitive.Value)
	}{
		"after deliver": {},
		"old password lost meanwhile": {
			before: func(t *testing.T, r *testservers.Redis, old sensitive.Value) {
				do(t, r, "ACL", "SETUSER", "app", "<"+old.Reveal())
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := testservers.StartRedis(t)
			old, candidate := newValue(t), newValue(t)
			createUser(t, r, "app", old)
			values := map[string]sensitive.Value{"old": old, "candidate": candidate}
			target := newTarget(t)
			config := aclTarget(t, r, "app")

			mustWrite(t, target, opDeliver, providers.WriteItem{Config: config, Value: candidate, Previous: old}, false)
			if tc.before != nil {
				tc.before(t, r, old)
			}
			revert := providers.WriteItem{Config: config, Value: old, Previous: candidate}
			mustWrite(t, target, opRevert, revert, false)
			checkLogins(t, r.Addr, "app", map[string]bool{"old": true, "candidate": false}, values)
			mustWrite(t, target, opRevert, revert, true)
		})
	}
}

// TestRedisACLSelfService rotates a user with no admin login: the user logs
// in with its old password and changes its own, as the schema allows when
// the user may run ACL SETUSER.
func TestRedisACLSelfService(t *testing.T) {
	r := testservers.StartRedis(t)
	old, next := newValue(t), newValue(t)
	createUser(t, r, "app", old)
	values := map[string]sensitive.Value{"old": old, "new": next}
	target := newTarget(t)
	config := block(t, targetSpec, map[string]string{"address": r.Addr, "username": "app"})
	rotation := providers.WriteItem{Config: config, Value: next, Previous: old}

	mustWrite(t, target, opDeliver, rotation, false)
	checkLogins(t, r.Addr, "app", map[string]bool{"old": true, "new": true}, values)
	mustWrite(t, target, opRetire, rotation, false)
	checkLogins(t, r.Addr, "app", map[string]bool{"old": false, "new": true}, values)
}

func TestRedisACLWriteErrors(t *testing.T) {
	r := testservers.StartRedis(t)
	old, next := newValue(t), newValue(t)
	createUser(t, r, "app", old)
	createUser(t, r, "off", old)
	do(t, r, "ACL", "SETUSER", "off", "off")
	createUser(t, r, "limited", old, "-@all", "+ping")
	createUser(t, r, "app2", old)
	createUser(t, r, "nosave", old, "-@all", "+ping", "+acl|getuser", "+acl|setuser")

	target := newTarget(t)
	wrongAdmin := block(t, targetSpec, map[string]string{
		"address": r.Addr, "username": "app", "admin_username": r.AdminUser, "admin_password": next.Reveal(),
	})
	// as logs in as admin (with the password old) to rotate user.
	as := func(admin, user string) cty.Value {
		return block(t, targetSpec, map[string]string{"address": r.Addr, "username": user, "admin_username": admin, "admin_password": old.Reveal()})
	}

	tests := map[string]struct {
		op      op
		item    providers.WriteItem
		wantErr string
		// after, when set, must still hold for the app user.
		after map[string]bool
	}{
		"no such user": {
			op: opDeliver, item: providers.WriteItem{Config: aclTarget(t, r, "nobody"), Value: next, Previous: old},
			wantErr: "redis user nobody at " + r.Addr + ": no such ACL user: create it with its permissions first",
		},
		"user disabled": {
			op: opDeliver, item: providers.WriteItem{Config: aclTarget(t, r, "off"), Value: next, Previous: old},
			wantErr: "the user is disabled",
		},
		"wrong admin password": {
			op: opDeliver, item: providers.WriteItem{Config: wrongAdmin, Value: next, Previous: old},
			wantErr: "redis user app at " + r.Addr + ": admin login as admin: WRONGPASS",
			after:   map[string]bool{"old": true, "new": false},
		},
		"admin may not read users": {
			op: opDeliver, item: providers.WriteItem{Config: as("limited", "app"), Value: next, Previous: old},
			wantErr: "acl getuser: NOPERM",
			after:   map[string]bool{"old": true, "new": false},
		},
		"admin may not save": {
			// The password is added, then ACL SAVE is refused: the error
			// says the change would not survive a restart, and apply
			// reverts it. Another user, as this one changes.
			op: opDeliver, item: providers.WriteItem{Config: as("nosave", "app2"), Value: next, Previous: old},
			wantErr: "changed in memory but not saved, so a restart would undo it: acl save: NOPERM",
		},
		"self service without permission": {
			op: opDeliver, item: providers.WriteItem{
				Config: block(t, targetSpec, map[string]string{"address": r.Addr, "username": "limited"}),
				Value:  next, Previous: old,
			},
			wantErr: "acl getuser: NOPERM",
		},
		"self service with neither value": {
			op: opDeliver, item: providers.WriteItem{
				Config: block(t, targetSpec, map[string]string{"address": r.Addr, "username": "app"}),
				Value:  newValue(t), Previous: newValue(t),
			},
			wantErr: "no admin_password, and neither the old nor the new value logs in",
		},
		"retire without the current password": {
			op: opRetire, item: providers.WriteItem{Config: aclTarget(t, r, "app"), Value: newValue(t), Previous: old},
			wantErr: "refusing to remove the user's other passwords",
			after:   map[string]bool{"old": true},
		},
	}
	values := map[string]sensitive.Value{"old": old, "new": next}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := write(t, target, tc.op, tc.item)
			if res.Err == nil || !strings.Contains(res.Err.Error(), tc.wantErr) {
				t.Fatalf("Err = %v, want it to contain %q", res.Err, tc.wantErr)
			}
			t.Logf("Err: %v", res.Err)
			checkLogins(t, r.Addr, "app", tc.after, values)
		})
	}
}

// TestRedisRequirePass rotates a server's single password: the old one
// stops working at deliver, and retire has nothing left to do.
func TestRedisRequirePass(t *testing.T) {
	pr := testservers.StartRedis(t, testservers.RedisRequirePass())
	old, next := sensitive.New(pr.AdminPassword), newValue(t)
	values := map[string]sensitive.Value{"old": old, "new": next}
	target := newTarget(t)
	config := requirePassTarget(t, pr)
	rotation := providers.WriteItem{Config: config, Value: next, Previous: old}

	mustWrite(t, target, opDeliver, rotation, false)
	checkLogins(t, pr.Addr, "", map[string]bool{"old": false, "new": true}, values)
	mustWrite(t, target, opDeliver, rotation, true)
	if got := observe(t, target, config, next); got.Holds != providers.HoldsCurrent {
		t.Errorf("after deliver, Observe(new) = %s %v, want current", got.Holds, got.Err)
	}
	// The server had a configuration file: CONFIG REWRITE saved the change.
	conf, err := os.ReadFile(pr.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), next.Reveal()) {
		t.Errorf("the configuration file does not hold the new requirepass")
	}

	revert := providers.WriteItem{Config: config, Value: old, Previous: next}
	mustWrite(t, target, opRevert, revert, false)
	checkLogins(t, pr.Addr, "", map[string]bool{"old": true, "new": false}, values)
	mustWrite(t, target, opRevert, revert, true)

	mustWrite(t, target, opRetire, rotation, true)
	checkLogins(t, pr.Addr, "", map[string]bool{"old": true}, values)
}

// plainServer listens on loopback and answers each connection with a Redis
// error line, then hangs up, as a server without TLS answers a TLS hello.
func plainServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("-ERR unknown command\r\n"))
			c.Close()
		}
	}()
	return l.Addr().String()
}

// TestRedisTargetBatch sends several items in one call: each gets its own
// result, in order, and one failing item leaves the others alone.
func TestRedisTargetBatch(t *testing.T) {
	r := testservers.StartRedis(t)
	oldA, oldB, nextA, nextB := newValue(t), newValue(t), newValue(t), newValue(t)
	createUser(t, r, "a", oldA)
	createUser(t, r, "b", oldB)
	target := newTarget(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	resp, err := target.Deliver(ctx, providers.DeliverRequest{Items: []providers.WriteItem{
		{Config: aclTarget(t, r, "a"), Value: nextA, Previous: oldA},
		{Config: aclTarget(t, r, "nobody"), Value: nextA, Previous: oldA},
		{Config: aclTarget(t, r, "b"), Value: nextB, Previous: oldB},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 3 {
		t.Fatalf("%d results for 3 items", len(resp.Results))
	}
	if resp.Results[0].Err != nil || resp.Results[2].Err != nil || resp.Results[1].Err == nil {
		t.Errorf("errors = %v, %v, %v; want only the second", resp.Results[0].Err, resp.Results[1].Err, resp.Results[2].Err)
	}
	checkLogins(t, r.Addr, "a", map[string]bool{"old": true, "new": true}, map[string]sensitive.Value{"old": oldA, "new": nextA})
	checkLogins(t, r.Addr, "b", map[string]bool{"old": true, "new": true}, map[string]sensitive.Value{"old": oldB, "new": nextB})

	obs, err := target.Observe(ctx, providers.ObserveRequest{Items: []providers.ObserveItem{
		{Config: aclTarget(t, r, "a"), Current: nextA},
		{Config: aclTarget(t, r, "b"), Current: nextA},
		{Config: aclTarget(t, r, "b"), Current: nextB},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []providers.Holding
	for _, o := range obs.Results {
		got = append(got, o.Holds)
	}
	want := []providers.Holding{providers.HoldsCurrent, providers.HoldsOther, providers.HoldsCurrent}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Observe = %v, want %v", got, want)
	}
}

// TestRedisACLDeliverEndsNopass delivers to a user that took any password:
// afterwards it takes only the one delivered.
func TestRedisACLDeliverEndsNopass(t *testing.T) {
	r := testservers.StartRedis(t)
	do(t, r, "ACL", "SETUSER", "app", "on", "nopass", "~*", "+@all")
	next, other := newValue(t), newValue(t)
	mustWrite(t, newTarget(t), opDeliver, providers.WriteItem{Config: aclTarget(t, r, "app"), Value: next}, false)
	checkLogins(t, r.Addr, "app", map[string]bool{"new": true, "other": false}, map[string]sensitive.Value{"new": next, "other": other})
}

// TestRedisACLTakeover takes over a user that already had a password,
// which rotplan never knew: plan sees it as a credential rotplan did not
// make, through create and rotate, until retire removes it.
func TestRedisACLTakeover(t *testing.T) {
	r := testservers.StartRedis(t)
	unknown, current := newValue(t), newValue(t)
	createUser(t, r, "app", unknown)
	values := map[string]sensitive.Value{"unknown": unknown, "current": current}
	target := newTarget(t)
	config := aclTarget(t, r, "app")

	// Before create: the store has no value yet.
	checkObservation(t, "before create", observe(t, target, config, sensitive.Value{}), providers.HoldsOther, 1)

	create := providers.WriteItem{Secret: "cache", Target: "target.redis", Config: config, Value: current}
	mustWrite(t, target, opDeliver, create, false)
	checkLogins(t, r.Addr, "app", map[string]bool{"unknown": true, "current": true}, values)
	checkObservation(t, "after create", observe(t, target, config, current), providers.HoldsCurrent, 1)
	// The same password as the store's previous value is rotplan's own.
	checkObservation(t, "as previous", observeWith(t, target, config, current, unknown), providers.HoldsCurrent, 0)

	// Retire leaves the current password alone.
	mustWrite(t, target, opRetire, create, false)
	checkLogins(t, r.Addr, "app", map[string]bool{"unknown": false, "current": true}, values)
	checkObservation(t, "after retire", observe(t, target, config, current), providers.HoldsCurrent, 0)
	mustWrite(t, target, opRetire, create, true)

	acl, err := os.ReadFile(r.ACLFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(acl), passwordHash(unknown)) || !strings.Contains(string(acl), "#"+passwordHash(current)) {
		t.Errorf("the ACL file does not hold the current password alone:\n%s", acl)
	}
}

// TestRedisACLRetireRemovesAllButCurrent retires a rotation of a user that
// also had a password rotplan did not make: both the previous and that one
// go, in one command.
func TestRedisACLRetireRemovesAllButCurrent(t *testing.T) {
	r := testservers.StartRedis(t)
	unknown, old, next := newValue(t), newValue(t), newValue(t)
	createUser(t, r, "app", unknown, ">"+old.Reveal(), ">"+next.Reveal())
	values := map[string]sensitive.Value{"unknown": unknown, "old": old, "new": next}
	target := newTarget(t)
	config := aclTarget(t, r, "app")
	checkObservation(t, "in grace", observeWith(t, target, config, next, old), providers.HoldsCurrent, 1)

	mustWrite(t, target, opRetire, providers.WriteItem{Config: config, Value: next, Previous: old}, false)
	checkLogins(t, r.Addr, "app", map[string]bool{"unknown": false, "old": false, "new": true}, values)
	checkObservation(t, "after retire", observeWith(t, target, config, next, old), providers.HoldsCurrent, 0)
}

// TestRedisACLNopass takes over a user that takes any password: it counts
// as one credential rotplan did not make, and retire ends it.
func TestRedisACLNopass(t *testing.T) {
	r := testservers.StartRedis(t)
	do(t, r, "ACL", "SETUSER", "app", "on", "nopass", "~*", "+@all")
	current, other := newValue(t), newValue(t)
	values := map[string]sensitive.Value{"current": current, "other": other}
	target := newTarget(t)
	config := aclTarget(t, r, "app")

	checkObservation(t, "before create", observe(t, target, config, sensitive.Value{}), providers.HoldsOther, 1)
	checkObservation(t, "any value", observe(t, target, config, current), providers.HoldsCurrent, 1)

	mustWrite(t, target, opRetire, providers.WriteItem{Config: config, Value: current}, false)
	checkLogins(t, r.Addr, "app", map[string]bool{"current": true, "other": false}, values)
	checkObservation(t, "after retire", observe(t, target, config, current), providers.HoldsCurrent, 0)
	flags := fmt.Sprint(do(t, r, "ACL", "GETUSER", "app"))
	if strings.Contains(flags, "nopass") {
		t.Errorf("the user is still nopass: %s", flags)
	}
}
