package fly

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/rotplan/rotplan/internal/retry"
	"github.com/rotplan/rotplan/internal/sensitive"
)

// Deploying secrets: the Machines endpoints a restart-only deploy uses, as
// superfly/fly-go's flaps client calls them (flaps/flaps_machines.go,
// flaps_machines_wait.go) and Fly's Machines API reference documents them
// (fly.io/docs/machines/api/machines-resource):
//
//	GET    /v1/apps/{app}/machines                         → [{"id","state","region","instance_id","config":{...}},...]
//	GET    /v1/apps/{app}/machines/{id}                    → the Machine
//	POST   /v1/apps/{app}/machines/{id}/lease?ttl=N        → {"status":"success","data":{"nonce","version",...}}
//	       (with header fly-machine-lease-nonce: a refresh of that lease, fly-go's RefreshLease)
//	POST   /v1/apps/{app}/machines/{id}                    {"config":{...whole...},"region","skip_launch","min_secrets_version":N}
//	       (header fly-machine-lease-nonce)                → the Machine, with its new instance_id
//	GET    /v1/apps/{app}/machines/{id}/wait?version=I&instance_id=I&state=started&timeout=S → 200, or 408 after S seconds
//	DELETE /v1/apps/{app}/machines/{id}/lease (header fly-machine-lease-nonce)
//
// The wait names the instance as fly-go does since its Wait options
// (flaps/flaps_machines_wait.go, fly-go commit 0bcb397, March 2026):
// "version"; rotplan sends instance_id too, with the same value, for an
// API that predates it.
//
// This is what flyctl's `fly secrets set` does after storing the secrets
// (internal/command/secrets: DeploySecrets, a restart-only deploy): for
// each Machine of the app made by `fly deploy` it sends the Machine's own
// config back with min_secrets_version set to the version the secrets
// update answered, so the Machine restarts with at least those secrets.

// Deploy limits. A launched Machine must report started within
// startTimeout (flyctl's default --wait-timeout); each wait request asks
// the API to hold it at most maxWaitRequest, under the client's request
// timeout. A lease is taken for leaseTTL and refreshed while it is held
// (flyctl's deploys take 13 s leases and refresh them in the background,
// internal/machine/leasable_machine.go), so an apply that dies frees the
// Machine within leaseTTL rather than holding it for the whole start
// timeout.
const (
	startTimeout   = 5 * time.Minute
	maxWaitRequest = 20 * time.Second
	leaseTTL       = 60 * time.Second
	releaseTimeout = 10 * time.Second
)

// Metadata flyctl keys a Machine by (fly-go machine_types.go).
const (
	metaPlatformVersion = "fly_platform_version"
	metaProcessGroup    = "fly_process_group"
	platformV2          = "v2"
)

// machine is what rotplan reads of a Machine (fly-go's fly.Machine). Its
// config stays as the API sent it, to be sent back whole: an update
// replaces the entire config, and rotplan must change nothing in it.
type machine struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	Region     string `json:"region"`
	InstanceID string `json:"instance_id"`
	// Version is what fly-go's Wait used before instance_id when set.
	Version          string          `json:"version"`
	HostStatus       string          `json:"host_status"`
	Config           json.RawMessage `json:"config"`
	IncompleteConfig json.RawMessage `json:"incomplete_config"`
}

// current is the Machine's version, as fly-go's Wait picked it.
func (m *machine) current() string {
	if m.Version != "" {
		return m.Version
	}
	return m.InstanceID
}

// is reports whether the Machine's version is v, by either of the names
// the API gives it.
func (m *machine) is(v string) bool {
	return v != "" && (v == m.InstanceID || v == m.Version)
}

func (m *machine) hasConfig() bool {
	c := bytes.TrimSpace(m.Config)
	return len(c) > 0 && !bytes.Equal(c, []byte("null"))
}

