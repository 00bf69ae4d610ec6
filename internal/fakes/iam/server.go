package iam

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Account is the account id the fake's users belong to.
const Account = "123456789012"

// MaxKeysPerUser is IAM's quota of access keys per user.
const MaxKeysPerUser = 2

// Key statuses.
const (
	Active   = "Active"
	Inactive = "Inactive"
)

// Server is a running fake.
type Server struct {
	// URL is the endpoint to give the SDK.
	URL string

	mu    sync.Mutex
	now   func() time.Time
	users map[string]*user // by name
	keys  map[string]*key  // by access key id
	calls map[string]int
	fail  map[string][]Failure
	seq   int
}

type user struct {
	name, id string
	keys     []string // access key ids, oldest first
}

type key struct {
	id, secret, user, status string
	created                  time.Time
}

// Key is what the fake holds about one access key, as ListAccessKeys
// reports it.
type Key struct {
	ID      string
	Status  string
	Created time.Time
}

// Failure is an error the fake answers one call with.
type Failure struct {
	Status  int    // HTTP status; 500 when zero
	Code    string // the error code, e.g. "ServiceFailure"
	Message string
}

// New starts a fake that stops when the test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		now:   time.Now,
		users: map[string]*user{},
		keys:  map[string]*key{},
		calls: map[string]int{},
		fail:  map[string][]Failure{},
	}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// SetClock sets what the fake takes for the time now, for the creation
// dates of the keys it issues.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// AddUser adds a user with no keys; adding one that exists does nothing.
func (s *Server) AddUser(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUser(name)
}

func (s *Server) addUser(name string) *user {
	if u := s.users[name]; u != nil {
		return u
	}
	s.seq++
	u := &user{name: name, id: fmt.Sprintf("AIDA%016d", s.seq)}
	s.users[name] = u
	return u
}

// AddKey gives a user (made if missing) an Active key with the given id
// and secret, created at the fake's time now: the credentials a test
// signs its administrative calls with, or a key that exists before
// rotplan runs. It ignores IAM's quota, and panics on an id in use.
func (s *Server) AddKey(userName, id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[id] != nil {
		panic("iam fake: access key " + id + " added twice")
	}
	u := s.addUser(userName)
	s.keys[id] = &key{id: id, secret: secret, user: userName, status: Active, created: s.now().UTC().Truncate(time.Second)}
	u.keys = append(u.keys, id)
}

// Keys returns the user's keys, oldest first.
func (s *Server) Keys(userName string) []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[userName]
	if u == nil {
		return nil
	}
	out := make([]Key, 0, len(u.keys))
	for _, id := range u.keys {
		k := s.keys[id]
		out = append(out, Key{ID: k.id, Status: k.status, Created: k.created})
	}
	return out
}

// Calls returns how many calls of an action the fake answered, signed or
// not.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// FailNext makes the next call of action fail with f, after its signature
// is checked.
func (s *Server) FailNext(action string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[action] = append(s.fail[action], f)
}

// apiError is an error answer.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) typ() string {
	if e.status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// actions answers each Action; handlers run under s.mu with the caller's
// key.
var actions = map[string]struct {
	service string // the signing name the credential scope must carry
	handle  func(s *Server, caller *key, form url.Values) (any, *apiError)
}{
	"CreateAccessKey":   {"iam", (*Server).createAccessKey},
	"ListAccessKeys":    {"iam", (*Server).listAccessKeys},
	"UpdateAccessKey":   {"iam", (*Server).updateAccessKey},
	"DeleteAccessKey":   {"iam", (*Server).deleteAccessKey},
	"GetCallerIdentity": {"sts", (*Server).getCallerIdentity},
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		writeError(w, "iam", &apiError{http.StatusBadRequest, "MalformedQueryString", "POST a form-encoded body"})
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, "iam", &apiError{http.StatusBadRequest, "MalformedQueryString", "the body is not form-encoded"})
		return
	}
	action := form.Get("Action")
	op, ok := actions[action]
	if !ok {
		writeError(w, "iam", &apiError{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, form.Get("Version"))})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[action]++
	caller, aerr := s.authenticate(r, body, op.service)
	if aerr == nil {
		if fs := s.fail[action]; len(fs) > 0 {
			f := fs[0]
			s.fail[action] = fs[1:]
			aerr = &apiError{f.Status, f.Code, f.Message}
			if aerr.status == 0 {
				aerr.status = http.StatusInternalServerError
			}
		}
	}
	var result any
	if aerr == nil {
		result, aerr = op.handle(s, caller, form)
	}
	if aerr != nil {
		writeError(w, op.service, aerr)
		return
	}
	writeResult(w, op.service, action, result)
}

// namespaces are the XML namespaces of each service's answers.
var namespaces = map[string]string{
	"iam": "https://iam.amazonaws.com/doc/2010-05-08/",
	"sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}

func writeResult(w http.ResponseWriter, service, action string, result any) {
	var b strings.Builder
	fmt.Fprintf(&b, `<%sResponse xmlns="%s"><%sResult>`, action, namespaces[service], action)
	if result != nil {
		out, err := xml.Marshal(result)
		if err != nil {
			panic(err) // the fake's own types always encode
		}
		// Drop the wrapper element xml.Marshal adds for the result type.
		inner := string(out)
		inner = inner[strings.Index(inner, ">")+1 : strings.LastIndex(inner, "<")]
		b.WriteString(inner)
	}
	fmt.Fprintf(&b, `</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`, action, newRequestID(), action)
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, b.String())
}

