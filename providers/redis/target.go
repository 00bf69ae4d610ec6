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
	// seeds are the nodes the block lists: address, then nodes, each once.
	seeds []string
	// discover is DiscoverNone, DiscoverReplicas or DiscoverCluster.
	discover string
	// save is how a change is saved on each node: SaveAuto, SaveACL,
	// SaveConfigRewrite or SaveNone.
	save string
	tls  bool
	mode string
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
	address, err := cfg.string("address")
	if err != nil {
		return nil, err
	}
	nodes, err := cfg.strings("nodes")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, n := range append([]string{address}, nodes...) {
		if n != "" && !seen[nodeKey(n)] {
			seen[nodeKey(n)] = true
			b.seeds = append(b.seeds, n)
		}
	}
	if len(b.seeds) == 0 {
		return nil, errors.New("address or nodes is required")
	}
	if b.discover, err = cfg.string("discover"); err != nil {
		return nil, err
	}
	switch b.discover {
	case "":
		b.discover = DiscoverNone
	case DiscoverNone, DiscoverReplicas, DiscoverCluster:
	default:
		return nil, fmt.Errorf("discover %q is not %q, %q or %q", b.discover, DiscoverNone, DiscoverReplicas, DiscoverCluster)
	}
	if b.save, err = cfg.string("save"); err != nil {
		return nil, err
	}
	switch b.save {
	case "":
		b.save = SaveAuto
	case SaveAuto, SaveACL, SaveConfigRewrite, SaveNone:
	default:
		return nil, fmt.Errorf("save %q is not %q, %q, %q or %q", b.save, SaveAuto, SaveACL, SaveConfigRewrite, SaveNone)
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

// String names the block's password for errors and logs: the user or
// requirepass, the listed nodes, and the discovery that adds others.
func (b *targetBlock) String() string {
	where := "at " + nodeNames(b.seeds)
	if b.discover != DiscoverNone {
		where += " (discover " + b.discover + ")"
	}
	if b.mode == ModeRequirePass {
		return "redis requirepass " + where
	}
	return fmt.Sprintf("redis user %s %s", b.username, where)
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

// connect logs in to node to change it: as the block's admin when it
// names one, else with each of values in turn as the rotated password
// itself, which works only where that login may change its own password.
func (b *targetBlock) connect(ctx context.Context, s *session, node string, values ...sensitive.Value) (*goredis.Client, error) {
	admin, ok, err := b.admin()
	if err != nil {
		return nil, err
	}
	if ok {
		return b.adminClient(ctx, s, node, admin)
	}
	tried := false
	for _, v := range values {
		if v.IsEmpty() {
			continue
		}
		tried = true
		c, err := s.client(ctx, node, b.tls, b.login(v))
		if err == nil {
			return c, nil
		}
		if !isAuthError(err) {
			return nil, fmt.Errorf("log in: %w", err)
		}
	}
	if !tried {
		return nil, errors.New("no admin_password and no value to log in with")
	}
	return nil, errors.New("no admin_password, and neither the old nor the new value logs in: set admin_username and admin_password to a user allowed to change passwords")
}

// adminClient returns a connection to node logged in as admin.
func (b *targetBlock) adminClient(ctx context.Context, s *session, node string, admin login) (*goredis.Client, error) {
	c, err := s.client(ctx, node, b.tls, admin)
	if err != nil {
		who := admin.username
		if who == "" {
			who = "default"
		}
		return nil, fmt.Errorf("admin login as %s: %w", who, err)
	}
	return c, nil
}

// errNoLogin says that discovery had no login to use: no admin login, and
// no value to log in with.
var errNoLogin = errors.New("no admin login and no current value to log in with")

// observeDialer logs in for Observe's discovery: as the admin when the
// block names one, else as the rotated user with the current value (in
// requirepass mode, with no password when the server asks for none).
func (b *targetBlock) observeDialer(s *session, admin login, hasAdmin bool, current sensitive.Value) dialer {
	return func(ctx context.Context, node string) (*goredis.Client, error) {
		if hasAdmin {
			return b.adminClient(ctx, s, node, admin)
		}
		if current.IsEmpty() {
			return nil, errNoLogin
		}
		c, err := s.client(ctx, node, b.tls, b.login(current))
		if err != nil && b.mode == ModeRequirePass {
			if open, openErr := s.client(ctx, node, b.tls, login{}); openErr == nil {
				return open, nil
			}
		}
		return c, err
	}
}

// errNoSuchUser is the error for an ACL user that does not exist.
func errNoSuchUser(user string) error {
	return fmt.Errorf("no such ACL user: create it with its permissions first (ACL SETUSER %s on ~<keys> +<commands>); rotplan sets passwords, not permissions", user)
}

// notChanged is the error of a change that went to no node, since some
// could not take it; on a block of one node, that node's own error.
func notChanged(nodes []string, errs nodeErrors) error {
	if len(nodes) == 1 && len(errs) == 1 {
		return errs[0].err
	}
	return fmt.Errorf("changed on no node, as %d of %d cannot take the change: %w", len(errs), len(nodes), errs)
}

// notEverywhere is the error of a change that did not land on every node.
func notEverywhere(nodes []string, errs nodeErrors) error {
	if len(nodes) == 1 && len(errs) == 1 {
		return errs[0].err
	}
	return fmt.Errorf("not changed on %d of %d nodes: %w", len(errs), len(nodes), errs)
}

// unreadable is the error of an Observe that could not read every node.
func unreadable(nodes []string, errs nodeErrors) error {
	if len(nodes) == 1 && len(errs) == 1 {
		return errs[0].err
	}
	return fmt.Errorf("%d of %d nodes could not be read: %w", len(errs), len(nodes), errs)
}

// Observe finds each item's nodes and probes each with a login on a fresh
// connection: AUTH with the store's current value, then PING. The item
// holds the current value only when every node takes it; when some node
// refuses it, the item holds another, and the log names the nodes that
// differ. A node that cannot be reached is an error naming it. In
// requirepass mode a server that also answers without any password holds
// none.
//
// In acl mode with an admin login, Observe also reads the user on every
// node with ACL GETUSER and counts as Unknown each password that is
// neither the current nor the previous value, once however many nodes hold
// it, and a nopass user on any node as one. Without an admin login (a plan
// with the user's own value only) it cannot read the user's passwords, and
// Unknown stays 0.
//
// With an empty Current (the secret is about to be created), acl mode reads
// the user on each node: HoldsNothing when it has no password anywhere,
// HoldsOther with Unknown counting those it has, an error when some node
// has no such user; without an admin login it cannot tell (HoldsUnknown).
// requirepass mode logs in without a password: HoldsNothing when every
// node answers, HoldsOther when one asks for a password.
//
// Discovery (discover = "replicas" or "cluster") logs in as the admin, or
// without one as the rotated user with the current value: a node that
// refuses that login holds another value.
//
// Errors never carry a value.
func (t *Target) Observe(ctx context.Context, req providers.ObserveRequest) (*providers.ObserveResponse, error) {
	resp := &providers.ObserveResponse{Results: make([]providers.Observation, len(req.Items))}
	s := &session{}
	defer s.close()
	for i, item := range req.Items {
		if err := ctx.Err(); err != nil {
			resp.Results[i].Err = err
			continue
		}
		resp.Results[i] = t.observe(ctx, s, item)
	}
	return resp, nil
}

func (t *Target) observe(ctx context.Context, s *session, item providers.ObserveItem) providers.Observation {
	b, err := parseTarget(item.Config)
	if err != nil {
		return providers.Observation{Err: fmt.Errorf("redis target %s: %w", item.Target, err)}
	}
	secrets := []sensitive.Value{item.Current, item.Previous}
	admin, hasAdmin, err := b.admin()
	if err != nil {
		// An admin_password from an env() that a plan's environment does
		// not set: the plan goes on without it.
		t.logger.Debug("no admin login to read the user's passwords with", "target", b.String(), "reason", err)
		hasAdmin = false
	}
	if hasAdmin {
		secrets = append(secrets, admin.password)
	}
	fail := func(err error) providers.Observation {
		return providers.Observation{Err: fmt.Errorf("%s: %w", b, redact(err, secrets...))}
	}

	nodes, err := b.nodes(ctx, b.observeDialer(s, admin, hasAdmin, item.Current))
	switch {
	case errors.Is(err, errNoLogin):
		return providers.Observation{Holds: providers.HoldsUnknown}
	case err != nil && !hasAdmin && isAuthError(err):
		t.logger.Info("a node refuses the current value, so discovery cannot log in there; it holds another value", "target", b.String(), "error", redact(err, secrets...))
		return providers.Observation{Holds: providers.HoldsOther}
	case err != nil:
		return fail(err)
	}

	var (
		errs    nodeErrors
		holds   []providers.Holding
		differ  []string
		unknown = map[string]bool{}
		nopass  bool
	)
	for _, node := range nodes {
		var h providers.Holding
		var u *aclUser
		var err error
		if b.mode == ModeRequirePass {
			h, err = observeRequirePass(ctx, b, node, item.Current)
		} else {
			h, u, err = observeACL(ctx, s, b, node, item, admin, hasAdmin)
		}
		if err != nil {
			errs = append(errs, nodeError{node, err})
			continue
		}
		holds = append(holds, h)
		if h != providers.HoldsCurrent {
			differ = append(differ, node)
		}
		if u != nil {
			for pw := range u.others(item.Current, item.Previous) {
				unknown[pw] = true
			}
			if u.nopass {
				nopass = true
				t.logger.Warn("the ACL user is flagged nopass and accepts any password; counted as one credential rotplan did not make, which retire removes", "node", node, "user", b.username)
			}
		}
	}
	if len(errs) > 0 {
		return fail(unreadable(nodes, errs))
	}
	obs := providers.Observation{Holds: holds[0], Unknown: len(unknown)}
	if nopass {
		obs.Unknown++
	}
	for _, h := range holds[1:] {
		if h != obs.Holds {
			obs.Holds = providers.HoldsOther
		}
	}
	if len(nodes) > 1 && obs.Holds == providers.HoldsOther && !item.Current.IsEmpty() && len(differ) < len(nodes) {
		t.logger.Warn("not every node takes the store's current value", "target", b.String(), "differ", nodeNames(differ))
	}
	return obs
}

// observeRequirePass tells whether a node's one password is current.
// There is no second password, so nothing is ever Unknown.
func observeRequirePass(ctx context.Context, b *targetBlock, node string, current sensitive.Value) (providers.Holding, error) {
	// A server without a password takes any: it holds none.
	err := ping(ctx, node, b.tls, login{})
	switch {
	case err == nil:
		return providers.HoldsNothing, nil
	case !isAuthError(err):
		return 0, fmt.Errorf("login probe: %w", err)
	case current.IsEmpty():
		return providers.HoldsOther, nil
	}
	err = ping(ctx, node, b.tls, login{password: current})
	switch {
	case isAuthError(err):
		return providers.HoldsOther, nil
	case err != nil:
		return 0, fmt.Errorf("login probe: %w", err)
	}
	return providers.HoldsCurrent, nil
}

// observeACL tells whether the user takes the current value on node, by
// logging in with it, and, with an admin login, reads the user's
// passwords there.
func observeACL(ctx context.Context, s *session, b *targetBlock, node string, item providers.ObserveItem, admin login, hasAdmin bool) (providers.Holding, *aclUser, error) {
	var holds providers.Holding
	if !item.Current.IsEmpty() {
		err := ping(ctx, node, b.tls, b.login(item.Current))
		switch {
		case isAuthError(err):
			holds = providers.HoldsOther
		case err != nil:
			return 0, nil, fmt.Errorf("login probe: %w", err)
		default:
			holds = providers.HoldsCurrent
		}
	}
	if !hasAdmin {
		return holds, nil, nil
	}
	c, err := b.adminClient(ctx, s, node, admin)
	if err != nil {
		return 0, nil, err
	}
	u, err := getUser(ctx, c, b.username)
	if err != nil {
		hint := ""
		if goredis.IsPermissionError(err) {
			hint = " (rotplan's admin login needs +acl|getuser to tell which passwords the user has)"
		}
		return 0, nil, fmt.Errorf("acl getuser: %w%s", err, hint)
	}
	if u == nil {
		if item.Current.IsEmpty() {
			return 0, nil, errNoSuchUser(b.username)
		}
		// The probe was refused: another value, and Deliver says what to do.
		return holds, nil, nil
	}
	if item.Current.IsEmpty() {
		holds = providers.HoldsNothing
		if u.besides(item.Previous) > 0 {
			holds = providers.HoldsOther
		}
	}
	return holds, u, nil
}

// Deliver adds each item's Value to its password on every node of the
// block. In acl mode it goes to the user with ACL SETUSER <user>
// #<sha256>, beside the passwords the user already has, so Previous keeps
// working until Retire; the user must exist and be enabled on every node:
// rotplan sets passwords, not permissions. In requirepass mode it replaces
// each node's password with CONFIG SET requirepass, and the old one stops
// working at once. A node that already has the password is skipped, and
// the item is skipped when every node is.
//
// Every node is read first (logged in to, its user read), and when one
// cannot take the change none is changed and the item fails naming it.
// Then each node is changed, checked (ACL GETUSER, or a login with the new
// requirepass) and saved as the block's save says; a node that fails there
// fails the item, naming it, and apply's rollback reverts every node.
func (t *Target) Deliver(ctx context.Context, req providers.DeliverRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, req.Items, opDeliver)
}

// Revert undoes a Deliver on every node: each item's Value (the old
// password) works again and Previous (the failed candidate) no longer does.
// In acl mode the user gets #<old> back if it lost it and loses
// !<candidate>; in requirepass mode the server's password is set back to
// the old one. A node that cannot be reached does not stop the others from
// being reverted; the item then fails naming it.
func (t *Target) Revert(ctx context.Context, req providers.RevertRequest) (*providers.WriteResponse, error) {
	return t.write(ctx, req.Items, opRevert)
}

// Retire leaves each item's Value the user's only password on every node
// once the grace of Previous is over: in acl mode ACL SETUSER <user>
// resetpass #<sha256>, one command that removes Previous and every
// password rotplan did not make (and ends nopass) while keeping the current
// one. It is refused, on every node, while some node's user does not take
// the current password, and skipped on a node where that is the only one.
// In requirepass mode there is nothing to do: the old password stopped
// working at Deliver.
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
	s := &session{}
	defer s.close()
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
		if admin, ok, _ := b.admin(); ok {
			secrets = append(secrets, admin.password)
		}
		var skipped bool
		if b.mode == ModeRequirePass {
			skipped, err = t.writeRequirePass(ctx, s, b, item, o)
		} else {
			skipped, err = t.writeACL(ctx, s, b, item, o)
		}
		if err != nil {
			hint := ""
			if goredis.IsPermissionError(err) {
				var se *saveError
				hint = b.permissionHint(errors.As(err, &se))
			}
			err = fmt.Errorf("%s: %w%s", b, redact(err, secrets...), hint)
		}
		resp.Results[i] = providers.WriteResult{Skipped: skipped, Err: err}
	}
	return resp, nil
}

