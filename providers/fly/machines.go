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
	"time"

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
//	POST   /v1/apps/{app}/machines/{id}                    {"config":{...whole...},"region","skip_launch","min_secrets_version":N}
//	       (header fly-machine-lease-nonce)                → the Machine, with its new instance_id
//	GET    /v1/apps/{app}/machines/{id}/wait?instance_id=I&state=started&timeout=S → 200, or 408 after S seconds
//	DELETE /v1/apps/{app}/machines/{id}/lease (header fly-machine-lease-nonce)
//
// This is what flyctl's `fly secrets set` does after storing the secrets
// (internal/command/secrets: DeploySecrets, a restart-only deploy): for
// each Machine of the app made by `fly deploy` it sends the Machine's own
// config back with min_secrets_version set to the version the secrets
// update answered, so the Machine restarts with at least those secrets.

// Deploy limits. A launched Machine must report started within
// startTimeout (flyctl's default --wait-timeout); each wait request asks
// the API to hold it at most maxWaitRequest, under the client's request
// timeout. A lease lasts long enough for one Machine's update and wait.
const (
	startTimeout   = 5 * time.Minute
	maxWaitRequest = 20 * time.Second
	leaseSlack     = time.Minute
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
	if err := c.do(ctx, call{op: "list machines", method: http.MethodGet, app: app, path: []string{"machines"}}, scrub, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *client) getMachine(ctx context.Context, app, id string, scrub []sensitive.Value) (*machine, error) {
	var out machine
	if err := c.do(ctx, call{op: "get machine " + id, method: http.MethodGet, app: app, path: []string{"machines", id}}, scrub, &out); err != nil {
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
	if err := c.do(ctx, call{op: op, method: http.MethodPost, app: app, path: []string{"machines", id, "lease"}, query: q}, scrub, &out); err != nil {
		return nil, err
	}
	if out.Status != "success" || out.Data == nil || out.Data.Nonce == "" {
		return nil, fmt.Errorf("fly app %q: %s: no lease granted (status %q, code %q)", app, op, cut(out.Status), cut(out.Code))
	}
	return &lease{nonce: out.Data.Nonce, version: out.Data.Version}, nil
}

func (c *client) releaseLease(ctx context.Context, app, id, nonce string, scrub []sensitive.Value) error {
	return c.do(ctx, call{op: "release lease of machine " + id, method: http.MethodDelete, app: app, path: []string{"machines", id, "lease"}, nonce: nonce}, scrub, nil)
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
	var out machine
	if err := c.do(ctx, call{op: "update machine " + m.ID, method: http.MethodPost, app: app, path: []string{"machines", m.ID}, body: body, nonce: nonce}, scrub, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// waitStarted asks the API to answer once the Machine's instance is
// started, holding the request up to timeout; a 408 says it was not.
func (c *client) waitStarted(ctx context.Context, app, id, instance string, timeout time.Duration, scrub []sensitive.Value) error {
	q := url.Values{"state": {"started"}, "timeout": {strconv.Itoa(max(1, int(timeout.Seconds())))}}
	if instance != "" {
		q.Set("instance_id", instance)
	}
	return c.do(ctx, call{op: "wait for machine " + id, method: http.MethodGet, app: app, path: []string{"machines", id, "wait"}, query: q}, scrub, nil)
}

// deployResult counts what a deploy did.
type deployResult struct {
	restarted, staged, ignored int
}

// deploy makes the app's Machines take its secrets as of version, the way
// `fly secrets deploy` does: every Machine flyctl would update, one at a
// time (a rolling restart, so the app keeps serving), each under a lease
// so no other deploy changes it meanwhile. A running Machine is restarted
// and must report started before the next one is touched; a stopped one
// is updated without launching it. The first Machine that fails ends the
// deploy with its error; the Machines after it keep what they ran.
func (t *Target) deploy(ctx context.Context, app string, version uint64, scrub []sensitive.Value) (deployResult, error) {
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

// deployMachine updates one Machine under a lease and, if it was running,
// waits for it to start again. It reports whether it restarted it.
func (t *Target) deployMachine(ctx context.Context, app string, m *machine, version uint64, scrub []sensitive.Value) (bool, error) {
	l, err := t.client.acquireLease(ctx, app, m.ID, t.startTimeout+leaseSlack, scrub)
	if err != nil {
		return false, err
	}
	defer func() {
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
	}
	if !m.hasConfig() {
		return false, fmt.Errorf("fly app %q: machine %s: Fly cannot read its config (host_status %q), so it cannot be updated; run apply again when its host is back", app, m.ID, cut(m.HostStatus))
	}
	launch := m.running()
	updated, err := t.client.updateMachine(ctx, app, m, l.nonce, !launch, version, scrub)
	if err != nil {
		return false, err
	}
	t.logger.Debug("fly: machine updated", "app", app, "machine", m.ID, "launched", launch, "min_secrets_version", version)
	if !launch {
		return false, nil
	}
	return true, t.waitStarted(ctx, app, m.ID, updated.current(), scrub)
}

// waitStarted waits until the Machine's new instance reports started, at
// most startTimeout and never past ctx. Between waits that time out it
// looks at the Machine, and gives up at once on one that failed or is
// gone.
func (t *Target) waitStarted(ctx context.Context, app, id, instance string, scrub []sensitive.Value) error {
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
		if err := t.client.sleep(ctx, t.client.backoffFor(round)); err != nil {
			return err
		}
	}
}

// cut keeps a word from the API short and printable for an error.
func cut(s string) string {
	return scrubMessage(s, nil)
}
