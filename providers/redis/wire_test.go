package redis

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/internal/testservers"
	"github.com/rotplan/rotplan/providers"
)

// TestRedisACLSendsHashesOnly puts a recording proxy between the target and
// the server and checks that, in acl mode, no password rotplan rotates ever
// crosses the wire: ACL SETUSER gets #<sha256>, !<sha256> and resetpass
// (retire). A MONITOR
// client watches the server too. Redis 7 leaves admin commands (ACL, CONFIG)
// out of MONITOR altogether and redacts AUTH, so MONITOR alone could not
// show what ACL SETUSER was sent; the proxy does.
func TestRedisACLSendsHashesOnly(t *testing.T) {
	r := testservers.StartRedis(t)
	old, next, candidate := newValue(t), newValue(t), newValue(t)
	createUser(t, r, "app", old)
	mon := startMonitor(t, r)
	proxy := startRecorder(t, r.Addr)

	target := newTarget(t)
	config := block(t, targetSpec, map[string]string{
		"address": proxy.addr, "username": "app",
		"admin_username": r.AdminUser, "admin_password": r.AdminPassword,
	})
	// A rotation to next, retired; then a candidate delivered and reverted.
	mustWrite(t, target, opDeliver, providers.WriteItem{Config: config, Value: next, Previous: old}, false)
	mustWrite(t, target, opRetire, providers.WriteItem{Config: config, Value: next, Previous: old}, false)
	mustWrite(t, target, opDeliver, providers.WriteItem{Config: config, Value: candidate, Previous: next}, false)
	mustWrite(t, target, opRevert, providers.WriteItem{Config: config, Value: next, Previous: candidate}, false)
	checkLogins(t, r.Addr, "app", map[string]bool{"old": false, "next": true, "candidate": false},
		map[string]sensitive.Value{"old": old, "next": next, "candidate": candidate})

	sent := proxy.sent()
	for _, want := range []string{
		"SETUSER", "#" + passwordHash(next), "resetpass",
		"#" + passwordHash(candidate), "!" + passwordHash(candidate),
	} {
		if !strings.Contains(sent, want) {
			t.Errorf("the target never sent %q", want)
		}
	}
	for name, v := range map[string]sensitive.Value{"old": old, "next": next, "candidate": candidate} {
		if strings.Contains(sent, v.Reveal()) {
			t.Errorf("the %s password crossed the wire in clear", name)
		}
	}

	seen := mon.stop(t)
	for name, v := range map[string]sensitive.Value{"old": old, "next": next, "candidate": candidate} {
		if strings.Contains(seen, v.Reveal()) || strings.Contains(seen, passwordHash(v)) {
			t.Errorf("MONITOR showed the %s password or its hash", name)
		}
	}
	if strings.Contains(seen, r.AdminPassword) {
		t.Errorf("MONITOR showed the admin password")
	}
	t.Logf("MONITOR shows SETUSER: %v", strings.Contains(strings.ToUpper(seen), "SETUSER"))
}