// permissionHint says, after a refused command, what the login rotplan
// changes passwords with must be allowed; saving, when what was refused
// was saving the change.
func (b *targetBlock) permissionHint(saving bool) string {
	need := []string{"+acl|getuser", "+acl|setuser"}
	if b.mode == ModeRequirePass {
		need = []string{"+config|set", "+config|get"}
	}
	switch b.discover {
	case DiscoverReplicas:
		need = append(need, "+info")
	case DiscoverCluster:
		need = append(need, "+cluster|nodes")
	}
	hint := " (rotplan's login needs " + strings.Join(need, ", ")
	switch b.save {
	case SaveAuto:
		hint += " and, to save the change, +acl|save or +config|rewrite"
	case SaveACL:
		hint += " and, to save the change, +acl|save"
	case SaveConfigRewrite:
		if b.mode == ModeACL {
			hint += " and, to save the change, +config|get and +config|rewrite"
		} else {
			hint += " and, to save the change, +config|rewrite"
		}
	}
	if saving {
		hint += `; where the server may not save, as on managed Redis, set save = "none"`
	}
	return hint + ")"
}

// writeACL carries out o on an ACL user on every node. Passwords go to the
// server only as their SHA-256 (#hash to add, !hash to remove).
func (t *Target) writeACL(ctx context.Context, s *session, b *targetBlock, item providers.WriteItem, o op) (bool, error) {
	// Log in with the value most likely to work first: the old one before
	// Deliver, the current (or restored) one after.
	values := []sensitive.Value{item.Value, item.Previous}
	if o == opDeliver {
		values = []sensitive.Value{item.Previous, item.Value}
	}
	dial := func(ctx context.Context, node string) (*goredis.Client, error) {
		return b.connect(ctx, s, node, values...)
	}
	nodes, err := b.nodes(ctx, dial)
	if err != nil {
		return false, err
	}

	// Read every node before changing any.
	type change struct {
		node  string
		c     *goredis.Client
		rules []string
	}
	var changes []change
	var errs nodeErrors
	for _, node := range nodes {
		c, err := dial(ctx, node)
		if err != nil {
			errs = append(errs, nodeError{node, err})
			continue
		}
		u, err := getUser(ctx, c, b.username)
		if err != nil {
			errs = append(errs, nodeError{node, fmt.Errorf("acl getuser: %w", err)})
			continue
		}
		if u == nil {
			errs = append(errs, nodeError{node, errNoSuchUser(b.username)})
			continue
		}
		rules, err := aclRules(b, item, o, u)
		if err != nil {
			errs = append(errs, nodeError{node, err})
			continue
		}
		if len(rules) > 0 {
			changes = append(changes, change{node, c, rules})
		}
	}
	// A revert puts back what it can: the nodes it cannot reach are
	// reported, not a reason to leave the others on the failed candidate.
	if len(errs) > 0 && o != opRevert {
		return false, notChanged(nodes, errs)
	}

	for _, ch := range changes {
		if err := setUser(ctx, ch.c, b.username, ch.rules...); err != nil {
			errs = append(errs, nodeError{ch.node, fmt.Errorf("acl setuser: %w", err)})
			continue
		}
		if err := checkACL(ctx, ch.c, b.username, item, o); err != nil {
			errs = append(errs, nodeError{ch.node, err})
			continue
		}
		if err := b.saveChange(ctx, ch.c); err != nil {
			errs = append(errs, nodeError{ch.node, err})
			continue
		}
		t.logger.Debug("changed ACL user's passwords", "node", ch.node, "user", b.username, "op", o.String(), "rules", len(ch.rules))
	}
	if len(errs) > 0 {
		return false, notEverywhere(nodes, errs)
	}
	return len(changes) == 0, nil
}

