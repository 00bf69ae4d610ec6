package fly

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultToken is the API token a new Server accepts.
const DefaultToken = "fake-fly-token"

// Server is a running fake of the app secrets endpoints.
type Server struct {
	// URL is the base URL to give a client as its api_url.
	URL string

	mu     sync.Mutex
	token  string
	digest func(value []byte) string
	// skew is how far the fake's clock is ahead of the real one: a wait
	// that times out moves it on by the time the real API would have held
	// the request, and Advance moves it on.
	skew   time.Duration
	apps   map[string]*app
	calls  map[string]*Calls
	fails  map[string][]Failure
	serial int // for Machine IDs, instance IDs and lease nonces
}

type app struct {
	version  uint64
	secrets  map[string]*secret
	machines []*machine // in the order they were added
}

type secret struct {
	value            []byte
	digest           string
	created, updated time.Time
}

// Calls counts the requests that named one app, whatever their outcome.
type Calls struct {
	Lists  int // GET /v1/apps/{app}/secrets
	Gets   int // GET /v1/apps/{app}/secrets/{name}
	Writes int // every POST and DELETE of a secrets endpoint
	// MinVersion is the version the last list asked for, 0 when none.
	MinVersion uint64

	MachineLists   int // GET /v1/apps/{app}/machines
	MachineGets    int // GET /v1/apps/{app}/machines/{id}
	MachineUpdates int // POST /v1/apps/{app}/machines/{id}: each restarts or stages one Machine
	Leases         int // POST /v1/apps/{app}/machines/{id}/lease, refreshes included
	Refreshes      int // the leases that carried a nonce: refreshes of a lease held
	Releases       int // DELETE /v1/apps/{app}/machines/{id}/lease
	Waits          int // GET /v1/apps/{app}/machines/{id}/wait
	// WaitVersions counts the waits that named the instance as version=,
	// as fly-go's Wait does now, rather than only as instance_id=.
	WaitVersions int
}

// Failure is an error the server answers with instead of serving a request.
type Failure struct {
	// Status is the HTTP status, such as 429 or 500.
	Status int
	// Message goes in the body as {"error": Message}.
	Message string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// EchoValues appends every value the request carried to the message,
	// as a careless validation error would.
	EchoValues bool
	// Writes makes the failure wait for the next write (POST or DELETE),
	// letting reads before it through.
	Writes bool
	// Machines makes the failure wait for the next request to a Machines
	// endpoint (.../machines...), letting secrets requests through; without
	// it, Machines requests pass and the failure waits for a secrets one.
	Machines bool
}

// New starts a fake on a loopback port; it stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		token:  DefaultToken,
		digest: OpaqueDigest(),
		apps:   map[string]*app{},
		calls:  map[string]*Calls{},
		fails:  map[string][]Failure{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/apps/{app}/secrets", s.handle(countSecrets, s.list))
	mux.HandleFunc("POST /v1/apps/{app}/secrets", s.handle(countSecrets, s.update))
	mux.HandleFunc("GET /v1/apps/{app}/secrets/{name}", s.handle(countSecrets, s.get))
	mux.HandleFunc("POST /v1/apps/{app}/secrets/{name}", s.handle(countSecrets, s.set))
	mux.HandleFunc("DELETE /v1/apps/{app}/secrets/{name}", s.handle(countSecrets, s.delete))
	s.routeMachines(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// MD5Digest is the digest Fly's documentation shows for a value: its MD5 in
// lower-case hex. It is old sample output (fly.io/docs/apps/secrets);
// current Fly lists other digests, which OpaqueDigest stands for.
func MD5Digest(value []byte) string {
	sum := md5.Sum(value)
	return hex.EncodeToString(sum[:])
}

// OpaqueDigest returns the digest function a new Server uses: 16 lower-case
// hex characters that depend on the value alone (the same value always
// lists the same digest, another value another one) by an algorithm no
// client can reproduce, a keyed hash with a key of this server's own. That
// is what current Fly lists: short hex digests whose algorithm Fly has not
// published (fly-go's AppSecret.Digest and flyctl's `fly secrets list` only
// pass the API's digest on; neither computes one).
func OpaqueDigest() func(value []byte) string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return func(value []byte) string {
		mac := hmac.New(sha256.New, key)
		mac.Write(value)
		return hex.EncodeToString(mac.Sum(nil))[:16]
	}
}

// Now is the fake's clock: the real time, moved on by Advance and by
// waits that timed out.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func (s *Server) now() time.Time { return time.Now().Add(s.skew) }

// Advance moves the fake's clock on by d: leases expire by it.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skew += d
}

