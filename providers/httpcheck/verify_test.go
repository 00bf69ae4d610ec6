package httpcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// checkBlock decodes the body of a verify "http" block the way apply does,
// with secret.api_token.value (marked, as apply may mark it) set to canary.
func checkBlock(t *testing.T, body string) cty.Value {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(body), "check.hcl")
	if diags.HasErrors() {
		t.Fatalf("test HCL does not parse: %s", diags.Error())
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"secret": cty.ObjectVal(map[string]cty.Value{
			"api_token": cty.ObjectVal(map[string]cty.Value{"value": cty.StringVal(canary).Mark("sensitive")}),
		}),
	}}
	v, diags := hcldec.Decode(f.Body, verifySpec, ctx)
	if diags.HasErrors() {
		t.Fatalf("check does not decode: %s", diags.Error())
	}
	return v
}

// logged is a verifier whose logs, at every level, go to a buffer.
func logged(t *testing.T) (*Verifier, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	v, err := New(providers.Settings{Logger: hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Trace})})
	if err != nil {
		t.Fatal(err)
	}
	return v, buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// respond answers every request with status and body.
func respond(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestVerify(t *testing.T) {
	tests := map[string]struct {
		handler http.HandlerFunc
		// block is the check's body; %s is the server's URL.
		block string
		// err, when set, is part of the error; else the check passes and
		// detail is part of its Detail.
		err    string
		detail string
	}{
		"status_ok": {
			handler: respond(200, `{}`),
			block:   `url = "%s/health"`,
			detail:  "GET http://127.0.0.1:",
		},
		"expect_status": {
			handler: respond(204, ``),
			block:   "url = \"%s/health\"\nexpect_status = 204",
			detail:  "status 204",
		},
		"wrong_status": {
			handler: respond(503, `{"status": "down"}`),
			block:   `url = "%s/health"`,
			err:     "the last one saw status 503, want 200",
		},
		"redirect_is_not_followed": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			},
			block: `url = "%s/health"`,
			err:   "status 302, want 200",
		},
		"json_path_match": {
			handler: respond(200, `{"components": {"postgres": "up", "redis": "up"}}`),
			block:   "url = \"%s/health\"\njson_path = \"components.postgres\"\nexpect_value = \"up\"",
			detail:  "status 200, json_path components.postgres matched",
		},
		"json_path_mismatch": {
			handler: respond(200, `{"components": {"postgres": "down"}}`),
			block:   "url = \"%s/health\"\njson_path = \"components.postgres\"\nexpect_value = \"up\"",
			err:     "status 200, but json_path components.postgres did not match the expected value",
		},
		"json_path_array_index": {
			handler: respond(200, `{"items": [{"id": "a"}, {"id": "b"}]}`),
			block:   "url = \"%s/\"\njson_path = \"items.1.id\"\nexpect_value = \"b\"",
		},
		"json_path_index_out_of_range": {
			handler: respond(200, `{"items": [{"id": "a"}]}`),
			block:   "url = \"%s/\"\njson_path = \"items.1.id\"",
			err:     "json_path items.1.id is missing from the response",
		},
		"json_path_number_as_written": {
			handler: respond(200, `{"count": 3}`),
			block:   "url = \"%s/\"\njson_path = \"count\"\nexpect_value = 3",
		},
		"json_path_number_written_otherwise": {
			handler: respond(200, `{"count": 3.0}`),
			block:   "url = \"%s/\"\njson_path = \"count\"\nexpect_value = 3",
			err:     "json_path count did not match the expected value",
		},
		"json_path_bool": {
			handler: respond(200, `{"ok": true}`),
			block:   "url = \"%s/\"\njson_path = \"ok\"\nexpect_value = \"true\"",
		},
		"json_path_object_never_equals": {
			handler: respond(200, `{"ok": {"a": 1}}`),
			block:   "url = \"%s/\"\njson_path = \"ok\"\nexpect_value = \"{}\"",
			err:     "json_path ok did not match the expected value",
		},
		"json_path_exists": {
			handler: respond(200, `{"data": {"user": {"id": 0}}}`),
			block:   "url = \"%s/\"\njson_path = \"data.user\"",
		},
		"json_path_zero_is_truthy": {
			handler: respond(200, `{"n": 0}`),
			block:   "url = \"%s/\"\njson_path = \"n\"",
		},
		"json_path_false": {
			handler: respond(200, `{"healthy": false}`),
			block:   "url = \"%s/\"\njson_path = \"healthy\"",
			err:     "json_path healthy is null or false",
		},
		"json_path_null": {
			handler: respond(200, `{"healthy": null}`),
			block:   "url = \"%s/\"\njson_path = \"healthy\"",
			err:     "json_path healthy is null or false",
		},
		"json_path_missing": {
			handler: respond(200, `{"components": {}}`),
			block:   "url = \"%s/\"\njson_path = \"components.postgres\"",
			err:     "json_path components.postgres is missing from the response",
		},
		"json_path_through_a_string": {
			handler: respond(200, `{"components": "postgres"}`),
			block:   "url = \"%s/\"\njson_path = \"components.postgres\"",
			err:     "is missing from the response",
		},
		"not_json": {
			handler: respond(200, `<html>ok</html>`),
			block:   "url = \"%s/\"\njson_path = \"status\"",
			err:     "status 200, but its body is not JSON",
		},
		"two_json_documents": {
			handler: respond(200, `{"status": "ok"} {"status": "ok"}`),
			block:   "url = \"%s/\"\njson_path = \"status\"",
			err:     "its body is not JSON",
		},
		"bearer_token": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+canary {
					w.WriteHeader(401)
					return
				}
				respond(200, `{"user": "svc"}`)(w, r)
			},
			block: "url = \"%s/me\"\nheaders = { Authorization = \"Bearer ${secret.api_token.value}\" }\njson_path = \"user\"",
		},
		"post_body": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if r.Method != "POST" || string(b) != "grant_type=client_credentials&client_secret="+canary || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
					w.WriteHeader(400)
					return
				}
				respond(200, `{"access_token": "t"}`)(w, r)
			},
			block: `
url     = "%s/token"
method  = "POST"
headers = { "Content-Type" = "application/x-www-form-urlencoded" }
body    = "grant_type=client_credentials&client_secret=${secret.api_token.value}"
json_path = "access_token"
`,
		},
		"token_in_query": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("key") != canary {
					w.WriteHeader(403)
					return
				}
				w.WriteHeader(200)
			},
			block:  `url = "%s/v1/models?key=${secret.api_token.value}"`,
			detail: "/v1/models: status 200",
		},
		"host_header": {
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.Host != "api.internal" {
					w.WriteHeader(421)
					return
				}
				w.WriteHeader(200)
			},
			block: "url = \"%s/\"\nheaders = { Host = \"api.internal\" }",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			v, logs := logged(t)
			// Failing checks give up at the context's deadline, which comes
			// before the check's own timeout.
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			resp, err := v.Verify(ctx, providers.VerifyRequest{
				Secret: "api_token",
				Config: checkBlock(t, fmt.Sprintf(tc.block, srv.URL)),
				Value:  sensitive.New(canary),
			})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error saying %q", err, tc.err)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v does not wrap the context's", err)
				}
				for _, leak := range []string{"down", "postgres\"", "<html>", "elsewhere"} {
					if strings.Contains(err.Error(), leak) {
						t.Errorf("error quotes the response (%q): %v", leak, err)
					}
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(resp.Detail, tc.detail) {
					t.Errorf("detail %q, want it to say %q", resp.Detail, tc.detail)
				}
			}
			out := fmt.Sprint(err) + logs.String()
			if resp != nil {
				out += resp.Detail
			}
			if strings.Contains(out, canary) {
				t.Errorf("the value leaked: %s", out)
			}
		})
	}
}