// aclRules returns the ACL SETUSER rules that carry out o on a node whose
// user is u: none when the node is as o would leave it, an error when o
// must not go ahead there.
func aclRules(b *targetBlock, item providers.WriteItem, o op, u *aclUser) ([]string, error) {
	var rules []string
	switch o {
	case opDeliver:
		if item.Value.IsEmpty() {
			return nil, errors.New("no value to deliver")
		}
		if !u.on {
			return nil, fmt.Errorf("the user is disabled: enable it first (ACL SETUSER %s on) if it should log in", b.username)
		}
		if h := passwordHash(item.Value); !u.passwords[h] {
			rules = append(rules, "#"+h)
		}
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
			return nil, nil
		}
		if item.Value.IsEmpty() || !u.takes(item.Value) {
			return nil, errors.New("refusing to remove the user's other passwords (the previous one and any rotplan did not make): the user does not take the current one, and would be left without a password its clients use; deliver the current value first")
		}
		// In one command, so the user is never without the current
		// password; resetpass also ends nopass.
		rules = append(rules, "resetpass", "#"+passwordHash(item.Value))
	}
	return rules, nil
}

// checkACL reads the user back after a change and fails unless it shows
// what o was to leave: the new password there (deliver), the old one back
// and the candidate gone (revert), the current one alone (retire).
func checkACL(ctx context.Context, c *goredis.Client, user string, item providers.WriteItem, o op) error {
	u, err := getUser(ctx, c, user)
	if err != nil {
		return fmt.Errorf("acl getuser after the change: %w", err)
	}
	if u == nil {
		return errors.New("the user is gone after the change")
	}
	var ok bool
	switch o {
	case opDeliver:
		ok = u.passwords[passwordHash(item.Value)]
	case opRevert:
		ok = (item.Value.IsEmpty() || u.passwords[passwordHash(item.Value)]) &&
			(item.Previous.IsEmpty() || item.Previous.Equal(item.Value) || !u.passwords[passwordHash(item.Previous)])
	case opRetire:
		ok = !u.nopass && len(u.passwords) == 1 && u.passwords[passwordHash(item.Value)]
	}
	if !ok {
		return fmt.Errorf("the user's passwords, read back with ACL GETUSER, do not show the %s", o)
	}
	return nil
}

