package fly

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/rotplan/rotplan/internal/retry"
	"github.com/rotplan/rotplan/internal/sensitive"
)

// UserAgent is sent with every request. cmd/rotplan may set it to
// "rotplan/VERSION" before it builds any target.
var UserAgent = "rotplan"

// Request limits. Retries and pacing are the shared policy's
// (internal/retry): 429s, 5xxs and network errors are tried again, within
// its attempts, backoff and Retry-After cap, for the calls that may be sent
// twice (call.idempotent).
const (
	requestTimeout = 30 * time.Second
	maxBody        = 4 << 20
	maxMessage     = 300
)

// client calls the Machines API's app secrets endpoints, as
// superfly/fly-go's flaps client does (flaps/flaps_secrets.go):
//
//	GET  /v1/apps/{app}/secrets[?version=N] → {"secrets":[{"name","digest",...}]}
//	POST /v1/apps/{app}/secrets {"values":{"K":"v","OLD":null}} → {"secrets":[...],"version":N}
//
// The update sets and unsets in one request and only stores the secrets:
// it restarts no Machine. machines.go adds the Machines endpoints that
// deploy them.
type client struct {
	base   *url.URL
	auth   string // the Authorization header
	http   *http.Client
	logger hclog.Logger
	// policy retries and paces every request; tests shorten its waits.
	policy retry.Policy
}

