package secretsmanager

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Staging labels.
const (
	Current  = "AWSCURRENT"
	Pending  = "AWSPENDING"
	Previous = "AWSPREVIOUS"
)

// Region and Account appear in the ARNs the fake makes.
const (
	Region  = "us-east-1"
	Account = "123456789012"
)

// Server is a running fake.
type Server struct {
	// URL is the endpoint to give the SDK.
	URL string

	mu      sync.Mutex
	now     func() time.Time
	secrets map[string]*secret // by name
	// listLag is how far behind ListSecrets may be (SetListLag); history
	// holds the states it may answer from, oldest first.
	listLag time.Duration
	history []snapshot
	// deleteDelay is how long a secret deleted without recovery lingers,
	// scheduled for deletion, before it is gone (SetForceDeleteDelay).
	deleteDelay time.Duration
	created     int // secrets ever created, for ARN suffixes
	calls       map[string]int
	failures    map[string][]Failure
}

// Failure is an error the fake answers one call with.
type Failure struct {
	Status  int    // HTTP status; 400 when zero
	Type    string // the error's __type, e.g. "ThrottlingException", "InternalServiceError"
	Message string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
}

// snapshot is every secret as it was at a time, for a lagging list.
type snapshot struct {
	at      time.Time
	secrets map[string]*secret
}

type secret struct {
	// purgeAt, when set, is when a secret deleted without recovery is
	// gone for good; until then it is scheduled for deletion.
	purgeAt                time.Time
	name, arn, description string
	versions               map[string]*version
	tags                   []tag // in the order they were added, as AWS keeps them
	created, lastChanged   time.Time
	deleted                time.Time // when it will be deleted; zero if it is not scheduled
	rotationEnabled        bool
	owningService          string
}

type tag struct{ key, value string }

type version struct {
	id     string
	str    *string
	bin    []byte
	labels []string
	added  time.Time
}

// New starts a fake that stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		now:      time.Now,
		secrets:  map[string]*secret{},
		calls:    map[string]int{},
		failures: map[string][]Failure{},
	}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// SetClock sets what the fake takes for the time now, for the dates it
// records when secrets change.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetListLag makes ListSecrets answer from the state of the secrets as it
// was lag ago by the fake's clock (or the oldest state the fake saw, when
// it has none that old), as AWS documents it may: "All Secrets Manager
// operations are eventually consistent. ListSecrets might not reflect
// changes from the last five minutes. You can get more recent information
// for a specific secret by calling DescribeSecret." (the API reference for
// ListSecrets, and the SDK's doc of Client.ListSecrets). Every other
// operation sees the secrets as they are.
//
// What Seed and SeedVersion add counts as there all along: the list shows
// it whatever the lag.
func (s *Server) SetListLag(lag time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listLag = lag
	s.history = nil
	s.remember()
	s.history[0].at = time.Time{} // the state before anything the test does
}

// seeded makes what a seed changed part of every state a lagging list may
// answer from; the caller holds s.mu.
func (s *Server) seeded(sec *secret) {
	for _, h := range s.history {
		h.secrets[sec.name] = sec.clone()
	}
}

// SetForceDeleteDelay makes a secret deleted with ForceDeleteWithoutRecovery
// linger for d of the fake's clock, scheduled for deletion, before it is
// gone: DescribeSecret shows it with its DeletedDate, and CreateSecret of
// its name fails with InvalidRequestException ("a secret with this name is
// already scheduled for deletion"). AWS documents it for DeleteSecret's
// ForceDeleteWithoutRecovery: "Secrets Manager performs the actual deletion
// with an asynchronous background process, so there might be a short delay
// before the secret is permanently deleted. If you delete a secret and then
// immediately create a secret with the same name, use appropriate back off
// and retry logic." Zero, the default, deletes at once.
func (s *Server) SetForceDeleteDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteDelay = d
}

// remember records the secrets as they are now, for a lagging list; the
// caller holds s.mu.
func (s *Server) remember() {
	if s.listLag <= 0 {
		s.history = nil
		return
	}
	now := s.now()
	copied := make(map[string]*secret, len(s.secrets))
	for name, sec := range s.secrets {
		copied[name] = sec.clone()
	}
	s.history = append(s.history, snapshot{at: now, secrets: copied})
	// Keep the newest state older than the lag and everything after it.
	cut := 0
	for i, h := range s.history {
		if !h.at.After(now.Add(-s.listLag)) {
			cut = i
		}
	}
	s.history = s.history[cut:]
}

// listed is what ListSecrets answers from: the secrets now, or as they
// were lag ago; the caller holds s.mu.
func (s *Server) listed() map[string]*secret {
	if s.listLag <= 0 || len(s.history) == 0 {
		return s.secrets
	}
	then := s.now().Add(-s.listLag)
	out := s.history[0].secrets
	for _, h := range s.history {
		if !h.at.After(then) {
			out = h.secrets
		}
	}
	return out
}