// writeRequirePass carries out o on the requirepass of every node: CONFIG
// SET sends the password itself, as Redis has no other way to set it. A
// node whose masterauth was the password replaced gets the new one there
// too, so that it still logs in to its primary, whose password changes
// with it.
func (t *Target) writeRequirePass(ctx context.Context, s *session, b *targetBlock, item providers.WriteItem, o op) (bool, error) {
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
	dial := func(ctx context.Context, node string) (*goredis.Client, error) {
		return b.connect(ctx, s, node, item.Previous, item.Value)
	}
	nodes, err := b.nodes(ctx, dial)
	if err != nil {
		return false, err
	}

	type change struct {
		node string
		c    *goredis.Client
	}
	var changes []change
	var errs nodeErrors
	for _, node := range nodes {
		err := ping(ctx, node, b.tls, login{password: want})
		switch {
		case err == nil:
			// In place, unless the server takes any password at all.
			if ping(ctx, node, b.tls, login{}) != nil {
				continue
			}
		case !isAuthError(err):
			errs = append(errs, nodeError{node, fmt.Errorf("login probe: %w", err)})
			continue
		}
		c, err := dial(ctx, node)
		if err != nil {
			errs = append(errs, nodeError{node, err})
			continue
		}
		changes = append(changes, change{node, c})
	}
	if len(errs) > 0 && o != opRevert {
		return false, notChanged(nodes, errs)
	}

	for _, ch := range changes {
		if err := b.setRequirePass(ctx, ch.c, ch.node, want, item.Previous); err != nil {
			errs = append(errs, nodeError{ch.node, err})
			continue
		}
		t.logger.Debug("set requirepass", "node", ch.node, "op", o.String())
	}
	if len(errs) > 0 {
		return false, notEverywhere(nodes, errs)
	}
	return len(changes) == 0, nil
}

