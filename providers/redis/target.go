package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-hclog"
	goredis "github.com/redis/go-redis/v9"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Target is target "redis": a Redis server that checks logins with the
// secret, as an ACL user's password or as the server's requirepass.
type Target struct {
	logger hclog.Logger
}

var _ providers.TargetWriter = (*Target)(nil)

// New returns a redis target. It connects to nothing until asked.
func New(s providers.Settings) (*Target, error) {
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Target{logger: logger.Named("redis")}, nil
}

// targetBlock is a decoded target "redis" block.
type targetBlock struct {
	address string
	tls     bool
	mode    string
	// username is the ACL user whose password is the secret: "default"
	// when the block names none; "" in requirepass mode.
	username string
	// cfg is read again for the admin login, which only writes need: a plan
	// may run without the admin password.
	cfg blockConfig
}

func parseTarget(v cty.Value) (*targetBlock, error) {
	cfg, err := newBlockConfig(v)
	if err != nil {
		return nil, err
	}
	b := &targetBlock{cfg: cfg}
	if b.address, err = cfg.string("address"); err != nil {
		return nil, err
	}
	if b.address == "" {
		return nil, errors.New("address is required")
	}
	if b.tls, err = cfg.bool("tls"); err != nil {
		return nil, err
	}
	if b.mode, err = cfg.string("mode"); err != nil {
		return nil, err
	}
	if b.username, err = cfg.string("username"); err != nil {
		return nil, err
	}
	switch b.mode {
	case "", ModeACL:
		b.mode = ModeACL
		if b.username == "" {
			b.username = "default"
		}
	case ModeRequirePass:
		if b.username != "" {
			return nil, errors.New("username is not used in requirepass mode")
		}
	default:
		return nil, fmt.Errorf("mode %q is not %q or %q", b.mode, ModeACL, ModeRequirePass)
	}
	return b, nil
}

// String names the block's password for errors and logs.
func (b *targetBlock) String() string {
	if b.mode == ModeRequirePass {
		return "redis requirepass at " + b.address
	}
	return fmt.Sprintf("redis user %s at %s", b.username, b.address)
}

// login returns the login of the rotated password with value v.
func (b *targetBlock) login(v sensitive.Value) login {
	return login{username: b.username, password: v}
}

// admin returns the block's admin login, or false when it names none.
func (b *targetBlock) admin() (login, bool, error) {
	user, err := b.cfg.string("admin_username")
	if err != nil {
		return login{}, false, err
	}
	password, err := b.cfg.string("admin_password")
	if err != nil {
		return login{}, false, err
	}
	if user == "" && password == "" {
		return login{}, false, nil
	}
	return login{username: user, password: sensitive.New(password)}, true, nil
}

// connect logs in to change the server: as the block's admin when it names
// one, else with each of values in turn as the rotated password itself,
// which works only where that login may change its own password. The
// admin password is added to secrets, for redact.
func (b *targetBlock) connect(ctx context.Context, secrets *[]sensitive.Value, values ...sensitive.Value) (*goredis.Client, error) {
	admin, ok, err := b.admin()
	if err != nil {
		return nil, err
	}
	if ok {
		*secrets = append(*secrets, admin.password)
		return b.adminClient(ctx, admin)
	}
	tried := false
	for _, v := range values {
		if v.IsEmpty() {
			continue
		}
		tried = true
		c := newClient(b.address, b.tls, b.login(v))
		err := c.Ping(ctx).Err()
		if err == nil {
			return c, nil
		}
		c.Close()
		if !isAuthError(err) {
			return nil, fmt.Errorf("log in: %w", err)
		}
	}
	if !tried {
		return nil, errors.New("no admin_password and no value to log in with")
	}
	return nil, errors.New("no admin_password, and neither the old nor the new value logs in: set admin_username and admin_password to a user allowed to change passwords")
}

// adminClient logs in as admin and returns the connection.
func (b *targetBlock) adminClient(ctx context.Context, admin login) (*goredis.Client, error) {
	c := newClient(b.address, b.tls, admin)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		who := admin.username
		if who == "" {
			who = "default"
		}
		return nil, fmt.Errorf("admin login as %s: %w", who, err)
	}
	return c, nil
}