// SetToken changes the token the server accepts.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// SetDigest changes how digests of values set from now on are made, to
// stand for a digest a client cannot compute.
func (s *Server) SetDigest(digest func(value []byte) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.digest = digest
}

// Seed creates app if it does not exist and sets its secrets to values,
// without counting a request or moving its version. An empty map creates an
// app with no secrets.
func (s *Server) Seed(appName string, values map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.app(appName, true)
	now := s.now().UTC()
	for name, v := range values {
		a.put(name, []byte(v), s.digest, now)
	}
}

// Value returns what app holds under name.
func (s *Server) Value(appName, name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.app(appName, false)
	if a == nil || a.secrets[name] == nil {
		return "", false
	}
	return string(a.secrets[name].value), true
}

// Names lists the secrets app holds, sorted.
func (s *Server) Names(appName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.app(appName, false)
	if a == nil {
		return nil
	}
	return a.names()
}

// Version is app's secrets version: how many updates it has had.
func (s *Server) Version(appName string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.app(appName, false); a != nil {
		return a.version
	}
	return 0
}

// Calls reports the requests that named app.
func (s *Server) Calls(appName string) Calls {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[appName]; c != nil {
		return *c
	}
	return Calls{}
}

// Fail makes the next len(failures) requests that name app fail, in order.
func (s *Server) Fail(appName string, failures ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[appName] = append(s.fails[appName], failures...)
}

func (s *Server) app(name string, create bool) *app {
	a := s.apps[name]
	if a == nil && create {
		a = &app{secrets: map[string]*secret{}}
		s.apps[name] = a
	}
	return a
}

func (a *app) put(name string, value []byte, digest func([]byte) string, now time.Time) {
	sec := a.secrets[name]
	if sec == nil {
		sec = &secret{created: now}
		a.secrets[name] = sec
	}
	sec.value = append([]byte(nil), value...)
	sec.digest = digest(value)
	sec.updated = now
}