// TestRedisNothingLeaks runs rotations, failures and checks with canary
// values and scans every error and every log line, at the most verbose
// level, for them.
func TestRedisNothingLeaks(t *testing.T) {
	r := testservers.StartRedis(t)
	pr := testservers.StartRedis(t, testservers.RedisRequirePass())
	old, next := newValue(t), newValue(t)
	createUser(t, r, "app", old)
	do(t, r, "ACL", "SETUSER", "limited", "on", ">"+old.Reveal(), "-@all", "+ping")

	var logs bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})
	target, err := New(providers.Settings{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := NewVerifier(providers.Settings{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var errs []error
	collect := func(resp *providers.WriteResponse, err error) {
		errs = append(errs, err)
		if resp != nil {
			for _, res := range resp.Results {
				errs = append(errs, res.Err)
			}
		}
	}
	acl := aclTarget(t, r, "app")
	limited := block(t, targetSpec, map[string]string{"address": r.Addr, "username": "app", "admin_username": "limited", "admin_password": old.Reveal()})
	items := []providers.WriteItem{
		{Config: acl, Value: next, Previous: old},
		{Config: aclTarget(t, r, "nobody"), Value: next, Previous: old},
		{Config: limited, Value: next, Previous: old},
		{Config: requirePassTarget(t, pr), Value: next, Previous: sensitive.New(pr.AdminPassword)},
	}
	collect(target.Deliver(ctx, providers.DeliverRequest{Items: items}))
	collect(target.Deliver(ctx, providers.DeliverRequest{Items: items}))
	collect(target.Retire(ctx, providers.RetireRequest{Items: items}))
	collect(target.Revert(ctx, providers.RevertRequest{Items: []providers.WriteItem{
		{Config: acl, Value: old, Previous: next},
		{Config: requirePassTarget(t, pr), Value: sensitive.New(pr.AdminPassword), Previous: next},
	}}))
	do(t, r, "ACL", "SETUSER", "anyone", "on", "nopass", "~*", "+@all")
	obs, err := target.Observe(ctx, providers.ObserveRequest{Items: []providers.ObserveItem{
		{Config: acl, Current: next}, {Config: acl, Current: old},
		{Config: acl, Current: next, Previous: old}, {Config: acl},
		{Config: aclTarget(t, r, "anyone"), Current: next},
		{Config: aclTarget(t, r, "nobody")},
		{Config: limited, Current: next, Previous: old},
		{Config: aclTarget(t, &testservers.Redis{Addr: "127.0.0.1:1"}, "app"), Current: old},
	}})
	errs = append(errs, err)
	for _, o := range obs.Results {
		errs = append(errs, o.Err)
	}
	for _, value := range []sensitive.Value{old, next} {
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := verifier.Verify(short, providers.VerifyRequest{
			Config: block(t, verifySpec, map[string]string{"address": r.Addr, "username": "app"}), Value: value,
		})
		cancel()
		errs = append(errs, err)
	}

	failures := 0
	for _, err := range errs {
		if err != nil {
			failures++
			checkNoLeak(t, err, old, next)
		}
	}
	if failures < 4 {
		t.Errorf("only %d errors: the test no longer exercises failures", failures)
	}
	out := logs.String()
	for _, bad := range []string{canary, passwordHash(old), passwordHash(next), pr.AdminPassword, r.AdminPassword} {
		if strings.Contains(out, bad) {
			t.Errorf("a log line carries a value or its hash:\n%s", out)
		}
	}
}

// TestRedisRedactsServerEcho sends an ACL SETUSER the server rejects:
// Redis quotes the rejected rule in its error, and redact takes it out.
func TestRedisRedactsServerEcho(t *testing.T) {
	r := testservers.StartRedis(t)
	pw := newValue(t)
	createUser(t, r, "app", newValue(t))
	c := newClient(r.Addr, false, login{username: r.AdminUser, password: sensitive.New(r.AdminPassword)})
	defer c.Close()

	err := setUser(context.Background(), c, "app", "!"+passwordHash(pw))
	if err == nil || !strings.Contains(err.Error(), passwordHash(pw)) {
		t.Fatalf("ACL SETUSER error = %v; this test expects Redis to quote the rule", err)
	}
	clean := redact(err, pw)
	checkNoLeak(t, clean, pw)
	if !strings.Contains(clean.Error(), "does not exist") {
		t.Errorf("redact lost the reason: %v", clean)
	}

	err = c.ConfigSet(context.Background(), "requirepass\n"+pw.Reveal(), pw.Reveal()).Err()
	checkNoLeak(t, redact(err, pw), pw)
}

func TestRedisRedact(t *testing.T) {
	pw := sensitive.New(canary + " two\nlines")
	tests := map[string]error{
		"hash":                 fmt.Errorf("ERR Error in ACL SETUSER modifier '#%s': bad", passwordHash(pw)),
		"value":                fmt.Errorf("ERR bad argument '%s'", pw.Reveal()),
		"newlines made spaces": fmt.Errorf("ERR bad argument '%s'", strings.ReplaceAll(pw.Reveal(), "\n", " ")),
	}
	for name, err := range tests {
		t.Run(name, func(t *testing.T) {
			got := redact(err, pw)
			checkNoLeak(t, got, pw)
			if !strings.HasPrefix(got.Error(), "ERR ") {
				t.Errorf("redact(%q) = %q, want the rest kept", name, got)
			}
		})
	}
	// An error with nothing to take out keeps its chain.
	if err := redact(context.DeadlineExceeded); err != context.DeadlineExceeded {
		t.Errorf("redact(context.DeadlineExceeded) = %v, want it unchanged", err)
	}
}

// recorder is a TCP proxy that keeps every byte clients send.
type recorder struct {
	addr string
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *recorder) sent() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

func startRecorder(t *testing.T, upstream string) *recorder {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	go func() {
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", upstream)
			if err != nil {
				client.Close()
				continue
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(server, io.TeeReader(client, rec))
				server.Close()
			}()
			go func() {
				defer wg.Done()
				_, _ = io.Copy(client, server)
				client.Close()
			}()
		}
	}()
	return rec
}

// monitor is a MONITOR connection to a server, as its admin.
type monitor struct {
	r    *testservers.Redis
	conn net.Conn
	mu   sync.Mutex
	seen strings.Builder
	done chan struct{}
}

func startMonitor(t *testing.T, r *testservers.Redis) *monitor {
	t.Helper()
	conn, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	m := &monitor{r: r, conn: conn, done: make(chan struct{})}
	fmt.Fprintf(conn, "AUTH %s %s\r\nMONITOR\r\n", r.AdminUser, r.AdminPassword)
	br := bufio.NewReader(conn)
	for _, want := range []string{"+OK", "+OK"} {
		line, err := br.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != want {
			t.Fatalf("MONITOR: %q %v", line, err)
		}
	}
	go func() {
		defer close(m.done)
		for {
			line, err := br.ReadString('\n')
			m.mu.Lock()
			m.seen.WriteString(line)
			m.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return m
}

// stop sends a marker command, waits for MONITOR to show it and returns all
// it showed.
func (m *monitor) stop(t *testing.T) string {
	t.Helper()
	const marker = "rotplan-monitor-end"
	do(t, m.r, "ECHO", marker)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		s := m.seen.String()
		m.mu.Unlock()
		if strings.Contains(s, marker) {
			m.conn.Close()
			<-m.done
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("MONITOR never showed the marker")
	return ""
}