// errNoSuchUser is the error for an ACL user that does not exist.
func errNoSuchUser(user string) error {
	return fmt.Errorf("no such ACL user: create it with its permissions first (ACL SETUSER %s on ~<keys> +<commands>); rotplan sets passwords, not permissions", user)
}

// Observe probes each item with a login on a fresh connection: AUTH with
// the store's current value, then PING. A refused login holds another
// value. In requirepass mode a server that also answers without any
// password holds none.
//
// In acl mode with an admin login, Observe also reads the user with ACL
// GETUSER and counts as Unknown each of its passwords that is neither the
// current nor the previous value, and a nopass user (it takes any password)
// as one. Without an admin login (a plan with the user's own value only) it
// cannot read the user's passwords, and Unknown stays 0.
//
// With an empty Current (the secret is about to be created), acl mode reads
// the user: HoldsNothing when it has no password, HoldsOther with Unknown
// counting those it has, an error when there is no such user; without an
// admin login it cannot tell (HoldsUnknown). requirepass mode logs in
// without a password: HoldsNothing when the server answers, HoldsOther when
// it asks for one.
//
// Items that share an address and admin login share one admin connection.
// Errors never carry a value.
func (t *Target) Observe(ctx context.Context, req providers.ObserveRequest) (*providers.ObserveResponse, error) {
	resp := &providers.ObserveResponse{Results: make([]providers.Observation, len(req.Items))}
	admins := &adminConns{}
	defer admins.close()
	for i, item := range req.Items {
		if err := ctx.Err(); err != nil {
			resp.Results[i].Err = err
			continue
		}
		resp.Results[i] = t.observe(ctx, item, admins)
	}
	return resp, nil
}

func (t *Target) observe(ctx context.Context, item providers.ObserveItem, admins *adminConns) providers.Observation {
	b, err := parseTarget(item.Config)
	if err != nil {
		return providers.Observation{Err: fmt.Errorf("redis target %s: %w", item.Target, err)}
	}
	if b.mode == ModeRequirePass {
		return observeRequirePass(ctx, b, item)
	}
	return t.observeACL(ctx, b, item, admins)
}

// observeRequirePass tells whether the server's one password is Current.
// There is no second password, so Unknown is always 0.
func observeRequirePass(ctx context.Context, b *targetBlock, item providers.ObserveItem) providers.Observation {
	// A server without a password takes any: it holds none.
	err := ping(ctx, b.address, b.tls, login{})
	switch {
	case err == nil:
		return providers.Observation{Holds: providers.HoldsNothing}
	case !isAuthError(err):
		return providers.Observation{Err: fmt.Errorf("%s: login probe: %w", b, redact(err, item.Current))}
	case item.Current.IsEmpty():
		return providers.Observation{Holds: providers.HoldsOther}
	}
	err = ping(ctx, b.address, b.tls, login{password: item.Current})
	switch {
	case isAuthError(err):
		return providers.Observation{Holds: providers.HoldsOther}
	case err != nil:
		return providers.Observation{Err: fmt.Errorf("%s: login probe: %w", b, redact(err, item.Current))}
	}
	return providers.Observation{Holds: providers.HoldsCurrent}
}

// observeACL tells whether the user takes Current, by logging in with it,
// and, with an admin login, counts the user's passwords rotplan did not
// make.
func (t *Target) observeACL(ctx context.Context, b *targetBlock, item providers.ObserveItem, admins *adminConns) providers.Observation {
	var obs providers.Observation
	if !item.Current.IsEmpty() {
		err := ping(ctx, b.address, b.tls, b.login(item.Current))
		switch {
		case isAuthError(err):
			obs.Holds = providers.HoldsOther
		case err != nil:
			return providers.Observation{Err: fmt.Errorf("%s: login probe: %w", b, redact(err, item.Current))}
		default:
			obs.Holds = providers.HoldsCurrent
		}
	}
	admin, ok, err := b.admin()
	if err != nil {
		// An admin_password from an env() that a plan's environment does
		// not set: the plan goes on without it.
		t.logger.Debug("no admin login to read the user's passwords with", "address", b.address, "user", b.username, "reason", err)
		ok = false
	}
	if !ok {
		return obs
	}
	c, err := admins.get(ctx, b, admin)
	if err != nil {
		return providers.Observation{Err: fmt.Errorf("%s: %w", b, redact(err, item.Current, item.Previous, admin.password))}
	}
	u, err := getUser(ctx, c, b.username)
	if err != nil {
		hint := ""
		if goredis.IsPermissionError(err) {
			hint = " (rotplan's admin login needs +acl|getuser to tell which passwords the user has)"
		}
		return providers.Observation{Err: fmt.Errorf("%s: acl getuser: %w%s", b, redact(err, item.Current, item.Previous, admin.password), hint)}
	}
	if u == nil {
		if item.Current.IsEmpty() {
			return providers.Observation{Err: fmt.Errorf("%s: %w", b, errNoSuchUser(b.username))}
		}
		// The probe was refused: HoldsOther, and Deliver says what to do.
		return obs
	}
	obs.Unknown = u.besides(item.Current, item.Previous)
	if item.Current.IsEmpty() {
		obs.Holds = providers.HoldsNothing
		if obs.Unknown > 0 {
			obs.Holds = providers.HoldsOther
		}
	}
	if u.nopass {
		t.logger.Warn("the ACL user is flagged nopass and accepts any password; counted as one credential rotplan did not make, which retire removes", "address", b.address, "user", b.username)
	}
	return obs
}

