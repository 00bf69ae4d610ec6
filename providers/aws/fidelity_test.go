package aws

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	fakesm "github.com/rotplan/rotplan/internal/fakes/secretsmanager"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// clock is a test clock both the fake and the store read.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newClockedStore is a fake and a store on one test clock; the store's
// waits move the clock on instead of sleeping.
func newClockedStore(t *testing.T) (*SecretsManager, *fakesm.Server, *clock) {
	t.Helper()
	c := &clock{now: t1}
	fake := fakesm.New(t)
	fake.SetClock(c.Now)
	sm, _ := newStoreAt(t, fake.URL)
	sm.now = c.Now
	sm.policy.Base, sm.policy.Cap = time.Millisecond, 4*time.Millisecond
	sm.policy.Sleep = func(_ context.Context, d time.Duration) error {
		c.Advance(10 * time.Second)
		return nil
	}
	return sm, fake, c
}

// dueAfter90d is plan's view for a secret rotated every 90 days.
func dueAfter90d(now func() time.Time) func(string, *providers.StoredSecret) bool {
	return func(_ string, st *providers.StoredSecret) bool {
		if st == nil || st.Current == nil || st.Pending != nil {
			return true
		}
		basis := st.RotatedAt
		if basis.IsZero() {
			basis = st.Current.CreatedAt
		}
		return !now().Before(basis.Add(90 * 24 * time.Hour))
	}
}

// TestSecretsManagerFakeListLagConfirmed: ListSecrets may not show the last
// five minutes' changes. Right after a rotation's promote the list still
// shows the old rotated-at, by which the secret is due; the store confirms
// what plan would act on with DescribeSecret, and plan sees it rotated.
func TestSecretsManagerFakeListLagConfirmed(t *testing.T) {
	sm, fake, c := newClockedStore(t)
	fake.SetListLag(5 * time.Minute)
	name := "cloudforge/db"
	fake.Seed(fakesm.Secret{Name: name, Current: "v0", Created: t0, LastChanged: t0, Tags: map[string]string{TagRotatedAt: t0.Format(time.RFC3339)}})
	db := ref("db", name, "")
	ctx := t.Context()

	if _, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("v1"), Rotation: "r-1", Now: c.Now()}); err != nil {
		t.Fatal(err)
	}
	promoted := c.Now()
	if _, err := sm.Promote(ctx, providers.PromoteRequest{Secret: db, Rotation: "r-1", Now: promoted, RetireAfter: promoted.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Minute) // a CI retry

	fake.ResetCalls()
	resp, err := sm.Inspect(ctx, providers.InspectRequest{Secrets: []providers.SecretRef{db}, Acts: dueAfter90d(c.Now)})
	if err != nil {
		t.Fatal(err)
	}
	st := resp.Secrets["db"]
	if st == nil || st.Err != nil || !st.RotatedAt.Equal(promoted.Truncate(time.Second)) {
		t.Fatalf("plan sees %+v, want rotated at %s (the list lags)", st, promoted)
	}
	if st.Pending != nil {
		t.Error("plan sees the promoted rotation as pending")
	}
	if calls := fake.AllCalls(); calls["ListSecrets"] != 1 || calls["DescribeSecret"] != 1 {
		t.Errorf("calls %v, want one list and one describe", calls)
	}

	// Once the list has caught up, a secret plan leaves alone costs the
	// list alone.
	c.Advance(10 * time.Minute)
	fake.ResetCalls()
	if _, err := sm.Inspect(ctx, providers.InspectRequest{Secrets: []providers.SecretRef{db}, Acts: dueAfter90d(c.Now)}); err != nil {
		t.Fatal(err)
	}
	if calls := fake.AllCalls(); calls["ListSecrets"] != 1 || calls["DescribeSecret"] != 0 {
		t.Errorf("calls %v, want the list alone", calls)
	}
}