// setRequirePass sets node's requirepass to want, and its masterauth too
// where that was old; checks that want logs in; and saves the change.
func (b *targetBlock) setRequirePass(ctx context.Context, c *goredis.Client, node string, want, old sensitive.Value) error {
	if err := c.ConfigSet(ctx, "requirepass", want.Reveal()).Err(); err != nil {
		return fmt.Errorf("config set requirepass: %w", err)
	}
	if !old.IsEmpty() {
		auth, err := c.ConfigGet(ctx, "masterauth").Result()
		if err != nil {
			return fmt.Errorf("config get masterauth: %w", err)
		}
		if sensitive.New(auth["masterauth"]).Equal(old) {
			if err := c.ConfigSet(ctx, "masterauth", want.Reveal()).Err(); err != nil {
				return fmt.Errorf("config set masterauth: %w", err)
			}
		}
	}
	if err := ping(ctx, node, b.tls, login{password: want}); err != nil {
		return fmt.Errorf("login with the password just set: %w", err)
	}
	return b.saveChange(ctx, c)
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
	n := len(u.others(values...))
	if u.nopass {
		n++
	}
	return n
}

// others returns the hashes of the user's passwords other than values.
func (u *aclUser) others(values ...sensitive.Value) map[string]bool {
	known := map[string]bool{}
	for _, v := range values {
		if !v.IsEmpty() {
			known[passwordHash(v)] = true
		}
	}
	out := map[string]bool{}
	for h := range u.passwords {
		if !known[h] {
			out[h] = true
		}
	}
	return out
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