// adminConns holds the admin connections of one Observe, one per address
// and admin login, closed when it ends. A login that failed is not tried
// again.
type adminConns struct {
	conns []adminConn
}

type adminConn struct {
	address  string
	tls      bool
	admin    login
	c        *goredis.Client
	loginErr error
}

// get returns the connection to b's server as admin, logging in the first
// time.
func (a *adminConns) get(ctx context.Context, b *targetBlock, admin login) (*goredis.Client, error) {
	for _, ac := range a.conns {
		if ac.address == b.address && ac.tls == b.tls && ac.admin.username == admin.username && ac.admin.password.Equal(admin.password) {
			return ac.c, ac.loginErr
		}
	}
	c, err := b.adminClient(ctx, admin)
	a.conns = append(a.conns, adminConn{address: b.address, tls: b.tls, admin: admin, c: c, loginErr: err})
	return c, err
}

func (a *adminConns) close() {
	for _, ac := range a.conns {
		if ac.c != nil {
			ac.c.Close()
		}
	}
}

// Deliver adds each item's Value to its password. In acl mode it goes to
// the user with ACL SETUSER <user> #<sha256>, beside the passwords the user
// already has, so Previous keeps working until Retire; the user must exist
// and be enabled: rotplan sets passwords, not permissions. In requirepass
// mode it replaces the server's password with CONFIG SET requirepass, and
// the old one stops working at once. A password already in place is
// skipped. The change is then saved where the server keeps it (ACL SAVE,
// else CONFIG REWRITE), so a restart does not undo it.
func (t *Target) Deliver(ctx context.Context, req providers.DeliverRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, req.Items, opDeliver)
}

// Revert undoes a Deliver: each item's Value (the old password) works again
// and Previous (the failed candidate) no longer does. In acl mode the user
// gets #<old> back if it lost it and loses !<candidate>; in requirepass mode
// the server's password is set back to the old one.
func (t *Target) Revert(ctx context.Context, req providers.RevertRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, req.Items, opRevert)
}

// Retire leaves each item's Value the user's only password once the grace
// of Previous is over: in acl mode ACL SETUSER <user> resetpass #<sha256>,
// one command that removes Previous and every password rotplan did not make
// (and ends nopass) while keeping the current one. It is refused while the
// user does not take the current password, and skipped when that is the
// only one. In requirepass mode there is nothing to do: the old password
// stopped working at Deliver.
func (t *Target) Retire(ctx context.Context, req providers.RetireRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, req.Items, opRetire)
}

type op int

const (
	opDeliver op = iota
	opRevert
	opRetire
)

