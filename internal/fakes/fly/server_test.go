package fly

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
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
			// An opaque digest, not the MD5 Fly's documentation shows.
			return !strings.Contains(mustJSON(m), `"digest":"b9e37b7b239ee4aefc75352fe3fa6dc6"`) && strings.Contains(mustJSON(m), `"digest":"`) && !strings.Contains(mustJSON(m), "romance")
		}},
		{auth, "POST", "/v1/apps/api/secrets", `{"values":{"A":"1","B":"2","MY_SECRET":null,"NEVER_SET":null}}`, 200, func(m map[string]any) bool {
			return m["version"] == float64(1) && len(m["secrets"].([]any)) == 2
		}},
		{auth, "POST", "/v1/apps/api/secrets/C", `{"value":"3"}`, 200, func(m map[string]any) bool {
			d, _ := m["digest"].(string)
			return m["version"] == float64(2) && m["name"] == "C" && len(d) == 16 && d != MD5Digest([]byte("3"))[:16]
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

// callWith is call with one more header.
func callWith(t *testing.T, s *Server, header, value, method, path, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if header != "" {
		req.Header.Set(header, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestFakeMachineEndpoints(t *testing.T) {
	s := New(t)
	s.Seed("api", map[string]string{"K": "old"})
	id := s.AddMachine("api", MachineSpec{})
	s.AddMachine("api", MachineSpec{State: "destroyed"})
	const nonce = "fly-machine-lease-nonce"
	auth := "Bearer " + DefaultToken
	base := "/v1/apps/api/machines/" + id

	// The listing is a JSON array without destroyed Machines.
	req, _ := http.NewRequest("GET", s.URL+"/v1/apps/api/machines", nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var listed []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&listed); err != nil || len(listed) != 1 || listed[0]["id"] != id || listed[0]["state"] != "started" {
		t.Fatalf("list: %v %v", listed, err)
	}
	resp.Body.Close()
	if v, ok := s.RunningValue("api", id, "K"); !ok || v != "old" {
		t.Fatalf("a new Machine runs %q %v, want the app's secrets", v, ok)
	}

	// Storing a secret changes nothing a Machine runs.
	if status, _ := call(t, s, auth, "POST", "/v1/apps/api/secrets", `{"values":{"K":"new"}}`); status != 200 {
		t.Fatalf("update secrets: %d", status)
	}
	if v, _ := s.RunningValue("api", id, "K"); v != "old" {
		t.Fatalf("the Machine runs %q before any deploy, want old", v)
	}

	status, out := callWith(t, s, "", "", "POST", base+"/lease?ttl=60", "")
	if status != 201 || out["status"] != "success" {
		t.Fatalf("lease: %d %v", status, out)
	}
	data := out["data"].(map[string]any)
	held, version := data["nonce"].(string), data["version"].(string)
	if st, _ := s.Machine("api", id); version != st.InstanceID || !st.Leased {
		t.Errorf("lease version %q, machine %+v", version, st)
	}
	if status, _ := callWith(t, s, "", "", "POST", base+"/lease", `{"ttl":5}`); status != 409 {
		t.Errorf("second lease: %d, want 409", status)
	}

	config := `{"image":"registry.fly.io/api:deployment-01","metadata":{"fly_platform_version":"v2"}}`
	steps := []struct {
		header, value, method, path, body string
		status                            int
	}{
		{"", "", "POST", base, `{"config":` + config + `,"min_secrets_version":1}`, 409},         // leased, no nonce
		{nonce, "wrong", "POST", base, `{"config":` + config + `,"min_secrets_version":1}`, 409}, // wrong nonce
		{nonce, held, "POST", base, `{"min_secrets_version":1}`, 400},                            // no config
		{nonce, held, "POST", base, `{"config":` + config + `,"min_secrets_version":2}`, 400},    // ahead of the app
		{nonce, held, "POST", base, `{"config":` + config + `,"region":"ams"}`, 400},             // immutable
		{nonce, held, "POST", base, `{"config":` + config + `,"bogus":1}`, 400},                  // unknown field
		{nonce, held, "POST", base, `{"config":` + config + `,"region":"iad","min_secrets_version":1}`, 200},
	}
	for _, st := range steps {
		if status, out := callWith(t, s, st.header, st.value, st.method, st.path, st.body); status != st.status {
			t.Errorf("%s %s %s: %d, want %d (%v)", st.method, st.path, st.body, status, st.status, out)
		}
	}
	m, _ := s.Machine("api", id)
	if m.State != "starting" || m.Updates != 1 || m.SecretsVersion != 1 || m.InstanceID == version {
		t.Errorf("after the update: %+v", m)
	}
	if _, ok := s.RunningValue("api", id, "K"); ok {
		t.Error("a starting Machine runs something")
	}
	if status, _ := callWith(t, s, "", "", "GET", base+"/wait?state=bogus", ""); status != 400 {
		t.Errorf("wait for a bogus state: %d", status)
	}
	before := s.Now()
	if status, _ := callWith(t, s, "", "", "GET", base+"/wait?state=started&timeout=2&instance_id="+version, ""); status != 408 {
		t.Errorf("wait for the replaced instance: %d, want 408", status)
	}
	if d := s.Now().Sub(before); d < 2*time.Second {
		t.Errorf("a wait that timed out moved the fake's clock on by %s, want the 2 s the real API holds it", d)
	}
	if status, _ := callWith(t, s, "", "", "GET", base+"/wait?state=started&timeout=5&instance_id="+m.InstanceID, ""); status != 200 {
		t.Errorf("wait for the new instance: %d", status)
	}
	if v, _ := s.RunningValue("api", id, "K"); v != "new" {
		t.Errorf("after the restart the Machine runs %q, want new", v)
	}
	if status, _ := callWith(t, s, nonce, "wrong", "DELETE", base+"/lease", ""); status != 409 {
		t.Errorf("release with a wrong nonce: %d", status)
	}
	if status, _ := callWith(t, s, nonce, held, "DELETE", base+"/lease", ""); status != 200 {
		t.Errorf("release: %d", status)
	}
	if status, _ := callWith(t, s, nonce, held, "DELETE", base+"/lease", ""); status != 404 {
		t.Errorf("release again: %d, want 404", status)
	}
	if status, _ := callWith(t, s, "", "", "GET", "/v1/apps/api/machines/nope", ""); status != 404 {
		t.Errorf("unknown Machine: %d", status)
	}

	// Skip launch leaves it stopped with the secrets staged; a failing
	// Machine ends failed.
	bad := s.AddMachine("api", MachineSpec{FailsToStart: true})
	if status, _ := callWith(t, s, "", "", "POST", "/v1/apps/api/machines/"+bad, `{"config":`+config+`}`); status != 200 {
		t.Fatal("update of the failing Machine refused")
	}
	if status, _ := callWith(t, s, "", "", "GET", "/v1/apps/api/machines/"+bad+"/wait", ""); status != 408 {
		t.Errorf("wait for a failing Machine: %d, want 408", status)
	}
	if st, _ := s.Machine("api", bad); st.State != "failed" {
		t.Errorf("failing Machine is %s", st.State)
	}
	if status, _ := callWith(t, s, "", "", "POST", base, `{"config":`+config+`,"skip_launch":true}`); status != 200 {
		t.Fatal("skip_launch update refused")
	}
	if st, _ := s.Machine("api", id); st.State != "stopped" || st.Updates != 2 {
		t.Errorf("after skip_launch: %+v", st)
	}

	c := s.Calls("api")
	if c.MachineLists != 1 || c.Leases != 2 || c.Releases != 3 || c.MachineUpdates != 9 || c.Waits != 4 || c.MachineGets != 1 || c.Writes != 1 {
		t.Errorf("calls %+v", c)
	}

	// A Machines failure waits for a Machines request.
	s.Fail("api", Failure{Status: 503, Message: "busy", Machines: true})
	if status, _ := call(t, s, auth, "GET", "/v1/apps/api/secrets", ""); status != 200 {
		t.Errorf("a secrets request took a Machines failure: %d", status)
	}
	if status, _ := callWith(t, s, "", "", "GET", base, ""); status != 503 {
		t.Errorf("queued Machines failure: %d", status)
	}
}
