package httpcheck

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// DefaultAttemptTimeout bounds one request, from connecting to reading the
// body: an endpoint that has not answered by then fails that attempt, and
// the check tries again after interval.
const DefaultAttemptTimeout = 10 * time.Second

// maxBody is the most of a response body a check reads.
const maxBody = 1 << 20

// Verifier is verify "http".
type Verifier struct {
	client *http.Client
	logger hclog.Logger
}

var _ providers.Verifier = (*Verifier)(nil)

// New returns a verify "http" whose requests each give up after
// DefaultAttemptTimeout. It does not follow redirects: a redirect is a
// status like any other, and following it could carry the check's headers
// to another host.
func New(s providers.Settings) (*Verifier, error) {
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &Verifier{
		client: &http.Client{
			Transport: transport,
			Timeout:   DefaultAttemptTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		logger: logger.Named("http"),
	}, nil
}

// Verify calls the check's URL until the response has the expected status
// and, with json_path, the expected JSON value, trying every interval until
// timeout or ctx's deadline, whichever comes first. The error after the
// last attempt says what that attempt saw: the status code, whether
// json_path matched, or why there was no response. It never carries a
// header, the body sent or received, or the URL's user, query or fragment;
// the URL shows as scheme://host/path, and any text of the value or of a
// header, body, query or user is replaced by (sensitive) wherever it
// appears.
func (v *Verifier) Verify(ctx context.Context, req providers.VerifyRequest) (*providers.VerifyResponse, error) {
	c, err := decodeCheck(req.Config, req.Value)
	if err != nil {
		return nil, fmt.Errorf("verify http: %w", err)
	}
	defer v.client.CloseIdleConnections()
	where := c.method + " " + c.scrub(c.display)

	start := time.Now()
	deadline := start.Add(c.timeout)
	callersDeadline := false
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, callersDeadline = d, true
	}
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verify http %s: %w", where, err)
	}
	var last, before outcome
	n := 0
	for {
		n++
		before, last = last, v.attempt(runCtx, c)
		v.logger.Debug("attempt", "secret", req.Secret, "check", where, "attempt", n, "outcome", c.scrub(last.String()))
		if last.passed() {
			detail := fmt.Sprintf("%s: %s", where, c.scrub(last.String()))
			if n > 1 {
				detail += fmt.Sprintf(" after %d attempts", n)
			}
			return &providers.VerifyResponse{Detail: detail}, nil
		}
		// Wait for the next attempt unless the deadline comes first;
		// comparing times, not racing the two timers.
		if time.Until(deadline) <= c.interval {
			_ = sleep(runCtx, time.Until(deadline))
			break
		}
		if !sleep(runCtx, c.interval) {
			break
		}
	}

	attempts := "1 attempt"
	if n > 1 {
		attempts = fmt.Sprintf("%d attempts", n)
	}
	saw := "the last one saw " + last.String()
	if last.cut && n > 1 {
		saw = "the last one was cut short by the deadline; the one before saw " + before.String()
	}
	msg := fmt.Sprintf("verify http %s: no success in %s over %s; %s", where, attempts, time.Since(start).Round(100*time.Millisecond), c.scrub(saw))
	// The caller's deadline or cancel is its error to see; the check's own
	// timeout is only a failed check.
	err = ctx.Err()
	if err == nil && callersDeadline && !time.Now().Before(deadline) {
		err = context.DeadlineExceeded // runCtx's timer fired first
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", msg, err)
	}
	return nil, errors.New(msg)
}

// sleep waits for d, and reports false if ctx was done first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// check is a decoded verify "http" block.
type check struct {
	method       string
	url          *url.URL
	display      string // scheme://host/path
	headers      map[string]string
	body         *string
	expectStatus int
	jsonPath     string // "" for none
	expectValue  *string
	interval     time.Duration
	timeout      time.Duration
	// secrets are the texts no message may carry, longest first.
	secrets []string
}

// minScrub is the shortest text scrub replaces: shorter ones would garble
// messages (a header value "1" inside "127.0.0.1") and are no secret.
const minScrub = 4

// scrub replaces every text of c.secrets in s with (sensitive).
func (c *check) scrub(s string) string {
	for _, secret := range c.secrets {
		s = strings.ReplaceAll(s, secret, sensitive.Redacted)
	}
	return s
}