// TestSecretsManagerFakeForceDeletedRecreated: rolling back a secret's
// first rotation deletes it without recovery, and AWS takes a while to
// finish. Plan sees nothing there (missing, not an error), and the next
// stage backs off until the name can be created again.
func TestSecretsManagerFakeForceDeletedRecreated(t *testing.T) {
	sm, fake, c := newClockedStore(t)
	fake.SetForceDeleteDelay(45 * time.Second)
	name := "cloudforge/new"
	db := ref("db", name, "")
	ctx := t.Context()

	if _, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("v1"), Rotation: "r-1", Now: c.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.Discard(ctx, providers.DiscardRequest{Secret: db, Rotation: "r-1"}); err != nil {
		t.Fatal(err)
	}
	if !fake.Exists(name) {
		t.Fatal("the fake deleted the secret at once; the test needs it to linger")
	}
	resp, err := sm.Inspect(ctx, providers.InspectRequest{Secrets: []providers.SecretRef{db}, Acts: dueAfter90d(c.Now)})
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.Secrets["db"]; st != nil {
		t.Fatalf("plan sees %+v; want the secret missing", st)
	}
	if _, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("v2"), Rotation: "r-2", Now: c.Now()}); err != nil {
		t.Fatalf("stage after the rollback: %v", err)
	}
	if v, _ := fake.Value(name, fakesm.Pending); v != "v2" {
		t.Error("the new rotation's value is not staged")
	}
}

// TestSecretsManagerFakeThrottlingConverges: throttling and server errors
// are tried again under the shared policy (four attempts, Retry-After
// honoured), and the store converges.
func TestSecretsManagerFakeThrottlingConverges(t *testing.T) {
	sm, fake, c := newClockedStore(t)
	name := "cloudforge/db"
	fake.Seed(fakesm.Secret{Name: name, Current: "v0", Created: t0, LastChanged: t0})
	db := ref("db", name, "")
	fake.FailNext("ListSecrets", fakesm.Failure{Type: "ThrottlingException", Message: "Rate exceeded", RetryAfter: "1"})
	fake.FailNext("ListSecrets", fakesm.Failure{Type: "ThrottlingException", Message: "Rate exceeded"})
	fake.FailNext("ListSecrets", fakesm.Failure{Type: "ThrottlingException", Message: "Rate exceeded"})
	fake.FailNext("PutSecretValue", fakesm.Failure{Status: http.StatusInternalServerError, Type: "InternalServiceError", Message: "try again"})
	fake.FailNext("PutSecretValue", fakesm.Failure{Status: http.StatusServiceUnavailable, Type: "ServiceUnavailable", Message: "busy"})

	resp, err := sm.Inspect(t.Context(), providers.InspectRequest{Secrets: []providers.SecretRef{db}, Acts: actsNever})
	if err != nil || resp.Secrets["db"] == nil || resp.Secrets["db"].Current == nil {
		t.Fatalf("inspect: %v %+v", err, resp)
	}
	if _, err := sm.Stage(t.Context(), providers.StageRequest{Secret: db, Value: sensitive.New("v1"), Rotation: "r-1", Now: c.Now()}); err != nil {
		t.Fatalf("stage: %v", err)
	}
	if calls := fake.AllCalls(); calls["ListSecrets"] != 4 || calls["PutSecretValue"] != 3 {
		t.Errorf("calls %v, want 4 lists (3 throttled) and 3 puts (2 failed)", calls)
	}
	if v, _ := fake.Value(name, fakesm.Pending); v != "v1" {
		t.Error("the value is not staged")
	}
}

// TestSecretsManagerFakeRecordTargets: what targets record is kept in
// tags, read back by plan's Inspect, and a secret never rotated keeps the
// age it had.
func TestSecretsManagerFakeRecordTargets(t *testing.T) {
	sm, fake, _ := newClockedStore(t)
	name := "cloudforge/db"
	fake.Seed(fakesm.Secret{Name: name, Current: "v0", Created: t0, LastChanged: t0})
	db := ref("db", name, "")
	if _, err := sm.RecordTargets(t.Context(), providers.RecordTargetsRequest{Secret: db, Records: map[string]string{"target.fly.api": "fly1:0123"}}); err != nil {
		t.Fatal(err)
	}
	st := planOne(t, sm, db)
	if st == nil || st.Records["target.fly.api"] != "fly1:0123" {
		t.Fatalf("records %+v", st)
	}
	if !st.RotatedAt.Equal(t0) {
		t.Errorf("rotated at %s after a record, want %s: a tag must not make the secret younger", st.RotatedAt, t0)
	}
}