func writeError(w http.ResponseWriter, service string, e *apiError) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	var msg strings.Builder
	_ = xml.EscapeText(&msg, []byte(e.message))
	fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		namespaces[service], e.typ(), e.code, msg.String(), newRequestID())
}

// userNamePattern is IAM's pattern for a user name.
var userNamePattern = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)

// targetUser is the user a request names, or the caller's own when it
// names none, as IAM does.
func (s *Server) targetUser(caller *key, form url.Values) (*user, *apiError) {
	name := form.Get("UserName")
	if name == "" {
		name = caller.user
	}
	if !userNamePattern.MatchString(name) {
		return nil, &apiError{http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"}
	}
	u := s.users[name]
	if u == nil {
		return nil, &apiError{http.StatusNotFound, "NoSuchEntity", fmt.Sprintf("The user with name %s cannot be found.", name)}
	}
	return u, nil
}

// userKey is the key a request names, of the user it names.
func (s *Server) userKey(caller *key, form url.Values) (*user, *key, *apiError) {
	u, aerr := s.targetUser(caller, form)
	if aerr != nil {
		return nil, nil, aerr
	}
	id := form.Get("AccessKeyId")
	if id == "" {
		return nil, nil, &apiError{http.StatusBadRequest, "ValidationError", "1 validation error detected: Value null at 'accessKeyId' failed to satisfy constraint: Member must not be null"}
	}
	k := s.keys[id]
	if k == nil || k.user != u.name {
		return nil, nil, &apiError{http.StatusNotFound, "NoSuchEntity", fmt.Sprintf("The Access Key with id %s cannot be found.", id)}
	}
	return u, k, nil
}

type accessKeyXML struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

// The results of the actions that answer with one; writeResult drops
// their own element and wraps the rest in <ActionResult>.
type (
	createResult struct {
		XMLName   xml.Name     `xml:"result"`
		AccessKey accessKeyXML `xml:"AccessKey"`
	}
	listResult struct {
		XMLName     xml.Name       `xml:"result"`
		Members     []accessKeyXML `xml:"AccessKeyMetadata>member"`
		IsTruncated bool           `xml:"IsTruncated"`
		Marker      string         `xml:"Marker,omitempty"`
	}
	callerResult struct {
		XMLName xml.Name `xml:"result"`
		Arn     string   `xml:"Arn"`
		UserID  string   `xml:"UserId"`
		Account string   `xml:"Account"`
	}
)

func (s *Server) createAccessKey(caller *key, form url.Values) (any, *apiError) {
	u, aerr := s.targetUser(caller, form)
	if aerr != nil {
		return nil, aerr
	}
	if len(u.keys) >= MaxKeysPerUser {
		return nil, &apiError{http.StatusConflict, "LimitExceeded", fmt.Sprintf("Cannot exceed quota for AccessKeysPerUser: %d", MaxKeysPerUser)}
	}
	k := &key{id: newKeyID(), secret: newSecret(), user: u.name, status: Active, created: s.now().UTC().Truncate(time.Second)}
	s.keys[k.id] = k
	u.keys = append(u.keys, k.id)
	return createResult{AccessKey: accessKeyXML{u.name, k.id, k.status, k.secret, k.created.Format(time.RFC3339)}}, nil
}

func (s *Server) listAccessKeys(caller *key, form url.Values) (any, *apiError) {
	u, aerr := s.targetUser(caller, form)
	if aerr != nil {
		return nil, aerr
	}
	maxItems := 100
	if v := form.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, &apiError{http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"}
		}
		maxItems = n
	}
	start := 0
	if m := form.Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > len(u.keys) {
			return nil, &apiError{http.StatusBadRequest, "ValidationError", "Invalid Marker"}
		}
		start = n
	}
	out := listResult{Members: []accessKeyXML{}}
	end := min(start+maxItems, len(u.keys))
	for _, id := range u.keys[start:end] {
		k := s.keys[id]
		out.Members = append(out.Members, accessKeyXML{UserName: u.name, AccessKeyID: k.id, Status: k.status, CreateDate: k.created.Format(time.RFC3339)})
	}
	if end < len(u.keys) {
		out.IsTruncated, out.Marker = true, strconv.Itoa(end)
	}
	return out, nil
}

func (s *Server) updateAccessKey(caller *key, form url.Values) (any, *apiError) {
	_, k, aerr := s.userKey(caller, form)
	if aerr != nil {
		return nil, aerr
	}
	switch st := form.Get("Status"); st {
	case Active, Inactive:
		k.status = st
	default:
		return nil, &apiError{http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"}
	}
	return nil, nil
}

func (s *Server) deleteAccessKey(caller *key, form url.Values) (any, *apiError) {
	u, k, aerr := s.userKey(caller, form)
	if aerr != nil {
		return nil, aerr
	}
	delete(s.keys, k.id)
	for i, id := range u.keys {
		if id == k.id {
			u.keys = append(u.keys[:i:i], u.keys[i+1:]...)
			break
		}
	}
	return nil, nil
}

func (s *Server) getCallerIdentity(caller *key, _ url.Values) (any, *apiError) {
	u := s.users[caller.user]
	return callerResult{Arn: ARN(u.name), UserID: u.id, Account: Account}, nil
}

// ARN is the ARN the fake gives a user.
func ARN(userName string) string { return "arn:aws:iam::" + Account + ":user/" + userName }

func newKeyID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "AKIA" + string(b)
}

func newSecret() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, 40)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