func (a *app) names() []string {
	names := make([]string, 0, len(a.secrets))
	for name := range a.secrets {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// appSecret is fly-go's AppSecret as the API sends it.
type appSecret struct {
	Name      string `json:"name"`
	Digest    string `json:"digest,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
	UpdatedAt string `json:"updated_at,omitempty"`
}

func (a *app) describe(name string) appSecret {
	sec := a.secrets[name]
	return appSecret{
		Name:      name,
		Digest:    sec.digest,
		CreatedAt: sec.created.Format(time.RFC3339),
		UpdatedAt: sec.updated.Format(time.RFC3339),
	}
}

// request is one request being served, with the server locked.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	body []byte
	app  *app
}

// countSecrets counts a request to a secrets endpoint.
func countSecrets(c *Calls, r *http.Request) {
	switch {
	case r.Method != http.MethodGet:
		c.Writes++
	case r.PathValue("name") != "":
		c.Gets++
	default:
		c.Lists++
	}
}

// handle wraps an endpoint: it counts the request, answers a queued
// failure, checks the token and that the app exists, then serves it with
// the server locked.
func (s *Server) handle(count func(*Calls, *http.Request), serve func(*request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, "unreadable body")
			return
		}
		appName := r.PathValue("app")

		s.mu.Lock()
		defer s.mu.Unlock()
		c := s.calls[appName]
		if c == nil {
			c = &Calls{}
			s.calls[appName] = c
		}
		count(c, r)

		machines := strings.Contains(r.URL.Path, "/machines")
		if queue := s.fails[appName]; len(queue) > 0 && queue[0].Machines == machines && (!queue[0].Writes || r.Method != http.MethodGet) {
			f := queue[0]
			s.fails[appName] = queue[1:]
			msg := f.Message
			if f.EchoValues {
				msg += ": " + strings.Join(valuesIn(body), ", ")
			}
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			writeError(w, f.Status, msg)
			return
		}
		if !s.authorized(r.Header.Get("Authorization")) {
			writeError(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		a := s.app(appName, false)
		if a == nil {
			writeError(w, http.StatusNotFound, "app not found")
			return
		}
		s.contend(a)
		if r.Method == http.MethodPost && len(body) > 0 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			writeError(w, http.StatusUnsupportedMediaType, "expected a JSON body")
			return
		}
		serve(&request{w: w, r: r, body: body, app: a})
	}
}

func (s *Server) authorized(header string) bool {
	scheme, token, ok := strings.Cut(header, " ")
	return ok && (scheme == "Bearer" || scheme == "FlyV1") && token == s.token && token != ""
}

func (s *Server) list(q *request) {
	if v := q.r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(q.w, http.StatusBadRequest, "invalid version")
			return
		}
		if n > q.app.version {
			writeError(q.w, http.StatusBadRequest, "version is ahead of the app's secrets")
			return
		}
		s.calls[q.r.PathValue("app")].MinVersion = n
	}
	out := struct {
		Secrets []appSecret `json:"secrets"`
	}{Secrets: []appSecret{}}
	for _, name := range q.app.names() {
		out.Secrets = append(out.Secrets, q.app.describe(name))
	}
	writeJSON(q.w, http.StatusOK, out)
}

func (s *Server) get(q *request) {
	name := q.r.PathValue("name")
	if q.app.secrets[name] == nil {
		writeError(q.w, http.StatusNotFound, "secret not found")
		return
	}
	writeJSON(q.w, http.StatusOK, q.app.describe(name))
}

func (s *Server) set(q *request) {
	var in struct {
		Value *string `json:"value"`
	}
	if !decode(q, &in) {
		return
	}
	name := q.r.PathValue("name")
	if in.Value == nil {
		writeError(q.w, http.StatusBadRequest, "value is required")
		return
	}
	if msg := invalid(name, *in.Value); msg != "" {
		writeError(q.w, http.StatusBadRequest, msg)
		return
	}
	q.app.put(name, []byte(*in.Value), s.digest, s.now().UTC())
	q.app.version++
	out := struct {
		appSecret
		Version uint64 `json:"version"`
	}{q.app.describe(name), q.app.version}
	writeJSON(q.w, http.StatusOK, out)
}

func (s *Server) delete(q *request) {
	name := q.r.PathValue("name")
	if q.app.secrets[name] == nil {
		writeError(q.w, http.StatusNotFound, "secret not found")
		return
	}
	delete(q.app.secrets, name)
	q.app.version++
	writeJSON(q.w, http.StatusOK, struct {
		Version uint64 `json:"version"`
	}{q.app.version})
}

func (s *Server) update(q *request) {
	var in struct {
		Values map[string]*string `json:"values"`
	}
	if !decode(q, &in) {
		return
	}
	if len(in.Values) == 0 {
		writeError(q.w, http.StatusBadRequest, "values is required")
		return
	}
	for name, v := range in.Values {
		value := ""
		if v != nil {
			value = *v
		}
		if msg := invalid(name, value); msg != "" {
			writeError(q.w, http.StatusBadRequest, msg)
			return
		}
	}
	now := s.now().UTC()
	var set []string
	for name, v := range in.Values {
		if v == nil {
			delete(q.app.secrets, name) // unsetting a missing secret is fine
			continue
		}
		q.app.put(name, []byte(*v), s.digest, now)
		set = append(set, name)
	}
	sort.Strings(set)
	q.app.version++
	out := struct {
		Secrets []appSecret `json:"secrets"`
		Version uint64      `json:"version"`
	}{Secrets: []appSecret{}, Version: q.app.version}
	for _, name := range set {
		out.Secrets = append(out.Secrets, q.app.describe(name))
	}
	writeJSON(q.w, http.StatusOK, out)
}

// secretName is what the fake accepts as a name: an environment variable's.
var secretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// invalid says what is wrong with a name or value, "" when nothing; it
// never quotes the value.
func invalid(name, value string) string {
	if !secretName.MatchString(name) {
		return fmt.Sprintf("invalid secret name %q", name)
	}
	if strings.IndexByte(value, 0) >= 0 {
		return "secret values cannot contain NUL bytes"
	}
	return ""
}

func decode(q *request, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(q.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(q.w, http.StatusBadRequest, "invalid JSON body")
		return false
	}
	return true
}

// valuesIn returns the values a write request's body carries.
func valuesIn(body []byte) []string {
	var in struct {
		Value  *string            `json:"value"`
		Values map[string]*string `json:"values"`
	}
	_ = json.Unmarshal(body, &in)
	var out []string
	if in.Value != nil {
		out = append(out, *in.Value)
	}
	for _, v := range in.Values {
		if v != nil {
			out = append(out, *v)
		}
	}
	sort.Strings(out)
	return out
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, struct {
		Error string `json:"error"`
	}{msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Fly-Request-Id", "fake-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