// decodeCheck reads a decoded verify "http" block. Its errors name the
// attribute at fault, never its text.
func decodeCheck(cfg cty.Value, value sensitive.Value) (*check, error) {
	cfg, _ = cfg.UnmarkDeep()
	if cfg.IsNull() || !cfg.IsKnown() || !cfg.Type().IsObjectType() {
		return nil, errors.New("the verify block is not decoded")
	}
	c := &check{
		method:       DefaultMethod,
		expectStatus: DefaultExpectStatus,
		headers:      map[string]string{},
	}
	var secrets []string
	if !value.IsEmpty() {
		// As written, and as it would be escaped in the URL's path.
		secrets = append(secrets, value.Reveal(), url.PathEscape(value.Reveal()), url.QueryEscape(value.Reveal()))
	}

	rawURL, err := providers.StringAttr(cfg, "url")
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("url is not an http or https URL")
	}
	c.url = u
	c.display = u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.User != nil {
		secrets = append(secrets, u.User.Username())
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	secrets = append(secrets, u.RawQuery, u.Fragment)
	if q, err := url.QueryUnescape(u.RawQuery); err == nil {
		secrets = append(secrets, q)
	}

	if m, err := providers.StringAttr(cfg, "method"); err != nil {
		return nil, err
	} else if m != "" {
		if !slices.Contains(methods, m) {
			return nil, fmt.Errorf("method is not one of %s", strings.Join(methods, ", "))
		}
		c.method = m
	}

	if cfg.Type().HasAttribute("headers") {
		h := cfg.GetAttr("headers")
		switch {
		case h.IsNull():
		case !h.IsWhollyKnown():
			return nil, errors.New("headers are not known")
		case !h.CanIterateElements():
			return nil, errors.New("headers is not a map of strings")
		default:
			for it := h.ElementIterator(); it.Next(); {
				k, val := it.Element()
				if k.Type() != cty.String || val.IsNull() || val.Type() != cty.String {
					return nil, errors.New("headers is not a map of strings")
				}
				name, text := k.AsString(), val.AsString()
				if !validHeaderName(name) {
					return nil, errors.New("headers has a name that is not an HTTP header name")
				}
				if !validHeaderValue(text) {
					return nil, fmt.Errorf("header %s has a value that cannot be sent: it holds a line break or another control character", name)
				}
				c.headers[name] = text
				if !plainHeaders[http.CanonicalHeaderKey(name)] {
					secrets = append(secrets, text)
				}
			}
		}
	}

	if cfg.Type().HasAttribute("body") && !cfg.GetAttr("body").IsNull() {
		b, err := providers.StringAttr(cfg, "body")
		if err != nil {
			return nil, err
		}
		c.body = &b
		secrets = append(secrets, b)
	}

	if cfg.Type().HasAttribute("expect_status") && !cfg.GetAttr("expect_status").IsNull() {
		s := cfg.GetAttr("expect_status")
		if !s.IsKnown() || s.Type() != cty.Number {
			return nil, errors.New("expect_status is not a number")
		}
		n, acc := s.AsBigFloat().Int64()
		if acc != 0 || n < 100 || n > 599 {
			return nil, errors.New("expect_status is not a status code from 100 to 599")
		}
		c.expectStatus = int(n)
	}

	if c.jsonPath, err = providers.StringAttr(cfg, "json_path"); err != nil {
		return nil, err
	}
	if c.jsonPath != "" && slices.Contains(strings.Split(c.jsonPath, "."), "") {
		return nil, errors.New("json_path has an empty segment")
	}
	if cfg.Type().HasAttribute("expect_value") && !cfg.GetAttr("expect_value").IsNull() {
		want, err := providers.StringAttr(cfg, "expect_value")
		if err != nil {
			return nil, err
		}
		if c.jsonPath == "" {
			return nil, errors.New("expect_value needs json_path")
		}
		c.expectValue = &want
	}

	if c.interval, err = durationAttr(cfg, "interval", DefaultInterval); err != nil {
		return nil, err
	}
	if c.timeout, err = durationAttr(cfg, "timeout", DefaultTimeout); err != nil {
		return nil, err
	}

	for _, s := range secrets {
		if len(s) >= minScrub && !slices.Contains(c.secrets, s) {
			c.secrets = append(c.secrets, s)
		}
	}
	// Longest first, so a header holding the value is replaced whole.
	slices.SortFunc(c.secrets, func(a, b string) int { return len(b) - len(a) })
	return c, nil
}

// plainHeaders carry no secret, so scrub leaves their text alone: a Host
// header is often the URL's own host, which errors show.
var plainHeaders = map[string]bool{"Host": true, "Accept": true, "Content-Type": true, "User-Agent": true}

// durationAttr returns a duration attribute, def when absent or null.
func durationAttr(cfg cty.Value, name, def string) (time.Duration, error) {
	s, err := providers.StringAttr(cfg, name)
	if err != nil {
		return 0, err
	}
	if s == "" {
		s = def
	}
	d, err := config.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s is not a duration such as \"5s\" or \"2m\"", name)
	}
	return d, nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s has no control character but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// outcome is what one attempt saw. Its text holds no response content.
type outcome struct {
	status int // 0 when there was no response
	// problem says why the attempt failed, "" when it passed.
	problem string
	// cut is true when the check's deadline ended the attempt.
	cut  bool
	path string // json_path, for the text of a pass
}

func (o outcome) passed() bool { return o.status != 0 && o.problem == "" }