func (t *Target) write(ctx context.Context, items []providers.WriteItem, o op) (*providers.WriteResponse, error) {
	resp := &providers.WriteResponse{Results: make([]providers.WriteResult, len(items))}
	for i, item := range items {
		// Once ctx is done, every item left says so, and the ones before
		// keep their results.
		if err := ctx.Err(); err != nil {
			resp.Results[i].Err = err
			continue
		}
		b, err := parseTarget(item.Config)
		if err != nil {
			resp.Results[i].Err = fmt.Errorf("redis target %s: %w", item.Target, err)
			continue
		}
		secrets := []sensitive.Value{item.Value, item.Previous}
		var skipped bool
		if b.mode == ModeRequirePass {
			skipped, err = t.writeRequirePass(ctx, b, item, o, &secrets)
		} else {
			skipped, err = t.writeACL(ctx, b, item, o, &secrets)
		}
		if err != nil {
			hint := ""
			if goredis.IsPermissionError(err) {
				hint = permissionHint[b.mode]
			}
			err = fmt.Errorf("%s: %w%s", b, redact(err, secrets...), hint)
		}
		resp.Results[i] = providers.WriteResult{Skipped: skipped, Err: err}
	}
	return resp, nil
}

// permissionHint says, after a refused command, what the login rotplan
// changes passwords with must be allowed.
var permissionHint = map[string]string{
	ModeACL:         " (rotplan's login needs +acl|getuser, +acl|setuser and, to save the change, +acl|save or +config|rewrite)",
	ModeRequirePass: " (rotplan's login needs +config|set and, to save the change, +acl|save or +config|rewrite)",
}

// writeACL carries out o on an ACL user. Passwords go to the server only as
// their SHA-256 (#hash to add, !hash to remove).
func (t *Target) writeACL(ctx context.Context, b *targetBlock, item providers.WriteItem, o op, secrets *[]sensitive.Value) (bool, error) {
	// Log in with the value most likely to work first: the old one before
	// Deliver, the current (or restored) one after.
	values := []sensitive.Value{item.Value, item.Previous}
	if o == opDeliver {
		values = []sensitive.Value{item.Previous, item.Value}
	}
	c, err := b.connect(ctx, secrets, values...)
	if err != nil {
		return false, err
	}
	defer c.Close()

	u, err := getUser(ctx, c, b.username)
	if err != nil {
		return false, fmt.Errorf("acl getuser: %w", err)
	}
	if u == nil {
		return false, errNoSuchUser(b.username)
	}

	var rules []string
	switch o {
	case opDeliver:
		if item.Value.IsEmpty() {
			return false, errors.New("no value to deliver")
		}
		if !u.on {
			return false, fmt.Errorf("the user is disabled: enable it first (ACL SETUSER %s on) if it should log in", b.username)
		}
		h := passwordHash(item.Value)
		if u.passwords[h] {
			return true, nil
		}
		rules = append(rules, "#"+h)
	case opRevert:
		if !item.Value.IsEmpty() {
			if h := passwordHash(item.Value); !u.passwords[h] {
				rules = append(rules, "#"+h)
			}
		}
		if !item.Previous.IsEmpty() && !item.Previous.Equal(item.Value) {
			if h := passwordHash(item.Previous); u.passwords[h] {
				rules = append(rules, "!"+h)
			}
		}
	case opRetire:
		// Everything but the current password goes: the previous one, and
		// any that rotplan did not make.
		if u.besides(item.Value) == 0 {
			return true, nil
		}
		if item.Value.IsEmpty() || !u.takes(item.Value) {
			return false, errors.New("refusing to remove the user's other passwords (the previous one and any rotplan did not make): the user does not take the current one, and would be left without a password its clients use; deliver the current value first")
		}
		// In one command, so the user is never without the current
		// password; resetpass also ends nopass.
		rules = append(rules, "resetpass", "#"+passwordHash(item.Value))
	}
	if len(rules) == 0 {
		return true, nil
	}
	if err := setUser(ctx, c, b.username, rules...); err != nil {
		return false, fmt.Errorf("acl setuser: %w", err)
	}
	if err := persist(ctx, c); err != nil {
		return false, err
	}
	t.logger.Debug("changed ACL user's passwords", "address", b.address, "user", b.username, "op", o.String(), "rules", len(rules))
	return false, nil
}