func newClient(base *url.URL, token string, logger hclog.Logger) *client {
	return &client{
		base:   base,
		auth:   authorization(token),
		http:   &http.Client{Timeout: requestTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		logger: logger,
		policy: retry.Default(),
	}
}

// authorization makes the Authorization header for a token the way fly-go
// does (tokens/tokens.go): a scheme the token came with ("FlyV1 fm2_...",
// as `fly tokens create` prints it, or "Bearer ...") is dropped; macaroon
// tokens (fm1r_, fm1a_, fm2_ parts, comma-separated) go as "FlyV1", any
// other token as "Bearer".
func authorization(token string) string {
	token = strings.TrimSpace(token)
	for {
		scheme, rest, ok := strings.Cut(token, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "FlyV1") {
			break
		}
		token = strings.TrimSpace(rest)
	}
	var macaroons, others []string
	for _, part := range strings.Split(token, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		switch prefix, _, _ := strings.Cut(part, "_"); prefix {
		case "fm1r", "fm1a", "fm2":
			macaroons = append(macaroons, part)
		default:
			others = append(others, part)
		}
	}
	if len(macaroons) > 0 {
		return "FlyV1 " + strings.Join(macaroons, ",")
	}
	return "Bearer " + strings.Join(others, ",")
}

// appSecret is one entry of a list or update response. The API never sends
// values here: rotplan does not ask for them (show_secrets), and only a
// Machine of the app could read them.
type appSecret struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// list returns the app's secrets, as of at least minVersion (0: any).
func (c *client) list(ctx context.Context, app string, minVersion uint64, scrub []sensitive.Value) ([]appSecret, error) {
	var q url.Values
	if minVersion > 0 {
		q = url.Values{"version": {strconv.FormatUint(minVersion, 10)}}
	}
	var out struct {
		Secrets []appSecret `json:"secrets"`
	}
	if err := c.do(ctx, call{op: "list secrets", api: "fly.secrets.list", idempotent: true, method: http.MethodGet, app: app, path: []string{"secrets"}, query: q}, scrub, &out); err != nil {
		return nil, err
	}
	return out.Secrets, nil
}

// updated is the answer to an update: the secrets it set, with their new
// digests, and the app's secrets version after it.
type updated struct {
	Secrets []appSecret `json:"secrets"`
	Version uint64      `json:"version"`
}

// update sets each key of set and unsets each of unset, in one request.
// scrub lists every value that must not appear in an error.
func (c *client) update(ctx context.Context, app string, set map[string]sensitive.Value, unset []string, scrub []sensitive.Value) (*updated, error) {
	values := make(map[string]*string, len(set)+len(unset))
	for k, v := range set {
		s := v.Reveal()
		values[k] = &s
	}
	for _, k := range unset {
		values[k] = nil
	}
	body, err := json.Marshal(struct {
		Values map[string]*string `json:"values"`
	}{values})
	if err != nil {
		return nil, errors.New("encoding the update failed")
	}
	defer clear(body)
	var out updated
	// The update states every value it sets: sending it twice leaves the
	// app as sending it once does.
	if err := c.do(ctx, call{op: "update secrets", api: "fly.secrets.update", idempotent: true, method: http.MethodPost, app: app, path: []string{"secrets"}, body: body}, scrub, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// APIError is a request the Machines API refused or failed. Message is
// Fly's own error message with every value rotplan knows of scrubbed out;
// the response body itself is never kept.
type APIError struct {
	Op        string // what was asked: "list secrets", "update secrets", "update machine ID", ...
	App       string
	Status    int
	Message   string
	RequestID string // Fly's fly-request-id, for Fly's support

	retryAfter time.Duration // what Fly's Retry-After asked for
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fly app %q: %s: %d %s", e.App, e.Op, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	machines := strings.Contains(e.Op, "machine")
	switch {
	case e.Status == http.StatusUnauthorized:
		b.WriteString(" (check the provider's api_token: a deploy token of the app, from `fly tokens create deploy`, is enough)")
	case e.Status == http.StatusForbidden && machines:
		b.WriteString(" (the api_token may not update this app's Machines; a deploy token of the app can)")
	case e.Status == http.StatusForbidden:
		b.WriteString(" (the api_token may not manage this app's secrets)")
	case e.Status == http.StatusNotFound && machines && e.Op != "list machines":
		b.WriteString(" (the Machine is gone: destroyed or replaced meanwhile)")
	case e.Status == http.StatusNotFound:
		b.WriteString(" (no such app, or the api_token cannot see it)")
	case e.Status == http.StatusConflict && machines:
		b.WriteString(" (another deploy holds a lease on the Machine; run apply again when it is done)")
	}
	if e.RequestID != "" {
		b.WriteString(" [fly-request-id " + e.RequestID + "]")
	}
	return b.String()
}

// call is one request to the API.
type call struct {
	op  string // what is asked, for errors and logs: "list secrets", "update machine ID"
	api string // the shared policy's name for it, for its limiter: "fly.machines.update"
	// idempotent says the request may be sent again after a 5xx or a lost
	// connection: it reads, or states its whole result. A request that is
	// not (a Machine update restarts the Machine; a lease is granted once)
	// is sent again only after a 429.
	idempotent bool
	method     string
	app        string
	path       []string // the segments after /v1/apps/{app}, unescaped
	query      url.Values
	body       []byte
	nonce      string // a Machine lease's nonce, sent as fly-machine-lease-nonce
}

// do sends one request through the shared retry policy and decodes a 2xx
// answer into out. Every attempt is logged (never a body); an error carries
// Fly's message with every value of scrub taken out.
func (c *client) do(ctx context.Context, r call, scrub []sensitive.Value, out any) error {
	op, app := r.op, r.app
	u := c.endpoint(app, r.path, r.query)
	attempt := 0
	classify := func(err error) retry.Verdict {
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr):
			return retry.Verdict{Class: retry.HTTPStatus(apiErr.Status), RetryAfter: apiErr.retryAfter}
		case errors.Is(err, errUndecodable):
			return retry.Verdict{Class: retry.Permanent}
		}
		return retry.Verdict{Class: retry.Transient} // the network
	}
	err := c.policy.Do(ctx, retry.Call{API: r.api, Idempotent: r.idempotent}, classify, func(ctx context.Context) error {
		attempt++
		started := time.Now()
		status, header, respBody, err := c.once(ctx, r.method, u, r.body, r.nonce)
		defer clear(respBody)
		c.logger.Debug("fly api", "op", op, "app", app, "attempt", attempt, "status", status, "took", time.Since(started).Round(time.Millisecond))
		switch {
		case err != nil:
			return fmt.Errorf("fly app %q: %s: %w", app, op, err)
		case status >= 200 && status < 300:
			if out != nil && json.Unmarshal(respBody, out) != nil {
				return fmt.Errorf("fly app %q: %s: the answer (status %d, %d bytes) is %w", app, op, status, len(respBody), errUndecodable)
			}
			return nil
		}
		return &APIError{Op: op, App: app, Status: status, Message: scrubMessage(errorMessage(respBody), scrub), RequestID: header.Get("Fly-Request-Id"), retryAfter: retry.RetryAfter(header, time.Now())}
	})
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// errUndecodable: a 2xx answer that is not the JSON the API documents.
var errUndecodable = errors.New("not the JSON the API documents")

// once makes one HTTP exchange; a network error's text names the URL and
// never a body.
func (c *client) once(ctx context.Context, method string, u *url.URL, body []byte, nonce string) (int, http.Header, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if nonce != "" {
		req.Header.Set("Fly-Machine-Lease-Nonce", nonce)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		clear(b)
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// endpoint is {api_url}/v1/apps/{app}/{path...}.
func (c *client) endpoint(app string, path []string, query url.Values) *url.URL {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + "/v1/apps/" + app
	u.RawPath = strings.TrimRight(c.base.EscapedPath(), "/") + "/v1/apps/" + url.PathEscape(app)
	for _, seg := range path {
		u.Path += "/" + seg
		u.RawPath += "/" + url.PathEscape(seg)
	}
	u.RawQuery = query.Encode()
	return &u
}

// errorMessage is the message field of Fly's error body, {"error": "..."}
// or {"message": "..."} as fly-go reads it; "" when there is none.
func errorMessage(body []byte) string {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	if e.Message != "" {
		return e.Message
	}
	return e.Error
}

// scrubMessage makes Fly's error message safe to show. Each value, and its
// JSON-escaped form, is replaced by "(sensitive)"; if any run of 8 bytes of
// a value (all of it, if shorter) is still there, Fly quoted part of one
// and the whole message is withheld. Control characters are dropped and the
// message is cut to a readable length.
func scrubMessage(msg string, values []sensitive.Value) string {
	if msg == "" {
		return ""
	}
	for _, v := range values {
		if v.IsEmpty() {
			continue
		}
		msg = strings.ReplaceAll(msg, v.Reveal(), sensitive.Redacted)
		for _, escaped := range jsonForms(v.Reveal()) {
			msg = strings.ReplaceAll(msg, escaped, sensitive.Redacted)
		}
	}
	for _, v := range values {
		b := v.Bytes()
		n := min(8, len(b))
		for i := 0; n > 0 && i+n <= len(b); i++ {
			if strings.Contains(msg, string(b[i:i+n])) {
				return "(message withheld: it quoted part of a secret value)"
			}
		}
	}
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, msg)
	msg = strings.TrimSpace(msg)
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// jsonForms returns s as it appears inside a JSON string, with and without
// HTML escaping, when that differs from s.
func jsonForms(s string) []string {
	var forms []string
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(s) != nil {
			continue
		}
		f := strings.TrimSuffix(b.String(), "\n")
		f = strings.TrimSuffix(strings.TrimPrefix(f, `"`), `"`)
		if f != s {
			forms = append(forms, f)
		}
	}
	return forms
}