func (o outcome) String() string {
	switch {
	case o.status == 0:
		return "no response: " + o.problem
	case o.problem != "":
		return fmt.Sprintf("status %d, %s", o.status, o.problem)
	case o.path != "":
		return fmt.Sprintf("status %d, json_path %s matched", o.status, o.path)
	}
	return fmt.Sprintf("status %d", o.status)
}

// attempt makes one request and judges its response.
func (v *Verifier) attempt(ctx context.Context, c *check) outcome {
	out := outcome{path: c.jsonPath}
	var body io.Reader
	if c.body != nil {
		body = strings.NewReader(*c.body)
	}
	// The request gets a copy of the parsed URL: building it from text
	// could fail with an error that quotes the text.
	req, err := http.NewRequestWithContext(ctx, c.method, "http://placeholder.invalid/", body)
	if err != nil {
		out.problem = "the request could not be built"
		return out
	}
	u := *c.url
	req.URL = &u
	req.Host = u.Host
	req.Header.Set("User-Agent", "rotplan")
	for k, val := range c.headers {
		if http.CanonicalHeaderKey(k) == "Host" {
			req.Host = val
			continue
		}
		req.Header.Set(k, val)
	}

	resp, err := v.client.Do(req)
	if err != nil {
		out.problem = describeError(ctx, err, v.client.Timeout)
		out.cut = ctx.Err() != nil
		return out
	}
	defer resp.Body.Close()
	out.status = resp.StatusCode
	if resp.StatusCode != c.expectStatus || c.jsonPath == "" {
		if resp.StatusCode != c.expectStatus {
			out.problem = fmt.Sprintf("want %d", c.expectStatus)
		}
		// Read what is left so the connection can serve the next attempt.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return out
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	defer clear(b)
	switch {
	case err != nil:
		out.problem = "but its body could not be read: " + describeError(ctx, err, v.client.Timeout)
		out.cut = ctx.Err() != nil
	case len(b) > maxBody:
		out.problem = "but its body is larger than 1 MiB"
	default:
		out.problem = judgeJSON(b, c)
	}
	return out
}

// judgeJSON returns "" when the value at c.jsonPath of the JSON document b
// passes, else what is wrong, in words that quote nothing of b.
func judgeJSON(b []byte, c *check) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return "but its body is not JSON"
	}
	got, ok := lookup(doc, strings.Split(c.jsonPath, "."))
	switch {
	case !ok:
		return fmt.Sprintf("but json_path %s is missing from the response", c.jsonPath)
	case c.expectValue == nil:
		if got == nil || got == false {
			return fmt.Sprintf("but json_path %s is null or false", c.jsonPath)
		}
		return ""
	}
	if text, scalar := scalarText(got); !scalar || text != *c.expectValue {
		return fmt.Sprintf("but json_path %s did not match the expected value", c.jsonPath)
	}
	return ""
}

// lookup walks path through a decoded JSON document: object keys and array
// indexes.
func lookup(doc any, path []string) (any, bool) {
	for _, seg := range path {
		switch node := doc.(type) {
		case map[string]any:
			next, ok := node[seg]
			if !ok {
				return nil, false
			}
			doc = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(node) || strconv.Itoa(i) != seg {
				return nil, false
			}
			doc = node[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

// scalarText is a JSON scalar's text: a string as is, a number as written,
// true, false or null; objects and arrays are not scalars.
func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "null", true
	}
	return "", false
}

// describeError says why a request got no response, in words that never
// quote the URL, a header or any response content: url.Error carries the
// whole URL, and some transport errors quote what the server sent, so only
// errors known to hold addresses and reasons alone pass through.
func describeError(ctx context.Context, err error, attemptTimeout time.Duration) string {
	var (
		netErr  net.Error
		opErr   *net.OpError
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		hostErr x509.HostnameError
		authErr x509.UnknownAuthorityError
		invErr  x509.CertificateInvalidError
		recErr  tls.RecordHeaderError
	)
	switch {
	case ctx.Err() != nil:
		return "the check's time ran out during the request"
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("the server did not answer within %s", attemptTimeout)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("lookup %s: %s", dnsErr.Name, dnsErr.Err)
	case errors.As(err, &certErr):
		return "the server's certificate was not accepted: " + certErr.Err.Error()
	case errors.As(err, &hostErr), errors.As(err, &authErr), errors.As(err, &invErr):
		return "the server's certificate was not accepted"
	case errors.As(err, &recErr):
		return "the server did not answer in TLS: is it an http server behind an https URL?"
	case errors.As(err, &opErr):
		return opErr.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection"
	}
	// Texts of net/http said in words of our own: some of them quote what
	// the server sent.
	switch msg := err.Error(); {
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return "the server gave an HTTP response to an HTTPS request"
	case strings.Contains(msg, "malformed HTTP"):
		return "the server's answer was not HTTP"
	}
	return "the request failed"
}
