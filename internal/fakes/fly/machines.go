package fly

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"
)

// The Machines endpoints a restart-only deploy uses, as superfly/fly-go's
// flaps client (flaps/flaps_machines.go, flaps_machines_wait.go) and Fly's
// Machines API reference (fly.io/docs/machines/api/machines-resource) show
// them. A Machine runs the app's secrets as of the version it was last
// given, not what the app stores now: it takes the stored secrets when it
// is updated (at least min_secrets_version), and runs them once started.

// MachineSpec describes a Machine a test adds to an app.
type MachineSpec struct {
	// ID is the Machine's ID; "" makes one up.
	ID string
	// State is "started" (the default), "stopped", "suspended", "failed",
	// "destroyed" and so on.
	State string
	// Region defaults to "iad".
	Region string
	// Metadata is the config's metadata. nil gives what `fly deploy` sets
	// (fly_platform_version "v2", fly_process_group "app"); a Machine made
	// with `fly machine run` has none, so give it an empty map.
	Metadata map[string]string
	// FailsToStart makes every launch fail: the Machine ends "failed".
	FailsToStart bool
	// SlowStart is how many waits for "started" time out after each
	// launch before the Machine is started.
	SlowStart int
}

// MachineStatus is what a test sees of a Machine.
type MachineStatus struct {
	ID, State, Region string
	InstanceID        string
	// Image is config.image, to see that an update kept the config.
	Image string
	// SecretsVersion is the app secrets version the Machine was last given.
	SecretsVersion uint64
	// Updates counts the update requests the Machine accepted.
	Updates int
	// Leased reports a lease held now (by the fake's clock).
	Leased bool
	// LeaseTTL is the ttl the last lease granted or refreshed asked for.
	LeaseTTL time.Duration
}

type machine struct {
	id, region, state, instanceID string
	config                        map[string]any
	created, updated              time.Time

	secretsVersion uint64
	staged         map[string][]byte // the secrets it runs once started
	running        map[string][]byte // what its process sees; nil unless started

	failsToStart bool
	slowStart    int
	pendingWaits int
	updates      int

	lease    *machineLease
	leaseTTL time.Duration
	// contended: another deploy takes the lease whenever it is free and
	// updates the Machine (Contend).
	contended bool
}

type machineLease struct {
	nonce, owner, description string
	expires                   time.Time
}

func (l *machineLease) active(now time.Time) bool {
	return l != nil && now.Before(l.expires)
}