// metadata is config.metadata (incomplete_config's when the host cannot
// give the whole config).
func (m *machine) metadata() map[string]string {
	raw := m.Config
	if !m.hasConfig() {
		raw = m.IncompleteConfig
	}
	var c struct {
		Metadata map[string]string `json:"metadata"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.Metadata
}

// active is false for a Machine being destroyed.
func (m *machine) active() bool {
	return m.State != "destroyed" && m.State != "destroying"
}

// deployed reports whether `fly secrets deploy` would update the Machine:
// made by `fly launch`/`fly deploy` (platform v2), neither a release
// command nor a console Machine (fly-go ListFlyAppsMachines).
func (m *machine) deployed() bool {
	meta := m.metadata()
	if meta[metaPlatformVersion] != platformV2 {
		return false
	}
	group := meta[metaProcessGroup]
	if group == "" {
		group = meta["process_group"]
	}
	return group != "fly_app_release_command" && group != "release_command" && group != "fly_app_console"
}

// running reports whether the Machine runs now, so a deploy restarts it
// and waits for it; any other is updated without launching it.
func (m *machine) running() bool {
	return m.State == "started" || m.State == "starting"
}

func (c *client) listMachines(ctx context.Context, app string, scrub []sensitive.Value) ([]machine, error) {
	var out []machine
	if err := c.do(ctx, call{op: "list machines", api: "fly.machines.list", idempotent: true, method: http.MethodGet, app: app, path: []string{"machines"}}, scrub, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *client) getMachine(ctx context.Context, app, id string, scrub []sensitive.Value) (*machine, error) {
	var out machine
	if err := c.do(ctx, call{op: "get machine " + id, api: "fly.machines.get", idempotent: true, method: http.MethodGet, app: app, path: []string{"machines", id}}, scrub, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// lease is a Machine lease rotplan holds.
type lease struct {
	nonce   string
	version string // the Machine's instance when the lease was taken
}

// acquireLease takes a lease on a Machine for ttl, as fly-go does (the ttl
// in seconds in the query). A lease someone else holds is a 409.
func (c *client) acquireLease(ctx context.Context, app, id string, ttl time.Duration, scrub []sensitive.Value) (*lease, error) {
	op := "lease machine " + id
	var out struct {
		Status string `json:"status"`
		Code   string `json:"code"`
		Data   *struct {
			Nonce   string `json:"nonce"`
			Version string `json:"version"`
		} `json:"data"`
	}
	q := url.Values{"ttl": {strconv.Itoa(int(ttl.Seconds()))}}
	// Not sent again after a 5xx: a lease granted whose answer was lost
	// is held until it expires, and asking again would meet it as a 409.
	if err := c.do(ctx, call{op: op, api: "fly.machines.lease", method: http.MethodPost, app: app, path: []string{"machines", id, "lease"}, query: q}, scrub, &out); err != nil {
		return nil, err
	}
	if out.Status != "success" || out.Data == nil || out.Data.Nonce == "" {
		return nil, fmt.Errorf("fly app %q: %s: no lease granted (status %q, code %q)", app, op, cut(out.Status), cut(out.Code))
	}
	return &lease{nonce: out.Data.Nonce, version: out.Data.Version}, nil
}

// refreshLease extends the lease with this nonce by ttl from now, as
// fly-go's RefreshLease does (the same endpoint, with the nonce header). A
// lease that lapsed in between comes back with another nonce, or not at
// all: the Machine may have changed hands, and that is an error.
func (c *client) refreshLease(ctx context.Context, app, id, nonce string, ttl time.Duration, scrub []sensitive.Value) error {
	op := "refresh lease of machine " + id
	var out struct {
		Status string `json:"status"`
		Data   *struct {
			Nonce string `json:"nonce"`
		} `json:"data"`
	}
	q := url.Values{"ttl": {strconv.Itoa(int(ttl.Seconds()))}}
	if err := c.do(ctx, call{op: op, api: "fly.machines.lease", idempotent: true, method: http.MethodPost, app: app, path: []string{"machines", id, "lease"}, query: q, nonce: nonce}, scrub, &out); err != nil {
		return err
	}
	if out.Status != "success" || out.Data == nil || out.Data.Nonce != nonce {
		return fmt.Errorf("fly app %q: %s: the lease lapsed and was not renewed", app, op)
	}
	return nil
}

func (c *client) releaseLease(ctx context.Context, app, id, nonce string, scrub []sensitive.Value) error {
	return c.do(ctx, call{op: "release lease of machine " + id, api: "fly.machines.release", idempotent: true, method: http.MethodDelete, app: app, path: []string{"machines", id, "lease"}, nonce: nonce}, scrub, nil)
}

// updateMachine sends the Machine's config back unchanged, asking for the
// app's secrets as of at least minSecretsVersion. Without skipLaunch the
// Machine restarts; with it, a stopped Machine stays stopped and runs them
// when next started (flyctl's launchInputForRestart and shouldSkipLaunch).
func (c *client) updateMachine(ctx context.Context, app string, m *machine, nonce string, skipLaunch bool, minSecretsVersion uint64, scrub []sensitive.Value) (*machine, error) {
	body, err := json.Marshal(struct {
		Config            json.RawMessage `json:"config"`
		Region            string          `json:"region,omitempty"`
		SkipLaunch        bool            `json:"skip_launch,omitempty"`
		MinSecretsVersion uint64          `json:"min_secrets_version"`
	}{m.Config, m.Region, skipLaunch, minSecretsVersion})
	if err != nil {
		return nil, fmt.Errorf("fly app %q: machine %s: its config is not JSON", app, m.ID)
	}
	// Not idempotent: each update restarts the Machine. It is sent again
	// only after a 429; after a 5xx or a lost answer the caller looks
	// whether it took.
	var out machine
	if err := c.do(ctx, call{op: "update machine " + m.ID, api: "fly.machines.update", method: http.MethodPost, app: app, path: []string{"machines", m.ID}, body: body, nonce: nonce}, scrub, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// waitStarted asks the API to answer once the Machine's instance is
// started, holding the request up to timeout; a 408 says it was not.
func (c *client) waitStarted(ctx context.Context, app, id, instance string, timeout time.Duration, scrub []sensitive.Value) error {
	q := url.Values{"state": {"started"}, "timeout": {strconv.Itoa(max(1, int(timeout.Seconds())))}}
	if instance != "" {
		q.Set("version", instance)
		q.Set("instance_id", instance)
	}
	return c.do(ctx, call{op: "wait for machine " + id, api: "fly.machines.wait", idempotent: true, method: http.MethodGet, app: app, path: []string{"machines", id, "wait"}, query: q}, scrub, nil)
}

// deployResult counts what a deploy did.
type deployResult struct {
	restarted, staged, ignored, unchanged int
}

// deployed remembers, for each Machine (by API base URL, app and ID), the
// instance rotplan's own update left it at and the secrets version that
// update gave it. A Machine still at that instance has the config it had
// then and runs at least those secrets: a deploy of a version no newer
// skips it rather than restart it again.
var deployed = struct {
	sync.Mutex
	m map[[3]string]deployedAt
}{m: map[[3]string]deployedAt{}}

type deployedAt struct {
	instance string
	version  uint64
}

func (t *Target) upToDate(app string, m *machine, version uint64) bool {
	deployed.Lock()
	defer deployed.Unlock()
	d, ok := deployed.m[[3]string{t.api, app, m.ID}]
	return ok && m.is(d.instance) && d.version >= version
}

func (t *Target) sawDeploy(app, id, instance string, version uint64) {
	deployed.Lock()
	defer deployed.Unlock()
	deployed.m[[3]string{t.api, app, id}] = deployedAt{instance: instance, version: version}
}

// deploy makes the app's Machines take its secrets as of version, the way
// `fly secrets deploy` does: every Machine flyctl would update, one at a
// time (a rolling restart, so the app keeps serving), each under a lease
// so no other deploy changes it meanwhile. A running Machine is restarted
// and must report started before the next one is touched; a stopped one
// is updated without launching it; one whose config and secrets version
// are what rotplan's own update left them at is not updated at all.
//
// A Machine another deploy holds (its lease is a 409), or a failure the
// service may not repeat (429, 5xx), ends this pass: the deploy starts
// again after the shared policy's backoff, within its attempts, and the
// Machines already done are skipped. Any other failure ends the deploy
// with its error; the Machines after it keep what they ran.
func (t *Target) deploy(ctx context.Context, app string, version uint64, scrub []sensitive.Value) (deployResult, error) {
	var res deployResult
	for pass := 1; ; pass++ {
		r, err := t.deployPass(ctx, app, version, scrub)
		res.restarted += r.restarted
		res.staged += r.staged
		res.ignored, res.unchanged = r.ignored, r.unchanged
		var apiErr *APIError
		again := errors.As(err, &apiErr) && (apiErr.Status == http.StatusConflict || retry.HTTPStatus(apiErr.Status) != retry.Permanent)
		if err == nil || !again || pass >= t.client.policy.Attempts || ctx.Err() != nil {
			return res, err
		}
		t.logger.Info("fly: deploy stopped at a Machine; trying the rest again", "app", app, "error", err)
		if err := t.client.policy.Pause(ctx, t.client.policy.Backoff(pass)); err != nil {
			return res, err
		}
	}
}

// deployPass goes once through the app's Machines.
func (t *Target) deployPass(ctx context.Context, app string, version uint64, scrub []sensitive.Value) (deployResult, error) {
	var res deployResult
	listed, err := t.client.listMachines(ctx, app, scrub)
	if err != nil {
		return res, err
	}
	var todo []machine
	for _, m := range listed {
		switch {
		case !m.active():
		case !m.deployed():
			res.ignored++
		case t.upToDate(app, &m, version):
			res.unchanged++
		default:
			todo = append(todo, m)
		}
	}
	if res.ignored > 0 {
		t.logger.Warn("fly: Machines not made by `fly deploy` are left alone, as `fly secrets deploy` leaves them; they take the new secrets when they are next updated", "app", app, "machines", res.ignored)
	}
	for i := range todo {
		restarted, err := t.deployMachine(ctx, app, &todo[i], version, scrub)
		if err != nil {
			return res, err
		}
		if restarted {
			res.restarted++
		} else {
			res.staged++
		}
	}
	return res, nil
}

// deployMachine updates one Machine under a lease, which is refreshed while
// it is held, and, if it was running, waits for it to start again. It
// reports whether it restarted it.
func (t *Target) deployMachine(ctx context.Context, app string, m *machine, version uint64, scrub []sensitive.Value) (bool, error) {
	l, err := t.client.acquireLease(ctx, app, m.ID, leaseTTL, scrub)
	if err != nil {
		return false, err
	}
	k := t.keep(ctx, app, m.ID, l.nonce, scrub)
	defer func() {
		k.stop()
		// Released even when ctx is done, briefly; otherwise it expires.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if err := t.client.releaseLease(rctx, app, m.ID, l.nonce, scrub); err != nil {
			t.logger.Warn("fly: could not release a Machine lease; it expires by itself", "app", app, "machine", m.ID, "error", err)
		}
	}()
	if !m.is(l.version) {
		// The Machine changed between the listing and the lease: send
		// back the config it has now, not the one listed.
		if m, err = t.client.getMachine(ctx, app, m.ID, scrub); err != nil {
			return false, err
		}
		if t.upToDate(app, m, version) {
			return false, nil
		}
	}
	if !m.hasConfig() {
		return false, fmt.Errorf("fly app %q: machine %s: Fly cannot read its config (host_status %q), so it cannot be updated; run apply again when its host is back", app, m.ID, cut(m.HostStatus))
	}
	launch := m.running()
	if err := k.keep(ctx); err != nil {
		return false, err
	}
	updated, err := t.client.updateMachine(ctx, app, m, l.nonce, !launch, version, scrub)
	if err != nil {
		// A 5xx or a lost answer: the update may have taken. The Machine
		// says: a new instance means it did.
		got, gerr := t.client.getMachine(ctx, app, m.ID, scrub)
		var apiErr *APIError
		if gerr != nil || got.is(m.current()) || errors.As(err, &apiErr) && retry.HTTPStatus(apiErr.Status) == retry.Permanent {
			return false, err
		}
		t.logger.Info("fly: the answer to a Machine update was lost, but the Machine took it", "app", app, "machine", m.ID)
		updated = got
	}
	t.logger.Debug("fly: machine updated", "app", app, "machine", m.ID, "launched", launch, "min_secrets_version", version)
	if launch {
		if err := t.waitStarted(ctx, app, m.ID, updated.current(), k, scrub); err != nil {
			return true, err
		}
	}
	t.sawDeploy(app, m.ID, updated.current(), version)
	return launch, nil
}

// leaseKeeper refreshes one Machine lease: before each request rotplan makes
// under it, once a third of its time has passed (by the target's clock),
// and in the background at that pace while a request is in flight.
type leaseKeeper struct {
	t         *Target
	app, id   string
	nonce     string
	scrub     []sensitive.Value
	cancel    context.CancelFunc
	done      chan struct{}
	mu        sync.Mutex
	refreshed time.Time
	err       error
}

// keep starts keeping the lease taken just now.
func (t *Target) keep(ctx context.Context, app, id, nonce string, scrub []sensitive.Value) *leaseKeeper {
	k := &leaseKeeper{t: t, app: app, id: id, nonce: nonce, scrub: scrub, refreshed: t.now(), done: make(chan struct{})}
	bg, cancel := context.WithCancel(ctx)
	k.cancel = cancel
	go func() {
		defer close(k.done)
		for {
			timer := time.NewTimer(leaseTTL / 3)
			select {
			case <-bg.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
			if err := k.keep(bg); err != nil && bg.Err() == nil {
				t.logger.Warn("fly: could not refresh a Machine lease", "app", app, "machine", id, "error", err)
			}
		}
	}()
	return k
}

// keep refreshes the lease if a third of its time has passed, and reports
// a lease that could not be kept.
func (k *leaseKeeper) keep(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return k.err
	}
	if k.t.now().Sub(k.refreshed) < leaseTTL/3 {
		return nil
	}
	if err := k.t.client.refreshLease(ctx, k.app, k.id, k.nonce, leaseTTL, k.scrub); err != nil {
		if ctx.Err() == nil {
			k.err = err
		}
		return err
	}
	k.refreshed = k.t.now()
	return nil
}

func (k *leaseKeeper) stop() {
	k.cancel()
	<-k.done
}

// waitStarted waits until the Machine's new instance reports started, at
// most startTimeout and never past ctx, keeping the lease as it goes.
// Between waits that time out it looks at the Machine, and gives up at
// once on one that failed or is gone.
func (t *Target) waitStarted(ctx context.Context, app, id, instance string, k *leaseKeeper, scrub []sensitive.Value) error {
	deadline := time.Now().Add(t.startTimeout)
	byCtx := false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, byCtx = d, true
	}
	state := "starting"
	for round := 1; ; round++ {
		left := time.Until(deadline)
		switch {
		case left <= 0 && byCtx:
			return fmt.Errorf("fly app %q: machine %s had not started (state %q) when apply's time ran out: %w", app, id, cut(state), context.DeadlineExceeded)
		case left <= 0:
			return fmt.Errorf("fly app %q: machine %s did not start within %s (state %q); see `fly logs -a %s -i %s`", app, id, t.startTimeout, cut(state), app, id)
		}
		if err := k.keep(ctx); err != nil {
			return err
		}
		err := t.client.waitStarted(ctx, app, id, instance, min(left, maxWaitRequest), scrub)
		var apiErr *APIError
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &apiErr) || apiErr.Status != http.StatusRequestTimeout:
			return err
		}
		got, err := t.client.getMachine(ctx, app, id, scrub)
		if err != nil {
			return err
		}
		state = got.State
		switch {
		case state == "failed" || !got.active():
			return fmt.Errorf("fly app %q: machine %s did not start with the new secrets: it is %s; see `fly logs -a %s -i %s`", app, id, cut(state), app, id)
		case instance != "" && !got.is(instance):
			return fmt.Errorf("fly app %q: machine %s was updated by someone else while rotplan waited for it to start", app, id)
		}
		if err := t.client.policy.Pause(ctx, t.client.policy.Backoff(round)); err != nil {
			return err
		}
	}
}

// cut keeps a word from the API short and printable for an error.
func cut(s string) string {
	return scrubMessage(s, nil)
}