func TestVerifyRetries(t *testing.T) {
	tests := map[string]struct {
		// fails is how many requests fail before one passes.
		fails   int
		failing http.HandlerFunc
		block   string
	}{
		"wrong_status_then_success": {
			fails:   1,
			failing: respond(502, ``),
			block:   "url = \"%s/health\"\ninterval = \"1s\"\ntimeout = \"10s\"",
		},
		"json_path_mismatch_then_match": {
			fails:   1,
			failing: respond(200, `{"status": "starting"}`),
			block:   "url = \"%s/health\"\njson_path = \"status\"\nexpect_value = \"ok\"\ninterval = \"1s\"\ntimeout = \"10s\"",
		},
		"connection_dropped_then_success": {
			fails: 1,
			failing: func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
			},
			block: "url = \"%s/health\"\ninterval = \"1s\"\ntimeout = \"10s\"",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if int(calls.Add(1)) <= tc.fails {
					tc.failing(w, r)
					return
				}
				respond(200, `{"status": "ok"}`)(w, r)
			}))
			defer srv.Close()
			v, _ := logged(t)
			resp, err := v.Verify(context.Background(), providers.VerifyRequest{Config: checkBlock(t, fmt.Sprintf(tc.block, srv.URL))})
			if err != nil {
				t.Fatal(err)
			}
			if got := calls.Load(); got != int32(tc.fails+1) {
				t.Errorf("%d requests, want %d", got, tc.fails+1)
			}
			if want := fmt.Sprintf("after %d attempts", tc.fails+1); !strings.Contains(resp.Detail, want) {
				t.Errorf("detail %q, want it to say %q", resp.Detail, want)
			}
		})
	}
}