// AddMachine adds a Machine to app, creating the app if need be, running
// the secrets the app holds now, and returns its ID.
func (s *Server) AddMachine(appName string, spec MachineSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.app(appName, true)
	s.serial++
	id := spec.ID
	if id == "" {
		id = fmt.Sprintf("%014x", 0x148e0000+s.serial)
	}
	state := spec.State
	if state == "" {
		state = "started"
	}
	region := spec.Region
	if region == "" {
		region = "iad"
	}
	meta := spec.Metadata
	if meta == nil {
		meta = map[string]string{"fly_platform_version": "v2", "fly_process_group": "app"}
	}
	metadata := map[string]any{}
	for k, v := range meta {
		metadata[k] = v
	}
	now := s.now().UTC()
	m := &machine{
		id:     id,
		region: region,
		state:  state,
		config: map[string]any{
			"image":    "registry.fly.io/" + appName + ":deployment-01",
			"env":      map[string]any{"PRIMARY_REGION": region},
			"guest":    map[string]any{"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
			"metadata": metadata,
			"services": []any{map[string]any{"protocol": "tcp", "internal_port": 8080, "autostart": true, "autostop": "stop"}},
		},
		created:        now,
		updated:        now,
		secretsVersion: a.version,
		staged:         a.snapshot(),
		failsToStart:   spec.FailsToStart,
		slowStart:      spec.SlowStart,
	}
	m.instanceID = s.newInstanceID()
	if state == "started" {
		m.running = m.staged
	}
	a.machines = append(a.machines, m)
	return id
}

// Machine reports one Machine of app.
func (s *Server) Machine(appName, id string) (MachineStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.machine(appName, id)
	if m == nil {
		return MachineStatus{}, false
	}
	image, _ := m.config["image"].(string)
	return MachineStatus{
		ID: m.id, State: m.state, Region: m.region, InstanceID: m.instanceID, Image: image,
		SecretsVersion: m.secretsVersion, Updates: m.updates, Leased: m.lease.active(s.now()), LeaseTTL: m.leaseTTL,
	}, true
}

// RunningValue returns the value of the app secret key as the Machine's
// process sees it: what it was started with, not what the app stores now.
// A Machine that is not started runs nothing.
func (s *Server) RunningValue(appName, id, key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.machine(appName, id)
	if m == nil || m.state != "started" || m.running == nil {
		return "", false
	}
	v, ok := m.running[key]
	return string(v), ok
}

// HoldLease makes another client hold a lease on the Machine for an hour,
// as a deploy in progress does.
func (s *Server) HoldLease(appName, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.machine(appName, id); m != nil {
		s.serial++
		m.lease = &machineLease{nonce: fmt.Sprintf("other-%d", s.serial), owner: "someone-else@example.com", expires: s.now().Add(time.Hour)}
	}
}

// HoldLeaseFor is HoldLease for d of the fake's clock.
func (s *Server) HoldLeaseFor(appName, id string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.machine(appName, id); m != nil {
		s.serial++
		m.lease = &machineLease{nonce: fmt.Sprintf("other-%d", s.serial), owner: "someone-else@example.com", expires: s.now().Add(d)}
	}
}

// Contend queues another deploy behind whoever leases the Machine: once a
// lease lapses (expires by the fake's clock without being released), the
// next request that names the app finds that deploy holding the Machine,
// which it has updated, as a concurrent `fly deploy` waiting for the lease
// would. A client whose lease lapsed finds its Machine changed under it.
func (s *Server) Contend(appName, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.machine(appName, id); m != nil {
		m.contended = true
	}
}

// contend lets the contenders of an app take the Machines whose leases are
// free; the caller holds s.mu.
func (s *Server) contend(a *app) {
	now := s.now()
	for _, m := range a.machines {
		if !m.contended || m.lease == nil || m.lease.active(now) {
			continue
		}
		s.serial++
		m.lease = &machineLease{nonce: fmt.Sprintf("other-%d", s.serial), owner: "another-deploy@example.com", expires: now.Add(time.Hour)}
		m.instanceID = s.newInstanceID()
		m.updates++
	}
}

func (s *Server) machine(appName, id string) *machine {
	a := s.app(appName, false)
	if a == nil {
		return nil
	}
	for _, m := range a.machines {
		if m.id == id {
			return m
		}
	}
	return nil
}

// newInstanceID makes an instance ID (a ULID in the real API).
func (s *Server) newInstanceID() string {
	s.serial++
	return fmt.Sprintf("01FAKE%020d", s.serial)
}

// snapshot copies what the app stores now.
func (a *app) snapshot() map[string][]byte {
	out := make(map[string][]byte, len(a.secrets))
	for name, sec := range a.secrets {
		out[name] = append([]byte(nil), sec.value...)
	}
	return out
}

func (s *Server) routeMachines(mux *http.ServeMux) {
	count := func(field func(*Calls) *int) func(*Calls, *http.Request) {
		return func(c *Calls, _ *http.Request) { *field(c)++ }
	}
	mux.HandleFunc("GET /v1/apps/{app}/machines", s.handle(count(func(c *Calls) *int { return &c.MachineLists }), s.listMachines))
	mux.HandleFunc("GET /v1/apps/{app}/machines/{id}", s.handle(count(func(c *Calls) *int { return &c.MachineGets }), s.withMachine(s.getMachine)))
	mux.HandleFunc("POST /v1/apps/{app}/machines/{id}", s.handle(count(func(c *Calls) *int { return &c.MachineUpdates }), s.withMachine(s.updateMachine)))
	mux.HandleFunc("POST /v1/apps/{app}/machines/{id}/lease", s.handle(count(func(c *Calls) *int { return &c.Leases }), s.withMachine(s.acquireLease)))
	mux.HandleFunc("DELETE /v1/apps/{app}/machines/{id}/lease", s.handle(count(func(c *Calls) *int { return &c.Releases }), s.withMachine(s.releaseLease)))
	mux.HandleFunc("GET /v1/apps/{app}/machines/{id}/wait", s.handle(count(func(c *Calls) *int { return &c.Waits }), s.withMachine(s.waitMachine)))
}

// withMachine finds the Machine a request names: 404 when there is none.
func (s *Server) withMachine(serve func(*request, *machine)) func(*request) {
	return func(q *request) {
		id := q.r.PathValue("id")
		for _, m := range q.app.machines {
			if m.id == id && m.state != "destroyed" {
				serve(q, m)
				return
			}
		}
		writeError(q.w, http.StatusNotFound, "machine not found")
	}
}

// machineJSON is a Machine as the API describes it (fly-go's fly.Machine).
func (m *machine) machineJSON() map[string]any {
	return map[string]any{
		"id":          m.id,
		"name":        "fake-" + m.id,
		"state":       m.state,
		"region":      m.region,
		"instance_id": m.instanceID,
		"config":      m.config,
		"image_ref":   map[string]any{"registry": "registry.fly.io", "repository": "fake", "tag": "deployment-01"},
		"created_at":  m.created.Format(time.RFC3339),
		"updated_at":  m.updated.Format(time.RFC3339),
		"host_status": "ok",
	}
}

func (s *Server) listMachines(q *request) {
	out := []map[string]any{}
	for _, m := range q.app.machines {
		if m.state != "destroyed" {
			out = append(out, m.machineJSON())
		}
	}
	writeJSON(q.w, http.StatusOK, out)
}

func (s *Server) getMachine(q *request, m *machine) {
	writeJSON(q.w, http.StatusOK, m.machineJSON())
}

// updateMachine replaces the Machine's config, as the API does: the whole
// config, never a part. Unless skip_launch, the Machine restarts: it is
// "starting" until a wait sees it started (or failed), and then runs the
// secrets the app stored when it was updated, which must be at least
// min_secrets_version. With skip_launch it is left stopped, to run them
// when it is next started. A leased Machine needs the lease's nonce.
func (s *Server) updateMachine(q *request, m *machine) {
	var in struct {
		Config                  json.RawMessage `json:"config"`
		Region                  string          `json:"region"`
		Name                    string          `json:"name"`
		SkipLaunch              bool            `json:"skip_launch"`
		SkipServiceRegistration bool            `json:"skip_service_registration"`
		SkipSecrets             bool            `json:"skip_secrets"`
		MinSecretsVersion       *uint64         `json:"min_secrets_version"`
		LeaseTTL                int             `json:"lease_ttl"`
		CurrentVersion          string          `json:"current_version"`
		LSVD                    bool            `json:"lsvd"`
	}
	if !decode(q, &in) {
		return
	}
	now := s.now()
	if m.lease.active(now) && q.r.Header.Get("fly-machine-lease-nonce") != m.lease.nonce {
		writeError(q.w, http.StatusConflict, "machine "+m.id+" is leased by "+m.lease.owner)
		return
	}
	var config map[string]any
	if len(in.Config) == 0 || json.Unmarshal(in.Config, &config) != nil || config == nil {
		writeError(q.w, http.StatusBadRequest, "config is required: an update sends the whole Machine config")
		return
	}
	switch {
	case in.Region != "" && in.Region != m.region:
		writeError(q.w, http.StatusBadRequest, "region cannot be changed")
		return
	case in.MinSecretsVersion != nil && *in.MinSecretsVersion > q.app.version:
		writeError(q.w, http.StatusBadRequest, "min_secrets_version is ahead of the app's secrets")
		return
	}
	m.config = config
	m.instanceID = s.newInstanceID()
	m.updated = now.UTC()
	m.updates++
	m.running = nil
	if !in.SkipSecrets {
		m.secretsVersion = q.app.version
		m.staged = q.app.snapshot()
	}
	if in.SkipLaunch {
		m.state = "stopped"
	} else {
		m.state = "starting"
		m.pendingWaits = m.slowStart
	}
	writeJSON(q.w, http.StatusOK, m.machineJSON())
}

// acquireLease takes the Machine's lease for ttl seconds, given in the
// query (as fly-go sends it) or the body (as the reference shows it).
func (s *Server) acquireLease(q *request, m *machine) {
	var in struct {
		TTL         *int   `json:"ttl"`
		Description string `json:"description"`
	}
	if len(bytes.TrimSpace(q.body)) > 0 && !decode(q, &in) {
		return
	}
	ttl := 30
	if v := q.r.URL.Query().Get("ttl"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeError(q.w, http.StatusBadRequest, "invalid ttl")
			return
		}
		ttl = n
	} else if in.TTL != nil {
		ttl = *in.TTL
	}
	now := s.now()
	nonce := q.r.Header.Get("fly-machine-lease-nonce")
	switch {
	case m.lease.active(now) && nonce != "" && nonce == m.lease.nonce:
		// A refresh (fly-go's RefreshLease): the same lease, longer.
		s.calls[q.r.PathValue("app")].Refreshes++
		m.lease.expires = now.Add(time.Duration(ttl) * time.Second)
		m.leaseTTL = time.Duration(ttl) * time.Second
		writeJSON(q.w, http.StatusOK, map[string]any{
			"status": "success",
			"data":   map[string]any{"nonce": m.lease.nonce, "expires_at": m.lease.expires.Unix(), "owner": m.lease.owner, "version": m.instanceID},
		})
		return
	case m.lease.active(now):
		writeError(q.w, http.StatusConflict, "lease currently held by "+m.lease.owner)
		return
	}
	s.serial++
	m.leaseTTL = time.Duration(ttl) * time.Second
	m.lease = &machineLease{nonce: fmt.Sprintf("%012x", 0xfed368b00000+s.serial), owner: "fake@fly.io", description: in.Description, expires: now.Add(m.leaseTTL)}
	writeJSON(q.w, http.StatusCreated, map[string]any{
		"status": "success",
		"data": map[string]any{
			"nonce":       m.lease.nonce,
			"expires_at":  m.lease.expires.Unix(),
			"owner":       m.lease.owner,
			"description": m.lease.description,
			"version":     m.instanceID,
		},
	})
}

