package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/internal/testservers"
)

// sharedState is a state backend that two working copies of one inventory
// share, as two operators' machines (or an operator and a scheduled job)
// would.
type sharedState struct {
	block string   // the rotplan block's state block
	env   []string // what rotplan needs to reach it
	probe state.Backend
	// takeLock takes the lock from its holder: kills its database session,
	// or removes its lock object.
	takeLock func(t *testing.T)
	// lostMessage is what the holder says once it finds out.
	lostMessage string
	// audit reads the backend's own audit log, where it keeps one.
	audit func(t *testing.T) []string
}

// Two applies from two working copies sharing a PostgreSQL state: exactly
// one runs and the other names it; killing the holder's database session
// frees the lock and stops the holder safely; the other copy's apply then
// resumes the rotation.
func TestSharedStatePostgres(t *testing.T) {
	pg := testservers.StartPostgres(t)
	dsn := pg.DSN(testservers.PostgresAdmin, pg.AdminPassword, "postgres")
	probe, err := state.NewPostgres(dsn, "rotplan", "team")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	testSharedState(t, sharedState{
		block: `state "postgres" {
    dsn  = env("ROTPLAN_STATE_DSN")
    name = "team"
  }`,
		env:   []string{"ROTPLAN_STATE_DSN=" + dsn},
		probe: probe,
		takeLock: func(t *testing.T) {
			admin, err := pgx.Connect(context.Background(), pg.AdminDSN)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close(context.Background())
			var n int
			err = admin.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2`).Scan(&n)
			if err != nil || n != 1 {
				t.Fatalf("terminated %d sessions holding the advisory lock (%v), want 1", n, err)
			}
		},
		lostMessage: "the state lock was lost",
		audit: func(t *testing.T) []string {
			c, err := pgx.Connect(context.Background(), pg.AdminDSN)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			rows, err := c.Query(context.Background(), `SELECT concat_ws(' ', operator, secret, rotation, action, step, outcome, detail) FROM rotplan.audit WHERE state = 'team' ORDER BY seq`)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			return lines
		},
	}, pg.AdminPassword)
}

// The same with an S3 state on the in-process gofakes3 server: the holder
// whose lock object is removed stops at its next journal write.
func TestSharedStateS3Gofakes3(t *testing.T) {
	fake := testservers.StartFakeS3(t)
	client := s3.New(s3.Options{
		Region:                     testservers.FakeS3Region,
		BaseEndpoint:               aws.String(fake.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(testservers.FakeS3AccessKey, testservers.FakeS3SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
	})
	const key = "team/rotplan.state"
	testSharedState(t, sharedState{
		block: fmt.Sprintf(`state "s3" {
    bucket         = %q
    key            = %q
    region         = %q
    endpoint       = env("S3_ENDPOINT")
    use_path_style = true
  }`, fake.Bucket, key, testservers.FakeS3Region),
		env: []string{
			"S3_ENDPOINT=" + fake.Endpoint,
			"AWS_ACCESS_KEY_ID=" + testservers.FakeS3AccessKey,
			"AWS_SECRET_ACCESS_KEY=" + testservers.FakeS3SecretKey,
			"AWS_CONFIG_FILE=" + os.DevNull,
			"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		},
		probe: state.NewS3(client, fake.Bucket, key),
		takeLock: func(t *testing.T) {
			_, err := client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(fake.Bucket), Key: aws.String(key + ".lock")})
			if err != nil {
				t.Fatal(err)
			}
		},
		lostMessage: "the state lock was lost",
	}, "")
}

func testSharedState(t *testing.T, s sharedState, canaries ...string) {
	root := t.TempDir()
	shared := filepath.Join(root, "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	release := filepath.Join(shared, "release")
	// The store and the target are systems the team shares, so both
	// copies name the same files.
	inventory := fmt.Sprintf(`rotplan {
  %s
}

secret "api_token" {
  frequency = "90d"

  store "local" {
    path = %q
  }
  generate "random" {
    bytes = 24
  }
  target "env_file" "app" {
    path = %q
    key  = "API_TOKEN"
  }
  # Holds the apply in its check until the test releases it.
  verify "exec" {
    command = ["sh", "-c", "cat > /dev/null; i=0; while [ ! -e \"$0\" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done", %q]
  }
}
`, s.block, filepath.Join(shared, "rotplan.store"), filepath.Join(shared, "app.env"), release)
	copies := map[string]string{}
	for _, name := range []string{"alice", "job"} {
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "secrets.hcl"), []byte(inventory), 0o600); err != nil {
			t.Fatal(err)
		}
		copies[name] = dir
	}
	command := func(dir string, args ...string) *exec.Cmd {
		bin, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		t.Cleanup(cancel)
		cmd := exec.CommandContext(ctx, bin, append([]string{"-chdir=" + dir}, args...)...)
		cmd.Env = append(os.Environ(), append([]string{"ROTPLAN_TEST_AS_CLI=1", "ROTPLAN_TEST_CRASH_AFTER=", "NO_COLOR=1"}, s.env...)...)
		return cmd
	}
	var printed []string
	run := func(dir string, args ...string) (string, string, int) {
		cmd := command(dir, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if err != nil && code < 0 {
			t.Fatal(err)
		}
		printed = append(printed, stdout.String(), stderr.String())
		return stdout.String(), stderr.String(), code
	}
	defer func() {
		// Whatever happened, no secret value was printed.
		values := append(canaries, secretValues(t, filepath.Join(shared, "rotplan.store"))...)
		for _, p := range printed {
			for _, v := range values {
				if v != "" && strings.Contains(p, v) {
					t.Error("a secret value was printed")
				}
			}
		}
	}()

	// alice's apply takes the lock and waits in its check.
	holder := command(copies["alice"], "apply", "-auto-approve")
	var holderOut, holderErr syncBuffer
	holder.Stdout, holder.Stderr = &holderOut, &holderErr
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = holder.Wait()
		close(done)
	}()
	defer func() {
		_ = os.WriteFile(release, nil, 0o600)
		select {
		case <-done:
		case <-time.After(time.Minute):
			holder.Process.Kill()
		}
		printed = append(printed, holderOut.String(), holderErr.String())
	}()
	var info *state.LockInfo
	for deadline := time.Now().Add(time.Minute); info == nil; {
		h, err := s.probe.Holder(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case h != nil:
			info = h
		case time.Now().After(deadline):
			t.Fatalf("alice's apply never took the lock:\n%s%s", holderOut.String(), holderErr.String())
		default:
			time.Sleep(50 * time.Millisecond)
		}
	}
	if info.PID != holder.Process.Pid {
		t.Fatalf("the lock is held by pid %d, want alice's apply (%d)", info.PID, holder.Process.Pid)
	}
	// It is in its check once the env file holds the new value.
	waitFor(t, "alice's apply to deliver", func() bool {
		b, _ := os.ReadFile(filepath.Join(shared, "app.env"))
		return len(b) > 0
	})

	// The job's apply, from the other working copy, is refused at once
	// and names alice's.
	stdout, stderr, code := run(copies["job"], "apply", "-auto-approve")
	if code != exitError {
		t.Fatalf("a second apply exited %d, want %d:\n%s%s", code, exitError, stdout, stderr)
	}
	locked := regexp.MustCompile(`(?m)^Error: the state .+ is locked by another apply: lock ` + info.ID + `, held by \S+ on \S+ \(pid ` + fmt.Sprint(holder.Process.Pid) + `\) since \S+(?: \(renewed \S+ ago\))?\. Wait for it to finish; if that process is gone, run: rotplan force-unlock ` + info.ID + `$`)
	if !locked.MatchString(stderr) {
		t.Errorf("the second apply did not name the holder:\n%s", stderr)
	}
	if stdout != "" {
		t.Errorf("the refused apply printed:\n%s", stdout)
	}
	// Nor can the lock of a live holder be forced.
	if _, stderr, code := run(copies["job"], "force-unlock", info.ID); code != exitError || !strings.Contains(stderr, "running") && !strings.Contains(stderr, "live") {
		t.Errorf("force-unlock of a live holder: exit %d\n%s", code, stderr)
	}
	// state list, from the other copy, shows the holder and the rotation.
	stdout, _, _ = run(copies["job"], "state", "list")
	if !strings.Contains(stdout, "Locked: lock "+info.ID) || !regexp.MustCompile(`(?m)^secret\.api_token +r-\S+ +create +delivered `).MatchString(stdout) {
		t.Errorf("state list does not show alice's lock and rotation:\n%s", stdout)
	}
	// plan, from the other copy, says an apply is running.
	stdout, _, _ = run(copies["job"], "plan", "-trust") // two working copies share a store outside each
	if !strings.Contains(stdout, "Note: an apply is running: lock "+info.ID) {
		t.Errorf("plan does not say that alice's apply is running:\n%s", stdout)
	}

	// The lock is taken from alice's apply; the job's plan no longer sees
	// it running.
	s.takeLock(t)
	waitFor(t, "the lock to be free", func() bool {
		h, err := s.probe.Holder(context.Background())
		return err == nil && h == nil
	})
	// alice's apply finishes its check, writes nothing more, and fails.
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("alice's apply did not stop after losing the lock")
	}
	if code := holder.ProcessState.ExitCode(); code != exitError || !strings.Contains(holderErr.String()+holderOut.String(), s.lostMessage) {
		t.Errorf("alice's apply exited %d after losing the lock, want 1 and %q:\n%s%s", code, s.lostMessage, holderOut.String(), holderErr.String())
	}
	if strings.Contains(holderOut.String(), "created") && strings.Contains(holderOut.String(), "Apply complete") {
		t.Errorf("alice's apply went on to complete without its lock:\n%s", holderOut.String())
	}
	st, err := s.probe.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rotations["api_token"] == nil {
		t.Fatalf("the journal lost alice's rotation: %+v", st)
	}
	rotation := st.Rotations["api_token"].ID

	// The job's apply now takes the lock and carries alice's rotation on
	// from the journal.
	stdout, stderr, code = run(copies["job"], "apply", "-auto-approve")
	if code != exitOK {
		t.Fatalf("the job's apply exited %d:\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Apply complete") {
		t.Errorf("the job's apply did not complete:\n%s", stdout)
	}
	if st, err := s.probe.Read(context.Background()); err != nil || len(st.Rotations) != 0 {
		t.Errorf("journal after the resumed apply: %+v, %v; want it empty", st, err)
	}
	store, err := os.ReadFile(filepath.Join(shared, "rotplan.store"))
	if err != nil || !strings.Contains(string(store), rotation) || strings.Contains(string(store), `"pending"`) {
		t.Errorf("the store does not hold alice's rotation %s as current:\n%v", rotation, err)
	}
	if s.audit != nil {
		// Both applies audited into the backend's table, values never.
		lines := s.audit(t)
		printed = append(printed, strings.Join(lines, "\n"))
		joined := strings.Join(lines, "\n")
		for _, want := range []string{"secret.api_token " + rotation + " create stage done", "secret.api_token " + rotation + " create verify failed journal: the state lock is no longer held", "secret.api_token " + rotation + " resume promote done"} {
			if !strings.Contains(joined, want) {
				t.Errorf("the audit table has no %q:\n%s", want, joined)
			}
		}
	}
	if stdout, stderr, code := run(copies["job"], "plan", "-trust", "-detailed-exitcode"); code != exitOK {
		t.Errorf("plan after the resumed apply exited %d, want 0 (nothing to do):\n%s%s", code, stdout, stderr)
	}
}

// waitFor polls cond until it holds, failing after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// secretValues returns every value in a local store file.
func secretValues(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range regexp.MustCompile(`"value":\s*"([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// syncBuffer is a buffer a running process writes while the test reads.
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
