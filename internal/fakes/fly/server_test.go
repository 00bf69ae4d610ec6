package fly

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// call makes one request to the fake and decodes its JSON answer.
func call(t *testing.T, s *Server, auth, method, path, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func TestFakeEndpoints(t *testing.T) {
	s := New(t)
	s.Seed("api", map[string]string{"MY_SECRET": "romance"})
	auth := "Bearer " + DefaultToken

	steps := []struct {
		auth, method, path, body string
		status                   int
		check                    func(map[string]any) bool
	}{
		{"", "GET", "/v1/apps/api/secrets", "", 401, nil},
		{"Bearer wrong", "GET", "/v1/apps/api/secrets", "", 401, nil},
		{auth, "GET", "/v1/apps/nope/secrets", "", 404, nil},
		{auth, "GET", "/v1/apps/api/secrets", "", 200, func(m map[string]any) bool {
			// The digest Fly's documentation shows for "romance".
			return strings.Contains(mustJSON(m), `"digest":"b9e37b7b239ee4aefc75352fe3fa6dc6"`) && !strings.Contains(mustJSON(m), "romance")
		}},
		{auth, "POST", "/v1/apps/api/secrets", `{"values":{"A":"1","B":"2","MY_SECRET":null,"NEVER_SET":null}}`, 200, func(m map[string]any) bool {
			return m["version"] == float64(1) && len(m["secrets"].([]any)) == 2
		}},
		{auth, "POST", "/v1/apps/api/secrets/C", `{"value":"3"}`, 200, func(m map[string]any) bool {
			return m["version"] == float64(2) && m["name"] == "C" && m["digest"] != ""
		}},
		{"FlyV1 " + DefaultToken, "GET", "/v1/apps/api/secrets/C", "", 200, func(m map[string]any) bool { return m["name"] == "C" && m["value"] == nil }},
		{auth, "DELETE", "/v1/apps/api/secrets/C", "", 200, func(m map[string]any) bool { return m["version"] == float64(3) }},
		{auth, "DELETE", "/v1/apps/api/secrets/C", "", 404, nil},
		{auth, "GET", "/v1/apps/api/secrets?version=3", "", 200, nil},
		{auth, "GET", "/v1/apps/api/secrets?version=9", "", 400, nil},
		{auth, "POST", "/v1/apps/api/secrets", `{"values":{"BAD-NAME":"x"}}`, 400, nil},
		{auth, "POST", "/v1/apps/api/secrets", `{"vals":{}}`, 400, nil},
	}
	for _, st := range steps {
		status, out := call(t, s, st.auth, st.method, st.path, st.body)
		if status != st.status {
			t.Errorf("%s %s: status %d, want %d (%v)", st.method, st.path, status, st.status, out)
			continue
		}
		if status >= 400 && out["error"] == nil {
			t.Errorf("%s %s: error answer without an error field: %v", st.method, st.path, out)
		}
		if st.check != nil && !st.check(out) {
			t.Errorf("%s %s: unexpected answer %v", st.method, st.path, out)
		}
	}
	if got := strings.Join(s.Names("api"), ","); got != "A,B" {
		t.Errorf("api holds %s, want A,B", got)
	}
	if c := s.Calls("api"); c.Lists != 5 || c.Gets != 1 || c.Writes != 6 || c.MinVersion != 3 {
		t.Errorf("calls %+v", c)
	}

	s.Fail("api", Failure{Status: 429, Message: "slow down", RetryAfter: "2", EchoValues: true, Writes: true})
	if status, _ := call(t, s, auth, "GET", "/v1/apps/api/secrets", ""); status != 200 {
		t.Errorf("a read went through a write failure: %d", status)
	}
	status, out := call(t, s, auth, "POST", "/v1/apps/api/secrets", `{"values":{"A":"echoed"}}`)
	if status != 429 || !strings.Contains(out["error"].(string), "echoed") {
		t.Errorf("queued failure: %d %v", status, out)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