func TestVerifyGivesUp(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) }) // after the parallel subtests
	hanging := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}
	tests := map[string]struct {
		handler        http.HandlerFunc
		block          string
		ctxTimeout     time.Duration // 0: none
		attemptTimeout time.Duration // 0: the default
		err            string
		// wrapsContext: the error wraps context.DeadlineExceeded, because
		// the caller's deadline came first.
		wrapsContext bool
		// attempts is how many requests the server sees at least.
		attempts int32
	}{
		"own_timeout": {
			handler:  respond(500, ``),
			block:    "url = \"%s/\"\ninterval = \"1s\"\ntimeout = \"1s\"",
			err:      "no success in 1 attempt over 1",
			attempts: 1,
		},
		"attempt_timeout": {
			handler:        hanging,
			block:          "url = \"%s/\"\ninterval = \"1s\"\ntimeout = \"2s\"",
			attemptTimeout: 100 * time.Millisecond,
			err:            "the last one saw no response: the server did not answer within 100ms",
			attempts:       2,
		},
		"deadline_cuts_the_second_attempt": {
			handler: func() http.HandlerFunc {
				var n atomic.Int32
				return func(w http.ResponseWriter, r *http.Request) {
					if n.Add(1) == 1 {
						w.WriteHeader(503)
						return
					}
					hanging(w, r)
				}
			}(),
			block:    "url = \"%s/\"\ninterval = \"1s\"\ntimeout = \"2s\"",
			err:      "the last one was cut short by the deadline; the one before saw status 503, want 200",
			attempts: 2,
		},
		"deadline_cuts_the_attempt": {
			handler:      hanging,
			block:        `url = "%s/"`,
			ctxTimeout:   200 * time.Millisecond,
			err:          "no response: the check's time ran out during the request",
			wrapsContext: true,
			attempts:     1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				tc.handler(w, r)
			}))
			defer srv.Close()
			v, _ := logged(t)
			if tc.attemptTimeout != 0 {
				v.client.Timeout = tc.attemptTimeout
			}
			ctx := context.Background()
			if tc.ctxTimeout != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
				defer cancel()
			}
			_, err := v.Verify(ctx, providers.VerifyRequest{Config: checkBlock(t, fmt.Sprintf(tc.block, srv.URL))})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want an error saying %q", err, tc.err)
			}
			t.Log(err)
			if got := errors.Is(err, context.DeadlineExceeded); got != tc.wrapsContext {
				t.Errorf("wraps the context's error: %v, want %v (%v)", got, tc.wrapsContext, err)
			}
			if got := calls.Load(); got < tc.attempts {
				t.Errorf("%d requests, want at least %d", got, tc.attempts)
			}
		})
	}
}

func TestVerifyCanceled(t *testing.T) {
	srv := httptest.NewServer(respond(500, ``))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	v, _ := logged(t)
	_, err := v.Verify(ctx, providers.VerifyRequest{Config: checkBlock(t, fmt.Sprintf(`url = "%s/"`, srv.URL))})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("got %v, want context.Canceled and the last status", err)
	}
}