// purge removes the secrets whose forced deletion is done; the caller
// holds s.mu.
func (s *Server) purge() {
	now := s.now()
	for name, sec := range s.secrets {
		if !sec.purgeAt.IsZero() && !now.Before(sec.purgeAt) {
			delete(s.secrets, name)
		}
	}
}

func (sec *secret) clone() *secret {
	c := *sec
	c.versions = make(map[string]*version, len(sec.versions))
	for id, v := range sec.versions {
		vc := *v
		vc.labels = append([]string(nil), v.labels...)
		c.versions[id] = &vc
	}
	c.tags = append([]tag(nil), sec.tags...)
	return &c
}

// Secret seeds one secret.
type Secret struct {
	Name string
	// Current, when not empty, is the SecretString of an AWSCURRENT
	// version.
	Current string
	// Tags are the secret's tags.
	Tags map[string]string
	// RotationEnabled says AWS's own rotation is on.
	RotationEnabled bool
	// OwningService names an AWS service that made the secret ("rds").
	OwningService string
	// Created and LastChanged default to the fake's clock.
	Created, LastChanged time.Time
	// Deleted, when set, schedules the secret for deletion at that time.
	Deleted time.Time
}

// Seed adds a secret and returns its ARN. It panics if the name is taken.
func (s *Server) Seed(in Secret) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets[in.Name] != nil {
		panic("secretsmanager fake: secret " + in.Name + " seeded twice")
	}
	now := s.now()
	sec := s.newSecret(in.Name, now)
	if !in.Created.IsZero() {
		sec.created = in.Created
	}
	keys := make([]string, 0, len(in.Tags))
	for k := range in.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sec.setTag(k, in.Tags[k])
	}
	sec.rotationEnabled, sec.owningService, sec.deleted = in.RotationEnabled, in.OwningService, in.Deleted
	if in.Current != "" {
		v := in.Current
		sec.put(&version{id: newUUID(), str: &v, added: now}, []string{Current})
	}
	sec.lastChanged = sec.created
	if !in.LastChanged.IsZero() {
		sec.lastChanged = in.LastChanged
	}
	s.seeded(sec)
	return sec.arn
}

// SeedVersion adds a version to a seeded secret with the given id, string
// value and labels, moving the labels as AWS does. It leaves the secret's
// last-changed date alone.
func (s *Server) SeedVersion(name, id, value string, labels ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		panic("secretsmanager fake: no secret " + name)
	}
	if sec.versions[id] != nil {
		panic("secretsmanager fake: version " + id + " seeded twice")
	}
	changed := sec.lastChanged
	sec.put(&version{id: id, str: &value, added: s.now()}, labels)
	sec.lastChanged = changed
	s.seeded(sec)
}

// Tag sets a tag on a seeded secret as a seed does: its last-changed date
// stays, and a lagging list shows it.
func (s *Server) Tag(name, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		panic("secretsmanager fake: no secret " + name)
	}
	sec.setTag(key, value)
	s.seeded(sec)
}

// Versions returns every version of a secret, deprecated ones too, with
// their labels; nil if there is no such secret.
func (s *Server) Versions(name string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		return nil
	}
	out := make(map[string][]string, len(sec.versions))
	for id, v := range sec.versions {
		out[id] = append([]string{}, v.labels...)
	}
	return out
}

// Labelled returns the id of the version of a secret that has label, or "".
func (s *Server) Labelled(name, label string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[name]; sec != nil {
		if v := sec.labelled(label); v != nil {
			return v.id
		}
	}
	return ""
}

// Value returns the SecretString of the version of a secret that has
// label.
func (s *Server) Value(name, label string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[name]; sec != nil {
		if v := sec.labelled(label); v != nil && v.str != nil {
			return *v.str, true
		}
	}
	return "", false
}

// Tags returns a secret's tags; nil if there is no such secret.
func (s *Server) Tags(name string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		return nil
	}
	out := map[string]string{}
	for _, t := range sec.tags {
		out[t.key] = t.value
	}
	return out
}

// Exists reports whether a secret exists, scheduled for deletion or not.
func (s *Server) Exists(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secrets[name] != nil
}

// Calls returns how many calls of an operation ("ListSecrets") the fake
// has answered, failed ones included.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// AllCalls returns the count of every operation called.
func (s *Server) AllCalls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for op, n := range s.calls {
		out[op] = n
	}
	return out
}

// ResetCalls sets every count back to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
}

// FailNext makes the next call of op fail with f, changing nothing.
// Calls queue up: FailNext twice fails the next two calls.
func (s *Server) FailNext(op string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[op] = append(s.failures[op], f)
}