// writeRequirePass carries out o on a server's requirepass: CONFIG SET
// sends the password itself, as Redis has no other way to set it.
func (t *Target) writeRequirePass(ctx context.Context, b *targetBlock, item providers.WriteItem, o op, secrets *[]sensitive.Value) (bool, error) {
	if o == opRetire {
		// One password: the previous stopped working when the current was
		// set.
		return true, nil
	}
	// Deliver sets Value, the new password; Revert sets Value, the old one
	// back. Either way the server holds Previous before.
	want := item.Value
	if want.IsEmpty() {
		return false, errors.New("no value to set")
	}
	err := ping(ctx, b.address, b.tls, login{password: want})
	switch {
	case err == nil:
		// In place, unless the server takes any password at all.
		if ping(ctx, b.address, b.tls, login{}) != nil {
			return true, nil
		}
	case !isAuthError(err):
		return false, fmt.Errorf("login probe: %w", err)
	}
	c, err := b.connect(ctx, secrets, item.Previous, item.Value)
	if err != nil {
		return false, err
	}
	defer c.Close()
	if err := c.ConfigSet(ctx, "requirepass", want.Reveal()).Err(); err != nil {
		return false, fmt.Errorf("config set requirepass: %w", err)
	}
	if err := persist(ctx, c); err != nil {
		return false, err
	}
	t.logger.Debug("set requirepass", "address", b.address, "op", o.String())
	return false, nil
}

func (o op) String() string {
	switch o {
	case opDeliver:
		return "deliver"
	case opRevert:
		return "revert"
	case opRetire:
		return "retire"
	}
	return "unknown"
}

// aclUser is what ACL GETUSER says of a user that rotplan needs.
type aclUser struct {
	on bool
	// nopass is set when the user takes any password; it then has none
	// in passwords.
	nopass bool
	// passwords holds the SHA-256 hex of each of the user's passwords.
	passwords map[string]bool
}

// takes reports whether the user's passwords let v in (whether or not the
// user is enabled).
func (u *aclUser) takes(v sensitive.Value) bool {
	return u.nopass || u.passwords[passwordHash(v)]
}

// besides counts the credentials the user has other than values: each
// other password, and nopass as one. An empty value is no credential.
func (u *aclUser) besides(values ...sensitive.Value) int {
	known := map[string]bool{}
	for _, v := range values {
		if !v.IsEmpty() {
			known[passwordHash(v)] = true
		}
	}
	n := 0
	for h := range u.passwords {
		if !known[h] {
			n++
		}
	}
	if u.nopass {
		n++
	}
	return n
}

// getUser reads a user's flags and password hashes; nil when there is no
// such user.
func getUser(ctx context.Context, c *goredis.Client, name string) (*aclUser, error) {
	res, err := c.Do(ctx, "ACL", "GETUSER", name).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// RESP2 (newClient asks for it): a flat list of names and values.
	fields, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected reply of type %T", res)
	}
	u := &aclUser{passwords: map[string]bool{}}
	for i := 0; i+1 < len(fields); i += 2 {
		name, _ := fields[i].(string)
		values, _ := fields[i+1].([]any)
		for _, v := range values {
			s, _ := v.(string)
			switch name {
			case "flags":
				switch s {
				case "on":
					u.on = true
				case "nopass":
					u.nopass = true
				}
			case "passwords":
				u.passwords[s] = true
			}
		}
	}
	return u, nil
}

// setUser applies ACL rules to an existing user. Redis quotes a rule it
// rejects in its error: callers redact it.
func setUser(ctx context.Context, c *goredis.Client, name string, rules ...string) error {
	args := []any{"ACL", "SETUSER", name}
	for _, r := range rules {
		args = append(args, r)
	}
	return c.Do(ctx, args...).Err()
}

// persist saves a change of passwords where the server keeps its
// configuration, so a restart does not undo it: the ACL file when the
// server has one (ACL SAVE), else its configuration file (CONFIG REWRITE).
// A server with neither keeps everything in memory, and there is nothing to
// save.
func persist(ctx context.Context, c *goredis.Client) error {
	const lost = "changed in memory but not saved, so a restart would undo it"
	err := c.Do(ctx, "ACL", "SAVE").Err()
	if err == nil {
		return nil
	}
	// Redis 5 has no ACL command at all.
	if !strings.Contains(err.Error(), "not configured to use an ACL file") && !strings.Contains(strings.ToLower(err.Error()), "unknown command") {
		return fmt.Errorf("%s: acl save: %w", lost, err)
	}
	err = c.Do(ctx, "CONFIG", "REWRITE").Err()
	if err == nil || strings.Contains(err.Error(), "without a config file") {
		return nil
	}
	return fmt.Errorf("%s: config rewrite: %w", lost, err)
}