// Wherever the value is (a header, the query, the user, the body, the path)
// and whatever the server answers (echoing it back), no error or log line
// carries it, nor the query, the header or the body.
func TestVerifyNeverLeaks(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", r.Header.Get("Authorization")+r.URL.RawQuery)
		w.WriteHeader(500)
		fmt.Fprintf(w, `{"error": "bad token %s %s %s"}`, r.Header.Get("Authorization"), r.URL.RawQuery, b)
	}
	echoJSON := func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"token": %q}`, r.Header.Get("Authorization"))
	}
	// A server whose status line is the value: net/http's error would
	// quote it.
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() }) // after the parallel subtests
	go func() {
		for {
			conn, err := raw.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf)
				io.WriteString(conn, "HTTP/1.1 "+canary+"\r\n\r\n")
			}()
		}
	}()
	// A closed port: the request fails before any response.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String()
	closed.Close()

	const secretHeaders = `headers = { Authorization = "Bearer ${secret.api_token.value}", "X-Api-Key" = "other-secret-header-value" }`
	tests := map[string]struct {
		url   string
		block string
		want  string // part of the error
	}{
		"header_echoed": {
			block: "url = \"%s/health\"\n" + secretHeaders,
			want:  "status 500",
		},
		"query_and_user": {
			block: "url = \"http://svc:${secret.api_token.value}@%s/health?token=${secret.api_token.value}&sig=other-secret-query#frag-secret\"",
			want:  "status 500, want 200",
		},
		"value_in_path": {
			block: "url = \"%s/hooks/${secret.api_token.value}\"",
			want:  "/hooks/(sensitive)",
		},
		"body_echoed": {
			block: "url = \"%s/token\"\nmethod = \"POST\"\nbody = \"secret=${secret.api_token.value}&other=other-secret-body\"",
			want:  "status 500",
		},
		"json_echoed": {
			url:   "json",
			block: "url = \"%s/\"\njson_path = \"token\"\nexpect_value = \"x\"\n" + secretHeaders,
			want:  "json_path token did not match the expected value",
		},
		"status_line_is_the_value": {
			url:   "http://" + raw.Addr().String(),
			block: "url = \"%s/?token=${secret.api_token.value}\"\n" + secretHeaders,
			want:  "no response: the server's answer was not HTTP",
		},
		"connection_refused": {
			url:   closedURL,
			block: "url = \"%s/?token=${secret.api_token.value}\"\n" + secretHeaders,
			want:  "connection refused",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			handler := http.HandlerFunc(echo)
			if tc.url == "json" {
				handler = echoJSON
			}
			srv := httptest.NewServer(handler)
			defer srv.Close()
			url := srv.URL
			if tc.url != "" && tc.url != "json" {
				url = tc.url
			}
			block := tc.block
			if strings.Contains(block, "@%s") {
				url = strings.TrimPrefix(url, "http://")
			}
			v, logs := logged(t)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := v.Verify(ctx, providers.VerifyRequest{
				Secret: "api_token",
				Config: checkBlock(t, fmt.Sprintf(block, url)),
				Value:  sensitive.New(canary),
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			out := fmt.Sprintf("%v %+v %#v", err, err, err) + logs.String()
			if !strings.Contains(logs.String(), "attempt") {
				t.Errorf("nothing logged at trace level: %q", logs.String())
			}
			for _, leak := range []string{canary, "other-secret", "frag-secret", "token=", "svc:", "bad token"} {
				if strings.Contains(out, leak) {
					t.Errorf("%q leaked: %s", leak, out)
				}
			}
		})
	}
}

func TestVerifyBadConfig(t *testing.T) {
	good := func() map[string]cty.Value {
		return map[string]cty.Value{
			"url":           cty.StringVal("http://127.0.0.1:1/"),
			"method":        cty.StringVal("GET"),
			"headers":       cty.MapValEmpty(cty.String),
			"body":          cty.NullVal(cty.String),
			"expect_status": cty.NumberIntVal(200),
			"json_path":     cty.NullVal(cty.String),
			"expect_value":  cty.NullVal(cty.String),
			"interval":      cty.StringVal("5s"),
			"timeout":       cty.StringVal("2m"),
		}
	}
	tests := map[string]struct {
		set  map[string]cty.Value
		want string
	}{
		"url_with_value":   {set: map[string]cty.Value{"url": cty.StringVal(canary + "/x")}, want: "url is not an http or https URL"},
		"url_unparsable":   {set: map[string]cty.Value{"url": cty.StringVal("http://" + canary + "%zz/")}, want: "url is not an http or https URL"},
		"url_unknown":      {set: map[string]cty.Value{"url": cty.UnknownVal(cty.String)}, want: "url is not known"},
		"bad_method":       {set: map[string]cty.Value{"method": cty.StringVal("FETCH")}, want: "method is not one of"},
		"header_newline":   {set: map[string]cty.Value{"headers": cty.MapVal(map[string]cty.Value{"X-Key": cty.StringVal(canary + "\r\nInjected: 1")})}, want: "header X-Key has a value that cannot be sent"},
		"header_bad_name":  {set: map[string]cty.Value{"headers": cty.MapVal(map[string]cty.Value{"X Key": cty.StringVal(canary)})}, want: "not an HTTP header name"},
		"bad_interval":     {set: map[string]cty.Value{"interval": cty.StringVal(canary)}, want: "interval is not a duration"},
		"bad_status":       {set: map[string]cty.Value{"expect_status": cty.NumberIntVal(42)}, want: "expect_status is not a status code"},
		"value_no_path":    {set: map[string]cty.Value{"expect_value": cty.StringVal("x")}, want: "expect_value needs json_path"},
		"empty_path_piece": {set: map[string]cty.Value{"json_path": cty.StringVal("a..b")}, want: "json_path has an empty segment"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			attrs := good()
			for k, v := range tc.set {
				attrs[k] = v
			}
			v, _ := logged(t)
			_, err := v.Verify(context.Background(), providers.VerifyRequest{Config: cty.ObjectVal(attrs), Value: sensitive.New(canary)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error quotes the config: %v", err)
			}
		})
	}
	v, _ := logged(t)
	if _, err := v.Verify(context.Background(), providers.VerifyRequest{Config: cty.NilVal}); err == nil {
		t.Error("no error for a missing block")
	}
}
