// Package action tests the script part of rotplan's GitHub action
// (action.yml, report.sh) against a fake of GitHub's REST API served on
// loopback, with a rotplan built from this repository.
package action

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub serves the few endpoints report.sh calls, for one repository:
// issue comments (list with pages, create, update) and issues (list by
// label, create, update). It records every call.
type fakeGitHub struct {
	t    *testing.T
	repo string

	mu       sync.Mutex
	comments []*comment // every comment, on every issue
	issues   []*issue
	calls    []string
	nextID   int
}

type comment struct {
	ID    int    `json:"id"`
	Issue int    `json:"-"`
	Body  string `json:"body"`
	User  string `json:"-"`
}

type issue struct {
	ID     int      `json:"id"`
	Number int      `json:"number"`
	Title  string   `json:"title"`
	Body   string   `json:"body"`
	Labels []string `json:"-"`
	Open   bool     `json:"-"`
}

const token = "test-token"

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer "+token {
		http.Error(w, `{"message": "Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	prefix := "/repos/" + f.repo
	path, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	var in struct {
		Body   string   `json:"body"`
		Title  string   `json:"title"`
		Labels []string `json:"labels"`
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, `{"message": "Problems parsing JSON"}`, http.StatusBadRequest)
			return
		}
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if page < 1 {
		page = 1
	}
	if perPage < 1 {
		perPage = 30
	}
	paged := func(n int) (int, int) {
		lo, hi := (page-1)*perPage, page*perPage
		return min(lo, n), min(hi, n)
	}
	write := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	var m []string
	switch {
	case r.Method == http.MethodGet && match(`^/issues/(\d+)/comments$`, path, &m):
		n, _ := strconv.Atoi(m[1])
		var on []*comment
		for _, c := range f.comments {
			if c.Issue == n {
				on = append(on, c)
			}
		}
		lo, hi := paged(len(on))
		write(http.StatusOK, on[lo:hi])
	case r.Method == http.MethodPost && match(`^/issues/(\d+)/comments$`, path, &m):
		n, _ := strconv.Atoi(m[1])
		f.nextID++
		c := &comment{ID: f.nextID, Issue: n, Body: in.Body, User: "github-actions[bot]"}
		f.comments = append(f.comments, c)
		write(http.StatusCreated, c)
	case r.Method == http.MethodPatch && match(`^/issues/comments/(\d+)$`, path, &m):
		id, _ := strconv.Atoi(m[1])
		for _, c := range f.comments {
			if c.ID == id {
				c.Body = in.Body
				write(http.StatusOK, c)
				return
			}
		}
		http.Error(w, `{"message": "Not Found"}`, http.StatusNotFound)
	case r.Method == http.MethodGet && path == "/issues":
		label := r.URL.Query().Get("labels")
		var open []*issue
		for _, i := range f.issues {
			if i.Open && (label == "" || contains(i.Labels, label)) {
				open = append(open, i)
			}
		}
		lo, hi := paged(len(open))
		write(http.StatusOK, open[lo:hi])
	case r.Method == http.MethodPost && path == "/issues":
		f.nextID++
		i := &issue{ID: 1000 + f.nextID, Number: len(f.issues) + 1, Title: in.Title, Body: in.Body, Labels: in.Labels, Open: true}
		f.issues = append(f.issues, i)
		write(http.StatusCreated, i)
	case r.Method == http.MethodPatch && match(`^/issues/(\d+)$`, path, &m):
		n, _ := strconv.Atoi(m[1])
		for _, i := range f.issues {
			if i.Number == n {
				i.Body = in.Body
				write(http.StatusOK, i)
				return
			}
		}
		http.Error(w, `{"message": "Not Found"}`, http.StatusNotFound)
	default:
		f.t.Errorf("report.sh called an endpoint the fake does not serve: %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

func match(pattern, s string, m *[]string) bool {
	*m = regexp.MustCompile(pattern).FindStringSubmatch(s)
	return *m != nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// env is one run of report.sh: a built rotplan, the quickstart inventory
// and the fake API.
type env struct {
	t       *testing.T
	gh      *fakeGitHub
	url     string
	rotplan string
	dir     string
	event   string
	values  []string // the quickstart store's values, never to be posted
}

var built struct {
	once sync.Once
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.bin != "" {
		os.RemoveAll(filepath.Dir(built.bin))
	}
	os.Exit(code)
}

// buildRotplan builds rotplan from this repository, once for the tests.
func buildRotplan(t *testing.T) string {
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "rotplan-action-test-")
		if err != nil {
			built.err = err
			return
		}
		built.bin = filepath.Join(dir, "rotplan")
		build := exec.Command("go", "build", "-o", built.bin, "./cmd/rotplan")
		build.Dir = "../.."
		if out, err := build.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func newEnv(t *testing.T) *env {
	t.Helper()
	tmp := t.TempDir()
	bin := buildRotplan(t)
	dir := filepath.Join(tmp, "inventory")
	if err := os.CopyFS(dir, os.DirFS("../../examples/quickstart")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "rotplan.store"), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := os.ReadFile(filepath.Join(dir, "rotplan.store"))
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, m := range regexp.MustCompile(`"value":\s*"([^"]+)"`).FindAllStringSubmatch(string(store), -1) {
		values = append(values, m[1])
	}
	event := filepath.Join(tmp, "event.json")
	if err := os.WriteFile(event, []byte(`{"pull_request": {"number": 7}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	gh := &fakeGitHub{t: t, repo: "acme/infra"}
	srv := httptest.NewServer(gh)
	t.Cleanup(srv.Close)
	return &env{t: t, gh: gh, url: srv.URL, rotplan: bin, dir: dir, event: event, values: values}
}

// run runs report.sh and returns its exit code, output and the step's
// outputs file.
func (e *env) run(report, planArgs string, extra ...string) (int, string, string) {
	e.t.Helper()
	outputs := filepath.Join(e.t.TempDir(), "outputs")
	summary := filepath.Join(e.t.TempDir(), "summary")
	cmd := exec.Command("bash", "report.sh")
	cmd.Env = append(os.Environ(),
		"GITHUB_API_URL="+e.url,
		"GITHUB_REPOSITORY=acme/infra",
		"GITHUB_EVENT_PATH="+e.event,
		"GITHUB_OUTPUT="+outputs,
		"GITHUB_STEP_SUMMARY="+summary,
		"GITHUB_SERVER_URL=https://github.example",
		"GITHUB_RUN_ID=42",
		"GITHUB_TOKEN="+token,
		"WORKING_DIRECTORY="+e.dir,
		"PLAN_ARGS="+planArgs,
		"REPORT="+report,
		"ROTPLAN="+e.rotplan,
		"NO_COLOR=1",
	)
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	o, _ := os.ReadFile(outputs)
	s, _ := os.ReadFile(summary)
	if len(s) == 0 && code != 1 {
		e.t.Errorf("report.sh wrote no step summary:\n%s", out)
	}
	e.noValues(string(out), string(s))
	return code, string(out), string(o)
}

// noValues fails the test if a store value appears in any of texts.
func (e *env) noValues(texts ...string) {
	e.t.Helper()
	for _, s := range texts {
		for _, v := range e.values {
			if strings.Contains(s, v) {
				e.t.Error("a secret value reached the report")
			}
		}
	}
}

func (e *env) planComments() []*comment {
	e.gh.mu.Lock()
	defer e.gh.mu.Unlock()
	var out []*comment
	for _, c := range e.gh.comments {
		e.noValues(c.Body)
		if strings.HasPrefix(c.Body, "<!-- rotplan-plan: ") {
			copied := *c // the fake changes its own under its lock
			out = append(out, &copied)
		}
	}
	return out
}

func (e *env) count(call string) int {
	e.gh.mu.Lock()
	defer e.gh.mu.Unlock()
	return e.countLocked(call)
}

// countLocked is count for a caller that holds the fake's lock.
func (e *env) countLocked(call string) int {
	n := 0
	for _, c := range e.gh.calls {
		if strings.HasPrefix(c, call) {
			n++
		}
	}
	return n
}

// A pull request gets one plan comment: made on the first run, updated in
// place on every later one, even when it is on the second page of a busy
// pull request; the step exits with plan's detailed exit code.
func TestActionPlanCommentFakeGitHub(t *testing.T) {
	e := newEnv(t)

	code, out, outputs := e.run("comment", "-at 2026-12-01")
	if code != 2 {
		t.Fatalf("exit %d, want 2 (work pending):\n%s", code, out)
	}
	if !strings.Contains(outputs, "exitcode=2\n") || !strings.Contains(outputs, "has-changes=true\n") {
		t.Errorf("step outputs:\n%s", outputs)
	}
	got := e.planComments()
	if len(got) != 1 || got[0].Issue != 7 {
		t.Fatalf("%d plan comments after the first run, want 1 on #7", len(got))
	}
	for _, want := range []string{"### rotplan: work pending in `" + e.dir + "`.", "secret.db_password", "rotate", "https://github.example/acme/infra/actions/runs/42"} {
		if !strings.Contains(got[0].Body, want) {
			t.Errorf("the comment does not say %q:\n%s", want, got[0].Body)
		}
	}
	first := got[0].ID

	// Reviewers talk: the plan comment ends up on the second page.
	e.gh.mu.Lock()
	for i := range 150 {
		e.gh.nextID++
		e.gh.comments = append(e.gh.comments, &comment{ID: e.gh.nextID, Issue: 7, Body: fmt.Sprintf("review note %d", i), User: "alice"})
	}
	e.gh.comments = append(e.gh.comments[1:], e.gh.comments[0])
	e.gh.mu.Unlock()

	code, out, _ = e.run("comment", "-at 2026-12-01 -target secret.db_password")
	if code != 2 {
		t.Fatalf("second run: exit %d, want 2:\n%s", code, out)
	}
	got = e.planComments()
	if len(got) != 1 || got[0].ID != first {
		t.Fatalf("after the second run: %d plan comments, want the first one (id %d) updated", len(got), first)
	}
	if e.count("POST") != 1 || e.count("PATCH") != 1 {
		t.Errorf("calls: %d POST, %d PATCH; want 1 and 1", e.count("POST"), e.count("PATCH"))
	}
	if strings.Contains(got[0].Body, "secret.api_token") {
		t.Error("the comment was not replaced by the second plan (it still lists secret.api_token)")
	}

	// A plan that fails still reports, and the step fails.
	code, out, outputs = e.run("comment", "-at nonsense")
	if code != 1 || !strings.Contains(outputs, "exitcode=1\n") {
		t.Fatalf("a failing plan: exit %d, outputs %q, want 1:\n%s", code, outputs, out)
	}
	got = e.planComments()
	if len(got) != 1 || !strings.Contains(got[0].Body, "the plan of `"+e.dir+"` failed (exit 1)") || !strings.Contains(got[0].Body, "invalid -at") {
		t.Errorf("the comment after a failed plan:\n%s", got[0].Body)
	}

	// Without a valid token nothing is posted and the step fails.
	code, _, _ = e.run("comment", "-at 2026-12-01", "GITHUB_TOKEN=wrong")
	if code != 1 {
		t.Errorf("with a bad token: exit %d, want 1", code)
	}

	// Outside a pull request there is nothing to comment on.
	if err := os.WriteFile(e.event, []byte(`{"ref": "refs/heads/main"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = e.run("comment", "-at 2026-12-01")
	if code != 2 || !strings.Contains(out, "not a pull request event") {
		t.Errorf("on a push: exit %d, want 2 and no comment:\n%s", code, out)
	}
}

// A scheduled run opens one issue while work is pending and updates it on
// later runs.
func TestActionDriftIssueFakeGitHub(t *testing.T) {
	e := newEnv(t)
	e.gh.mu.Lock()
	e.gh.issues = append(e.gh.issues, &issue{ID: 1, Number: 1, Title: "unrelated", Body: "hello", Labels: []string{"bug"}, Open: true})
	e.gh.mu.Unlock()

	for run := range 2 {
		code, out, _ := e.run("issue", "-at 2026-12-01")
		if code != 2 {
			t.Fatalf("run %d: exit %d, want 2:\n%s", run, code, out)
		}
	}
	e.gh.mu.Lock()
	defer e.gh.mu.Unlock()
	var ours []*issue
	for _, i := range e.gh.issues {
		e.noValues(i.Body)
		if contains(i.Labels, "rotplan") {
			ours = append(ours, i)
		}
	}
	if len(ours) != 1 || !strings.HasPrefix(ours[0].Title, "rotplan: secrets to rotate in ") || !strings.Contains(ours[0].Body, "secret.db_password") {
		t.Fatalf("issues labelled rotplan: %+v, want one listing the plan", ours)
	}
	if e.countLocked("POST /repos/acme/infra/issues") != 1 || e.countLocked("PATCH /repos/acme/infra/issues/2") != 1 {
		t.Errorf("calls: %v; want one issue opened, then updated", e.gh.calls)
	}
	if e.gh.issues[0].Body != "hello" {
		t.Error("an unrelated issue was changed")
	}
}

// report.sh reads the variables action.yml passes it, by the same names.
func TestActionYAMLPassesTheScriptItsInputs(t *testing.T) {
	b, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("report.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"GITHUB_TOKEN", "WORKING_DIRECTORY", "PLAN_ARGS", "REPORT"} {
		if !strings.Contains(string(b), "        "+v+": ${{ inputs.") {
			t.Errorf("action.yml does not pass %s from an input", v)
		}
		if !strings.Contains(string(script), v) {
			t.Errorf("report.sh does not read %s", v)
		}
	}
	for _, f := range []string{"scripts/action/report.sh", "scripts/action/install.sh"} {
		if !strings.Contains(string(b), "$GITHUB_ACTION_PATH/"+f) {
			t.Errorf("action.yml does not run %s", f)
		}
		if info, err := os.Stat("../../" + f); err != nil || info.Mode()&0o111 == 0 {
			t.Errorf("%s is missing or not executable: %v", f, err)
		}
	}
}