// apiError is an error as AWS answers it.
type apiError struct {
	status  int
	typ     string
	message string
}

func (e *apiError) Error() string { return e.typ + ": " + e.message }

func errorf(typ, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: typ, message: fmt.Sprintf(format, args...)}
}

const (
	errNotFound         = "ResourceNotFoundException"
	errExists           = "ResourceExistsException"
	errInvalidParameter = "InvalidParameterException"
	errInvalidRequest   = "InvalidRequestException"
	errInvalidNextToken = "InvalidNextTokenException"
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "secretsmanager.")
	if r.Method != http.MethodPost || r.URL.Path != "/" || !ok {
		writeError(w, &apiError{status: http.StatusBadRequest, typ: "UnknownOperationException", message: "The requested operation is not supported."})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeError(w, &apiError{status: http.StatusBadRequest, typ: "MissingAuthenticationTokenException", message: "Missing Authentication Token"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeError(w, errorf("SerializationException", "unexpected Content-Type"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, errorf("SerializationException", "cannot read the request"))
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge()
	s.calls[op]++
	if fs := s.failures[op]; len(fs) > 0 {
		f := fs[0]
		s.failures[op] = fs[1:]
		if f.Status == 0 {
			f.Status = http.StatusBadRequest
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeError(w, &apiError{status: f.Status, typ: f.Type, message: f.Message})
		return
	}
	handler, ok := operations[op]
	if !ok {
		writeError(w, &apiError{status: http.StatusBadRequest, typ: "UnknownOperationException", message: "The requested operation is not supported."})
		return
	}
	out, aerr := handler(s, body)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if !readOnly[op] {
		s.remember()
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newUUID())
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newUUID())
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "Message": e.message})
}

// decode reads a request body into v, refusing what is not JSON.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf("SerializationException", "The request body is not valid JSON for this operation.")
	}
	return nil
}

// epoch renders a time as AWS JSON does: seconds since the epoch.
func epoch(t time.Time) json.Number {
	return json.Number(fmt.Sprintf("%.3f", float64(t.UnixMilli())/1000))
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newSecret adds an empty secret to s; the caller holds s.mu.
func (s *Server) newSecret(name string, now time.Time) *secret {
	s.created++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d", name, s.created)))
	suffix := hex.EncodeToString(sum[:3])
	sec := &secret{
		name:     name,
		arn:      fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", Region, Account, name, suffix),
		versions: map[string]*version{},
		created:  now, lastChanged: now,
	}
	s.secrets[name] = sec
	return sec
}

// find returns the secret a SecretId names: its name, its ARN, or its ARN
// without the six characters AWS appends (a partial ARN).
func (s *Server) find(id string) (*secret, *apiError) {
	if id == "" {
		return nil, errorf(errInvalidParameter, "You must specify a SecretId.")
	}
	if sec := s.secrets[id]; sec != nil {
		return sec, nil
	}
	if strings.HasPrefix(id, "arn:") {
		for _, sec := range s.secrets {
			if sec.arn == id || sec.arn[:len(sec.arn)-7] == id {
				return sec, nil
			}
		}
	}
	return nil, errorf(errNotFound, "Secrets Manager can't find the specified secret.")
}

// live is find for operations that a secret scheduled for deletion
// refuses.
func (s *Server) live(id string) (*secret, *apiError) {
	sec, err := s.find(id)
	if err != nil {
		return nil, err
	}
	if !sec.deleted.IsZero() {
		return nil, errorf(errInvalidRequest, "You can't perform this operation on the secret because it was marked for deletion.")
	}
	return sec, nil
}

func (sec *secret) labelled(label string) *version {
	for _, v := range sec.versions {
		for _, l := range v.labels {
			if l == label {
				return v
			}
		}
	}
	return nil
}

// put adds v to sec with labels, following PutSecretValue's rules.
func (sec *secret) put(v *version, labels []string) {
	if len(sec.versions) == 0 && !contains(labels, Current) {
		labels = append(labels, Current)
	}
	sec.versions[v.id] = v
	for _, l := range labels {
		sec.attach(l, v)
	}
}

// attach moves label to v; moving AWSCURRENT moves AWSPREVIOUS to the
// version it left.
func (sec *secret) attach(label string, v *version) {
	old := sec.labelled(label)
	if old == v {
		return
	}
	if old != nil {
		old.labels = remove(old.labels, label)
	}
	v.labels = append(v.labels, label)
	if label == Current && old != nil {
		sec.attach(Previous, old)
	}
}

func (sec *secret) setTag(key, value string) {
	for i := range sec.tags {
		if sec.tags[i].key == key {
			sec.tags[i].value = value
			return
		}
	}
	sec.tags = append(sec.tags, tag{key, value})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func remove(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