func (s *Server) releaseLease(q *request, m *machine) {
	switch {
	case !m.lease.active(s.now()):
		writeError(q.w, http.StatusNotFound, "lease not found")
	case q.r.Header.Get("fly-machine-lease-nonce") != m.lease.nonce:
		writeError(q.w, http.StatusConflict, "lease nonce does not match")
	default:
		m.lease = nil
		writeJSON(q.w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"ok": true}})
	}
}

// waitMachine answers when the Machine is in the state asked for (default
// started), of the instance asked for (instance_id, or version as fly-go
// names it), with 200 {"ok":true}. The real API holds the request up to
// timeout seconds and then answers 408; the fake answers 408 at once when
// the Machine is not there yet, which is what a client sees after the
// timeout. A launched Machine becomes started, or failed, when it is
// waited for.
func (s *Server) waitMachine(q *request, m *machine) {
	query := q.r.URL.Query()
	state := query.Get("state")
	if state == "" {
		state = "started"
	}
	switch state {
	case "started", "stopped", "suspended", "destroyed":
	default:
		writeError(q.w, http.StatusBadRequest, "invalid state "+strconv.Quote(state))
		return
	}
	timeout := 60
	if v := query.Get("timeout"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(q.w, http.StatusBadRequest, "invalid timeout")
			return
		}
		timeout = n
	}
	instance := query.Get("version")
	if instance != "" {
		s.calls[q.r.PathValue("app")].WaitVersions++
	} else {
		instance = query.Get("instance_id")
	}

	if m.state == "starting" {
		switch {
		case m.failsToStart:
			m.state = "failed"
		case m.pendingWaits > 0:
			m.pendingWaits--
		default:
			m.state = "started"
			m.running = maps.Clone(m.staged)
		}
	}
	if (instance == "" || instance == m.instanceID) && m.state == state {
		writeJSON(q.w, http.StatusOK, map[string]any{"ok": true})
		return
	}
	// The real API would have held the request for timeout seconds.
	s.skew += time.Duration(timeout) * time.Second
	writeError(q.w, http.StatusRequestTimeout, "deadline_exceeded: machine "+m.id+" did not reach "+state)
}
