package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	fakesm "github.com/rotplan/rotplan/internal/fakes/secretsmanager"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

var (
	t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 = t0.Add(90 * 24 * time.Hour)
	t2 = t1.Add(24 * time.Hour)
)

// fakeEnv points the SDK's default chain at static test credentials and
// no shared files, so nothing of this machine's AWS setup is read.
func fakeEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDROTPLANTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "rotplan-test-secret-key")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// newFakeStore starts a fake Secrets Manager and returns the store the
// registry builds for a provider "aws" block pointing at it.
func newFakeStore(t *testing.T) (*SecretsManager, *fakesm.Server) {
	t.Helper()
	sm, fake, _ := newFakeStoreLogged(t)
	return sm, fake
}

// newFakeStoreLogged is newFakeStore with the store's log kept.
func newFakeStoreLogged(t *testing.T) (*SecretsManager, *fakesm.Server, *bytes.Buffer) {
	t.Helper()
	fake := fakesm.New(t)
	sm, log := newStoreAt(t, fake.URL)
	return sm, fake, log
}

// newStoreAt returns the store the registry builds for a provider "aws"
// block whose endpoint is url, with the store's log kept.
func newStoreAt(t *testing.T, url string) (*SecretsManager, *bytes.Buffer) {
	t.Helper()
	fakeEnv(t)
	var log bytes.Buffer
	r := providers.NewRegistry()
	Register(r)
	st, err := r.NewStore("aws_secretsmanager", providers.Settings{
		Provider: cty.ObjectVal(map[string]cty.Value{
			"region":   cty.StringVal("us-east-1"),
			"profile":  cty.NullVal(cty.String),
			"endpoint": cty.StringVal(url),
		}),
		Logger: hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Trace}),
	})
	if err != nil {
		t.Fatal(err)
	}
	sm, ok := st.(*SecretsManager)
	if !ok {
		t.Fatalf("the registry built a %T", st)
	}
	return sm, &log
}

// ref is a secret whose store block is store "aws_secretsmanager".
func ref(name, secretID, jsonKey string) providers.SecretRef {
	key := cty.NullVal(cty.String)
	if jsonKey != "" {
		key = cty.StringVal(jsonKey)
	}
	return providers.SecretRef{Name: name, Config: cty.ObjectVal(map[string]cty.Value{
		"secret_id": cty.StringVal(secretID),
		"json_key":  key,
	})}
}

func inspectOne(t *testing.T, sm *SecretsManager, r providers.SecretRef) *providers.StoredSecret {
	t.Helper()
	resp, err := sm.Inspect(t.Context(), providers.InspectRequest{Secrets: []providers.SecretRef{r}})
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return resp.Secrets[r.Name]
}

// planOne is inspectOne as plan asks: from the list, confirming only
// what plan would act on (here nothing) and what changed recently.
func planOne(t *testing.T, sm *SecretsManager, r providers.SecretRef) *providers.StoredSecret {
	t.Helper()
	resp, err := sm.Inspect(t.Context(), providers.InspectRequest{Secrets: []providers.SecretRef{r}, Acts: actsNever})
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return resp.Secrets[r.Name]
}

// actsNever is a plan that would act on nothing.
func actsNever(string, *providers.StoredSecret) bool { return false }

func readOne(t *testing.T, sm *SecretsManager, r providers.SecretRef, slot providers.Slot) (string, bool) {
	t.Helper()
	resp, err := sm.Read(t.Context(), providers.ReadRequest{Secrets: []providers.SecretRef{r}, Slot: slot})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if err := resp.Errors[r.Name]; err != nil {
		t.Fatalf("Read %s: %v", slot, err)
	}
	v, ok := resp.Values[r.Name]
	return v.Reveal(), ok
}

func TestSecretsManagerFakeInspect(t *testing.T) {
	const name = "aegis/db-password"
	rotatedAt := t0.Add(time.Hour)
	retireAfter := t0.Add(25 * time.Hour)
	tests := map[string]struct {
		seed func(f *fakesm.Server) (secretID string)
		// check looks at what Inspect reported; st is nil when the secret
		// is absent (missing).
		check func(t *testing.T, st *providers.StoredSecret)
	}{
		"current, never rotated by rotplan: last changed date": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", LastChanged: t0})
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				wantVersions(t, st, true, false, false)
				if !st.Current.CreatedAt.Equal(t0) || !st.RotatedAt.IsZero() || st.ManagedBy != "" || st.Current.Rotation != "" {
					t.Errorf("got %+v, want current created %s, no rotated-at", st, t0)
				}
			},
		},
		"rotated-at tag": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", LastChanged: t0.Add(48 * time.Hour), Tags: map[string]string{TagRotatedAt: rotatedAt.Format(time.RFC3339)}})
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				if !st.RotatedAt.Equal(rotatedAt) {
					t.Errorf("RotatedAt = %s, want %s", st.RotatedAt, rotatedAt)
				}
			},
		},
		"pending staged by rotplan": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", Tags: map[string]string{TagRotation: "r-1"}})
				f.SeedVersion(name, versionToken("r-1"), "v2", fakesm.Pending)
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				wantVersions(t, st, true, true, false)
				if st.Pending.Rotation != "r-1" || st.Pending.ID != versionToken("r-1") || st.Current.Rotation != "" {
					t.Errorf("pending %+v, current %+v: want pending of rotation r-1", st.Pending, st.Current)
				}
			},
		},
		"pending marked failed": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", Tags: map[string]string{TagRotation: "r-1", TagFailed: "r-1"}})
				f.SeedVersion(name, versionToken("r-1"), "v2", fakesm.Pending)
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				wantVersions(t, st, true, true, false)
				if st.Pending.Rotation != "r-1" || !st.Pending.Failed || st.Current.Failed {
					t.Errorf("pending %+v, current %+v: want r-1's pending version failed", st.Pending, st.Current)
				}
			},
		},
		"failed tag of another rotation": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", Tags: map[string]string{TagRotation: "r-2", TagFailed: "r-1"}})
				f.SeedVersion(name, versionToken("r-2"), "v2", fakesm.Pending)
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				wantVersions(t, st, true, true, false)
				if st.Pending.Rotation != "r-2" || st.Pending.Failed {
					t.Errorf("pending %+v: want r-2's, not failed", st.Pending)
				}
			},
		},
		"pending staged elsewhere": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", Tags: map[string]string{TagRotation: "r-1"}})
				f.SeedVersion(name, "0b7a1c3e-4a4f-4a43-9d2e-2f2f5e3c1a77", "v2", fakesm.Pending)
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				wantVersions(t, st, true, true, false)
				if st.Pending.Rotation != "" {
					t.Errorf("foreign pending has rotation %q", st.Pending.Rotation)
				}
			},
		},
		"current promoted by rotplan": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", Tags: map[string]string{TagRotation: "r-1"}})
				f.SeedVersion(name, versionToken("r-1"), "v2", fakesm.Current)
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				if st.Current.Rotation != "r-1" {
					t.Errorf("current rotation = %q, want r-1", st.Current.Rotation)
				}
			},
		},
		"previous in rotplan's grace": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", Tags: map[string]string{TagRetireAfter: retireAfter.Format(time.RFC3339)}})
				f.SeedVersion(name, "1b7a1c3e-4a4f-4a43-9d2e-2f2f5e3c1a77", "v2", fakesm.Current)
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				wantVersions(t, st, true, false, true)
				if !st.Previous.RetireAfter.Equal(retireAfter) {
					t.Errorf("RetireAfter = %s, want %s", st.Previous.RetireAfter, retireAfter)
				}
			},
		},
		"previous from AWS's history only": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1"})
				f.SeedVersion(name, "1b7a1c3e-4a4f-4a43-9d2e-2f2f5e3c1a77", "v2", fakesm.Current)
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				wantVersions(t, st, true, false, false)
			},
		},
		"rotation enabled": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", RotationEnabled: true})
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				if st == nil || st.ManagedBy != ManagedByRotation {
					t.Errorf("got %+v, want managed by %q", st, ManagedByRotation)
				}
			},
		},
		"missing": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name + "-other", Current: "v1"})
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				if st != nil {
					t.Errorf("got %+v, want absent", st)
				}
			},
		},
		"no version yet": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name})
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				if st != nil {
					t.Errorf("got %+v, want absent", st)
				}
			},
		},
		"by ARN": {
			seed: func(f *fakesm.Server) string {
				return f.Seed(fakesm.Secret{Name: name, Current: "v1"})
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				wantVersions(t, st, true, false, false)
			},
		},
		"by partial ARN": {
			seed: func(f *fakesm.Server) string {
				arn := f.Seed(fakesm.Secret{Name: name, Current: "v1"})
				return arn[:len(arn)-7]
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				wantVersions(t, st, true, false, false)
			},
		},
		"ARN of a missing secret": {
			seed: func(f *fakesm.Server) string {
				return "arn:aws:secretsmanager:us-east-1:210987654321:secret:" + name + "-AbCdEf"
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				if st != nil {
					t.Errorf("got %+v, want absent", st)
				}
			},
		},
		"scheduled for deletion": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", Deleted: t1})
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				if st == nil || st.Err == nil || !strings.Contains(st.Err.Error(), "scheduled for deletion") {
					t.Errorf("got %+v, want an error saying it is scheduled for deletion", st)
				}
			},
		},
		"malformed rotated-at tag": {
			seed: func(f *fakesm.Server) string {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", Tags: map[string]string{TagRotatedAt: "last tuesday"}})
				return name
			},
			check: func(t *testing.T, st *providers.StoredSecret) {
				if st == nil || st.Err == nil || !strings.Contains(st.Err.Error(), TagRotatedAt) {
					t.Errorf("got %+v, want an error naming the tag", st)
				}
			},
		},
	}
	for tname, tc := range tests {
		t.Run(tname, func(t *testing.T) {
			sm, fake := newFakeStore(t)
			id := tc.seed(fake)
			tc.check(t, planOne(t, sm, ref("db", id, "")))
			if n := fake.Calls("ListSecrets"); n != 1 {
				t.Errorf("ListSecrets called %d times, want 1", n)
			}
			if n := fake.Calls("GetSecretValue") + fake.Calls("BatchGetSecretValue"); n != 0 {
				t.Errorf("Inspect read %d values", n)
			}
		})
	}
}

func wantVersions(t *testing.T, st *providers.StoredSecret, current, pending, previous bool) {
	t.Helper()
	if st == nil {
		t.Fatal("secret is absent")
	}
	if st.Err != nil {
		t.Fatalf("secret has error: %v", st.Err)
	}
	if (st.Current != nil) != current || (st.Pending != nil) != pending || (st.Previous != nil) != previous {
		t.Fatalf("current %v, pending %v, previous %v; want %v, %v, %v", st.Current != nil, st.Pending != nil, st.Previous != nil, current, pending, previous)
	}
}

func TestSecretsManagerFakeRead(t *testing.T) {
	sm, fake := newFakeStore(t)
	fake.Seed(fakesm.Secret{Name: "plain", Current: "p1"})
	fake.SeedVersion("plain", "2b7a1c3e-4a4f-4a43-9d2e-2f2f5e3c1a77", "p2", fakesm.Pending)
	fake.Seed(fakesm.Secret{Name: "rotated", Current: "old"})
	fake.SeedVersion("rotated", "3b7a1c3e-4a4f-4a43-9d2e-2f2f5e3c1a77", "new", fakesm.Current)
	fake.Seed(fakesm.Secret{Name: "json", Current: `{"username":"app","password":"pw-1","port":5432}`})
	fake.Seed(fakesm.Secret{Name: "not-json", Current: "plain text"})
	fake.Seed(fakesm.Secret{Name: "json-number", Current: `{"password":5432}`})

	refs := []providers.SecretRef{
		ref("plain", "plain", ""),
		ref("rotated", "rotated", ""),
		ref("json", "json", "password"),
		ref("json-no-key", "json", "token"),
		ref("not-json", "not-json", "password"),
		ref("json-number", "json-number", "password"),
		ref("missing", "missing", ""),
	}
	tests := []struct {
		slot       providers.Slot
		want       map[string]string
		wantErrors []string
	}{
		{providers.SlotCurrent, map[string]string{"plain": "p1", "rotated": "new", "json": "pw-1"}, []string{"not-json", "json-number"}},
		{providers.SlotPending, map[string]string{"plain": "p2"}, nil},
		{providers.SlotPrevious, map[string]string{"rotated": "old"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.slot.String(), func(t *testing.T) {
			fake.ResetCalls()
			resp, err := sm.Read(t.Context(), providers.ReadRequest{Secrets: refs, Slot: tc.slot})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for name, v := range resp.Values {
				got[name] = v.Reveal()
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("values %v, want %v", got, tc.want)
			}
			var errNames []string
			for name := range resp.Errors {
				errNames = append(errNames, name)
			}
			if len(errNames) != len(tc.wantErrors) {
				t.Errorf("errors for %v (%v), want for %v", errNames, resp.Errors, tc.wantErrors)
			}
			for _, name := range tc.wantErrors {
				if resp.Errors[name] == nil {
					t.Errorf("no error for %s", name)
				}
			}
			if tc.slot == providers.SlotCurrent {
				if b, g := fake.Calls("BatchGetSecretValue"), fake.Calls("GetSecretValue"); b != 1 || g != 0 {
					t.Errorf("BatchGetSecretValue %d, GetSecretValue %d calls; want 1 and 0", b, g)
				}
			}
		})
	}
}

// TestSecretsManagerFakeReadWithoutBatchPermission reads current values one
// by one when the credentials may not call BatchGetSecretValue.
func TestSecretsManagerFakeReadWithoutBatchPermission(t *testing.T) {
	sm, fake := newFakeStore(t)
	fake.Seed(fakesm.Secret{Name: "a", Current: "va"})
	fake.Seed(fakesm.Secret{Name: "b", Current: "vb"})
	fake.FailNext("BatchGetSecretValue", fakesm.Failure{Type: "AccessDeniedException", Message: "User is not authorized to perform: secretsmanager:BatchGetSecretValue"})
	resp, err := sm.Read(t.Context(), providers.ReadRequest{Secrets: []providers.SecretRef{ref("a", "a", ""), ref("b", "b", "")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Errors) > 0 || resp.Values["a"].Reveal() != "va" || resp.Values["b"].Reveal() != "vb" {
		t.Errorf("values %v, errors %v", resp.Values, resp.Errors)
	}
	if n := fake.Calls("GetSecretValue"); n != 2 {
		t.Errorf("GetSecretValue called %d times, want 2", n)
	}
}

// rotationCase is one way of addressing the secret the rotation tests
// rotate.
var rotationCases = map[string]struct {
	jsonKey string
	seed    string
	// value returns what the AWS secret holds when the rotated value is v.
	value func(v string) string
}{
	"plain": {seed: "old-value", value: func(v string) string { return v }},
	"json key": {
		jsonKey: "password",
		seed:    `{"username":"app","password":"old-value","port":5432}`,
		value:   func(v string) string { return `{"password":"` + v + `","port":5432,"username":"app"}` },
	},
}

func TestSecretsManagerFakeRotation(t *testing.T) {
	for cname, c := range rotationCases {
		t.Run(cname, func(t *testing.T) {
			sm, fake := newFakeStore(t)
			const name = "aegis/db-password"
			fake.Seed(fakesm.Secret{Name: name, Current: c.seed, LastChanged: t0})
			db := ref("db", name, c.jsonKey)
			ctx := t.Context()
			token := versionToken("r-1")

			if _, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("new-value"), Rotation: "r-1", Now: t1}); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			st := inspectOne(t, sm, db)
			wantVersions(t, st, true, true, false)
			if st.Pending.Rotation != "r-1" || st.Pending.ID != token {
				t.Errorf("pending %+v, want rotation r-1, version %s", st.Pending, token)
			}
			if v, _ := fake.Value(name, fakesm.Pending); v != c.value("new-value") {
				t.Errorf("AWSPENDING holds %q, want %q", v, c.value("new-value"))
			}
			if v, _ := readOne(t, sm, db, providers.SlotPending); v != "new-value" {
				t.Errorf("Read pending = %q", v)
			}
			if v, _ := readOne(t, sm, db, providers.SlotCurrent); v != "old-value" {
				t.Errorf("Read current = %q after stage", v)
			}

			if _, err := sm.Promote(ctx, providers.PromoteRequest{Secret: db, Rotation: "r-1", Now: t1, RetireAfter: t2}); err != nil {
				t.Fatalf("Promote: %v", err)
			}
			st = inspectOne(t, sm, db)
			wantVersions(t, st, true, false, true)
			if st.Current.ID != token || st.Current.Rotation != "r-1" || !st.RotatedAt.Equal(t1) || !st.Previous.RetireAfter.Equal(t2) {
				t.Errorf("after promote: current %+v, rotated at %s, previous %+v", st.Current, st.RotatedAt, st.Previous)
			}
			if v, _ := readOne(t, sm, db, providers.SlotCurrent); v != "new-value" {
				t.Errorf("Read current = %q after promote", v)
			}
			if v, _ := readOne(t, sm, db, providers.SlotPrevious); v != "old-value" {
				t.Errorf("Read previous = %q after promote", v)
			}

			if _, err := sm.RetirePrevious(ctx, providers.RetirePreviousRequest{Secret: db}); err != nil {
				t.Fatalf("RetirePrevious: %v", err)
			}
			st = inspectOne(t, sm, db)
			wantVersions(t, st, true, false, false)
			if _, ok := readOne(t, sm, db, providers.SlotPrevious); ok {
				t.Error("a previous value is still readable after retire")
			}
			if _, ok := fake.Tags(name)[TagRetireAfter]; ok {
				t.Errorf("tag %s left after retire", TagRetireAfter)
			}
			if n := len(fake.Versions(name)); n != 2 {
				t.Errorf("%d versions, want 2 (the old one deprecated, not gone)", n)
			}
			// Nothing previous now: retiring again is a no-op.
			if _, err := sm.RetirePrevious(ctx, providers.RetirePreviousRequest{Secret: db}); err != nil {
				t.Fatalf("RetirePrevious again: %v", err)
			}
		})
	}
}

func TestSecretsManagerFakeDiscard(t *testing.T) {
	sm, fake := newFakeStore(t)
	const name = "aegis/redis-auth-token"
	fake.Seed(fakesm.Secret{Name: name, Current: "old-value"})
	db := ref("redis", name, "")
	ctx := t.Context()
	if _, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("candidate"), Rotation: "r-1", Now: t1}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.Discard(ctx, providers.DiscardRequest{Secret: db, Rotation: "r-1"}); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	wantVersions(t, inspectOne(t, sm, db), true, false, false)
	if v, _ := readOne(t, sm, db, providers.SlotCurrent); v != "old-value" {
		t.Errorf("current = %q after discard", v)
	}
	// Nothing pending: discarding again is a no-op, promoting fails.
	if _, err := sm.Discard(ctx, providers.DiscardRequest{Secret: db, Rotation: "r-1"}); err != nil {
		t.Errorf("Discard again: %v", err)
	}
	if _, err := sm.Promote(ctx, providers.PromoteRequest{Secret: db, Rotation: "r-1", Now: t1, RetireAfter: t2}); !errors.Is(err, ErrNoPending) {
		t.Errorf("Promote after discard: %v, want ErrNoPending", err)
	}
	// Another rotation's pending value is not discarded.
	if _, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("candidate-2"), Rotation: "r-2", Now: t1}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.Discard(ctx, providers.DiscardRequest{Secret: db, Rotation: "r-1"}); !errors.Is(err, ErrPendingConflict) {
		t.Errorf("Discard of another rotation: %v, want ErrPendingConflict", err)
	}
	if fake.Labelled(name, fakesm.Pending) != versionToken("r-2") {
		t.Error("r-2's pending version lost its label")
	}
}

// TestSecretsManagerFakeMarkFailed: a failed rotation's pending version is
// marked with one TagResource, plan reads the mark from ListSecrets alone,
// promote refuses the version without changing anything, and discard takes
// the label and the mark away.
func TestSecretsManagerFakeMarkFailed(t *testing.T) {
	sm, fake := newFakeStore(t)
	const name = "aegis/db-password"
	fake.Seed(fakesm.Secret{Name: name, Current: "old-value", LastChanged: t0})
	db := ref("db", name, "")
	ctx := t.Context()
	oldID := fake.Labelled(name, fakesm.Current)
	token := versionToken("r-1")
	mark := func(rotation string) error {
		_, err := sm.MarkFailed(ctx, providers.MarkFailedRequest{Secret: db, Rotation: rotation})
		return err
	}
	wantCalls := func(what string, want map[string]int) {
		t.Helper()
		if got := fake.AllCalls(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: calls %v, want %v", what, got, want)
		}
		fake.ResetCalls()
	}
	if _, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("new-value"), Rotation: "r-1", Now: t1}); err != nil {
		t.Fatal(err)
	}

	fake.ResetCalls()
	if err := mark("r-1"); err != nil {
		t.Fatalf("MarkFailed: %v", err)
	}
	wantCalls("mark", map[string]int{"DescribeSecret": 1, "TagResource": 1})
	if got := fake.Tags(name)[TagFailed]; got != "r-1" {
		t.Errorf("tag %s = %q, want r-1", TagFailed, got)
	}
	st := planOne(t, sm, db)
	// It changed a moment ago, which the list may not show yet: confirmed.
	wantCalls("inspect", map[string]int{"ListSecrets": 1, "DescribeSecret": 1})
	wantVersions(t, st, true, true, false)
	if st.Pending.Rotation != "r-1" || st.Pending.ID != token || !st.Pending.Failed {
		t.Errorf("pending %+v, want r-1's version marked failed", st.Pending)
	}

	// Marking again, and staging the same rotation again, write nothing
	// and keep the mark.
	if err := mark("r-1"); err != nil {
		t.Errorf("MarkFailed again: %v", err)
	}
	if _, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("new-value"), Rotation: "r-1", Now: t1}); err != nil {
		t.Errorf("Stage again: %v", err)
	}
	wantCalls("mark and stage again", map[string]int{"DescribeSecret": 2})
	if st := inspectOne(t, sm, db); st.Pending == nil || !st.Pending.Failed {
		t.Errorf("after mark and stage again: pending %+v, want failed", st.Pending)
	}
	fake.ResetCalls()

	// Promote refuses the failed candidate and changes nothing.
	_, err := sm.Promote(ctx, providers.PromoteRequest{Secret: db, Rotation: "r-1", Now: t1, RetireAfter: t2})
	if !errors.Is(err, providers.ErrPendingFailed) {
		t.Errorf("Promote: %v, want ErrPendingFailed", err)
	}
	if err != nil && (strings.Contains(err.Error(), "new-value") || strings.Contains(err.Error(), "old-value")) {
		t.Errorf("Promote error carries a value")
	}
	wantCalls("refused promote", map[string]int{"DescribeSecret": 1})
	if fake.Labelled(name, fakesm.Current) != oldID || fake.Labelled(name, fakesm.Pending) != token {
		t.Errorf("versions after the refused promote: %v", fake.Versions(name))
	}
	if v, _ := readOne(t, sm, db, providers.SlotCurrent); v != "old-value" {
		t.Errorf("current = %q after the refused promote", v)
	}

	// Discard takes AWSPENDING off, then the mark.
	if _, err := sm.Discard(ctx, providers.DiscardRequest{Secret: db, Rotation: "r-1"}); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	wantVersions(t, inspectOne(t, sm, db), true, false, false)
	if _, ok := fake.Tags(name)[TagFailed]; ok {
		t.Errorf("tag %s left after discard", TagFailed)
	}
	if v, _ := readOne(t, sm, db, providers.SlotCurrent); v != "old-value" {
		t.Errorf("current = %q after discard", v)
	}

	// Nothing pending: marking is a no-op.
	fake.ResetCalls()
	if err := mark("r-1"); err != nil {
		t.Errorf("MarkFailed after discard: %v", err)
	}
	wantCalls("mark with nothing pending", map[string]int{"DescribeSecret": 1})

	// The next rotation's pending version is not failed.
	if _, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("next-value"), Rotation: "r-2", Now: t2}); err != nil {
		t.Fatal(err)
	}
	if st := inspectOne(t, sm, db); st.Pending == nil || st.Pending.Rotation != "r-2" || st.Pending.Failed {
		t.Errorf("after the next stage: pending %+v", st.Pending)
	}
}

// TestSecretsManagerFakeMarkFailedRefuses: a pending version rotplan did not
// stage, or another rotation's, is never marked; a missing secret is
// nothing pending.
func TestSecretsManagerFakeMarkFailedRefuses(t *testing.T) {
	const name = "aegis/anthropic-api-key"
	tests := map[string]struct {
		seed func(f *fakesm.Server)
		want string // "" for a no-op
	}{
		"foreign pending": {
			seed: func(f *fakesm.Server) {
				f.Seed(fakesm.Secret{Name: name, Current: "v1"})
				f.SeedVersion(name, "4b7a1c3e-4a4f-4a43-9d2e-2f2f5e3c1a77", "v2", fakesm.Pending)
			},
			want: "not staged by rotplan",
		},
		"another rotation's pending": {
			seed: func(f *fakesm.Server) {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", Tags: map[string]string{TagRotation: "r-0"}})
				f.SeedVersion(name, versionToken("r-0"), "v2", fakesm.Pending)
			},
			want: "belongs to rotation r-0",
		},
		"another rotation's pending, marked": {
			seed: func(f *fakesm.Server) {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", Tags: map[string]string{TagRotation: "r-0", TagFailed: "r-0"}})
				f.SeedVersion(name, versionToken("r-0"), "v2", fakesm.Pending)
			},
			want: "belongs to rotation r-0",
		},
		"nothing pending": {
			seed: func(f *fakesm.Server) { f.Seed(fakesm.Secret{Name: name, Current: "v1"}) },
		},
		"missing": {
			seed: func(f *fakesm.Server) {},
		},
	}
	for tname, tc := range tests {
		t.Run(tname, func(t *testing.T) {
			sm, fake := newFakeStore(t)
			tc.seed(fake)
			tags, versions := fake.Tags(name), fake.Versions(name)
			fake.ResetCalls()
			_, err := sm.MarkFailed(t.Context(), providers.MarkFailedRequest{Secret: ref("key", name, ""), Rotation: "r-1"})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("MarkFailed: %v, want a no-op", err)
			case tc.want != "" && (!errors.Is(err, ErrPendingConflict) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "left alone")):
				t.Errorf("MarkFailed: %v, want ErrPendingConflict saying %q", err, tc.want)
			}
			if calls := fake.AllCalls(); len(calls) != 1 || calls["DescribeSecret"] != 1 {
				t.Errorf("calls %v, want one DescribeSecret", calls)
			}
			if fmt.Sprint(fake.Tags(name)) != fmt.Sprint(tags) || fmt.Sprint(fake.Versions(name)) != fmt.Sprint(versions) {
				t.Errorf("the secret changed: tags %v, versions %v", fake.Tags(name), fake.Versions(name))
			}
		})
	}
}

// TestSecretsManagerFakeMarkFailedCrashes covers the points a crash can
// leave between two calls: a discard that took AWSPENDING off but not the
// mark, and a mark another rotation left behind.
func TestSecretsManagerFakeMarkFailedCrashes(t *testing.T) {
	t.Run("discard stopped before untag", func(t *testing.T) {
		sm, fake := newFakeStore(t)
		const name = "aegis/db-password"
		fake.Seed(fakesm.Secret{Name: name, Current: "old-value"})
		db := ref("db", name, "")
		ctx := t.Context()
		if _, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("new-value"), Rotation: "r-1", Now: t1}); err != nil {
			t.Fatal(err)
		}
		if _, err := sm.MarkFailed(ctx, providers.MarkFailedRequest{Secret: db, Rotation: "r-1"}); err != nil {
			t.Fatal(err)
		}
		api, err := sm.api(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := api.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: awssdk.String(name), VersionStage: awssdk.String(stagePending), RemoveFromVersionId: awssdk.String(versionToken("r-1")),
		}); err != nil {
			t.Fatal(err)
		}
		wantVersions(t, inspectOne(t, sm, db), true, false, false)
		if _, err := sm.Discard(ctx, providers.DiscardRequest{Secret: db, Rotation: "r-1"}); err != nil {
			t.Fatalf("Discard again: %v", err)
		}
		if _, ok := fake.Tags(name)[TagFailed]; ok {
			t.Errorf("tag %s left after the discard ran again", TagFailed)
		}
	})
	t.Run("stage removes another rotation's mark", func(t *testing.T) {
		sm, fake := newFakeStore(t)
		const name = "aegis/db-password"
		fake.Seed(fakesm.Secret{Name: name, Current: "old-value", Tags: map[string]string{TagRotation: "r-0", TagFailed: "r-0"}})
		db := ref("db", name, "")
		if _, err := sm.Stage(t.Context(), providers.StageRequest{Secret: db, Value: sensitive.New("new-value"), Rotation: "r-1", Now: t1}); err != nil {
			t.Fatal(err)
		}
		if _, ok := fake.Tags(name)[TagFailed]; ok {
			t.Errorf("tag %s of r-0 left after r-1 staged", TagFailed)
		}
		if st := inspectOne(t, sm, db); st.Pending == nil || st.Pending.Rotation != "r-1" || st.Pending.Failed {
			t.Errorf("pending %+v, want r-1's, not failed", st.Pending)
		}
	})
	t.Run("first version marked, then discarded", func(t *testing.T) {
		// A secret the rotation created: AWS made its first version
		// current and pending at once.
		sm, fake := newFakeStore(t)
		const name = "aegis/jwt-signing-key"
		db := ref("jwt", name, "")
		ctx := t.Context()
		if _, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("new-value"), Rotation: "r-1", Now: t1}); err != nil {
			t.Fatal(err)
		}
		if _, err := sm.MarkFailed(ctx, providers.MarkFailedRequest{Secret: db, Rotation: "r-1"}); err != nil {
			t.Fatal(err)
		}
		if st := inspectOne(t, sm, db); st == nil || st.Pending == nil || !st.Pending.Failed || st.Current.Failed {
			t.Fatalf("after the mark: %+v, want a failed pending version", st)
		}
		if _, err := sm.Promote(ctx, providers.PromoteRequest{Secret: db, Rotation: "r-1", Now: t1, RetireAfter: t2}); !errors.Is(err, providers.ErrPendingFailed) {
			t.Errorf("Promote: %v, want ErrPendingFailed", err)
		}
		if _, ok := fake.Tags(name)[TagCreatedBy]; !ok {
			t.Errorf("the refused promote removed %s", TagCreatedBy)
		}
		if _, err := sm.Discard(ctx, providers.DiscardRequest{Secret: db, Rotation: "r-1"}); err != nil {
			t.Fatal(err)
		}
		if fake.Exists(name) {
			t.Error("the secret the failed rotation created is still there")
		}
	})
}

// TestSecretsManagerFakeStageThenDiscardKeepsAge: a secret rotplan never
// rotated is dated from its LastChangedDate, which staging and discarding
// move. Stage records that age as rotplan:rotated-at first (in the one
// TagResource call it makes anyway), so a rolled-back rotation leaves the
// secret exactly as due as it was, and a pending version in between does
// not change it either. A later stage keeps the recorded age; promote
// replaces it with the promote time.
func TestSecretsManagerFakeStageThenDiscardKeepsAge(t *testing.T) {
	sm, fake := newFakeStore(t)
	now := t1
	fake.SetClock(func() time.Time { return now })
	const name = "aegis/legacy-api-key"
	fake.Seed(fakesm.Secret{Name: name, Current: "old-value", Created: t0.Add(-time.Hour), LastChanged: t0})
	key := ref("legacy", name, "")
	ctx := t.Context()

	st := inspectOne(t, sm, key)
	if st == nil || st.Current == nil || !st.RotatedAt.IsZero() || !st.Current.CreatedAt.Equal(t0) {
		t.Fatalf("before: %+v, want current from %s and no rotated-at", st, t0)
	}
	basis := st.Current.CreatedAt

	if _, err := sm.Stage(ctx, providers.StageRequest{Secret: key, Value: sensitive.New("candidate"), Rotation: "r-1", Now: now}); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if n := fake.Calls("TagResource"); n != 1 {
		t.Errorf("Stage made %d TagResource calls, want 1", n)
	}
	st = inspectOne(t, sm, key)
	wantVersions(t, st, true, true, false)
	if !st.RotatedAt.Equal(basis) {
		t.Errorf("with the candidate pending: rotated at %s, want %s", st.RotatedAt, basis)
	}
	if st.Current.CreatedAt.Equal(basis) {
		t.Errorf("the fake did not move LastChangedDate at stage (still %s): this test needs it to", basis)
	}

	now = t2
	if _, err := sm.Discard(ctx, providers.DiscardRequest{Secret: key, Rotation: "r-1"}); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	st = inspectOne(t, sm, key)
	wantVersions(t, st, true, false, false)
	if !st.RotatedAt.Equal(basis) {
		t.Errorf("after discard: rotated at %s, want %s (the age before the stage)", st.RotatedAt, basis)
	}
	if got := fake.Tags(name)[TagRotatedAt]; got != basis.Format(time.RFC3339) {
		t.Errorf("tag %s = %q, want %q", TagRotatedAt, got, basis.Format(time.RFC3339))
	}
	if _, ok := fake.Tags(name)[TagRetireAfter]; ok {
		t.Errorf("tag %s after discard", TagRetireAfter)
	}

	// The next rotation keeps the recorded age, and its promote replaces it.
	if _, err := sm.Stage(ctx, providers.StageRequest{Secret: key, Value: sensitive.New("candidate-2"), Rotation: "r-2", Now: now}); err != nil {
		t.Fatalf("Stage r-2: %v", err)
	}
	if st = inspectOne(t, sm, key); !st.RotatedAt.Equal(basis) {
		t.Errorf("after a second stage: rotated at %s, want %s", st.RotatedAt, basis)
	}
	if _, err := sm.Promote(ctx, providers.PromoteRequest{Secret: key, Rotation: "r-2", Now: t2, RetireAfter: t2.Add(time.Hour)}); err != nil {
		t.Fatalf("Promote r-2: %v", err)
	}
	if st = inspectOne(t, sm, key); !st.RotatedAt.Equal(t2) {
		t.Errorf("after promote: rotated at %s, want %s", st.RotatedAt, t2)
	}
}

// TestSecretsManagerFakeResume repeats each step as a resumed apply does,
// including from the points a crash can leave between two calls.
func TestSecretsManagerFakeResume(t *testing.T) {
	sm, fake := newFakeStore(t)
	const name = "aegis/okta-api-key"
	fake.Seed(fakesm.Secret{Name: name, Current: "old-value"})
	db := ref("okta", name, "")
	ctx := t.Context()
	stage := func() error {
		_, err := sm.Stage(ctx, providers.StageRequest{Secret: db, Value: sensitive.New("new-value"), Rotation: "r-1", Now: t1})
		return err
	}
	promote := func() error {
		_, err := sm.Promote(ctx, providers.PromoteRequest{Secret: db, Rotation: "r-1", Now: t1, RetireAfter: t2})
		return err
	}
	token := versionToken("r-1")

	// A crash after PutSecretValue, before the step was journaled: stage
	// again.
	for range 2 {
		if err := stage(); err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.Calls("PutSecretValue"); n != 1 {
		t.Errorf("PutSecretValue called %d times, want 1", n)
	}
	// AWS's own rule covers a PutSecretValue sent twice.
	api, err := sm.api(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: awssdk.String(name), ClientRequestToken: awssdk.String(token), SecretString: awssdk.String("new-value"), VersionStages: []string{stagePending}})
	if err != nil || awssdk.ToString(out.VersionId) != token {
		t.Fatalf("the same PutSecretValue again: %v, %v", out, err)
	}

	// A crash in promote after AWSCURRENT moved, before AWSPENDING came
	// off.
	if _, err := api.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: awssdk.String(name), VersionStage: awssdk.String(stageCurrent),
		MoveToVersionId: awssdk.String(token), RemoveFromVersionId: awssdk.String(fake.Labelled(name, stageCurrent)),
	}); err != nil {
		t.Fatal(err)
	}
	st := inspectOne(t, sm, db)
	if st.Pending == nil || st.Pending.Rotation != "r-1" {
		t.Fatalf("half-promoted secret: pending %+v, want r-1's", st.Pending)
	}
	if err := promote(); err != nil {
		t.Fatalf("Promote after a half-done promote: %v", err)
	}
	st = inspectOne(t, sm, db)
	wantVersions(t, st, true, false, true)
	if st.Current.Rotation != "r-1" || !st.RotatedAt.Equal(t1) || !st.Previous.RetireAfter.Equal(t2) {
		t.Errorf("after resumed promote: %+v", st)
	}

	// Promoted before: promote and stage again change nothing.
	fake.ResetCalls()
	if err := promote(); err != nil {
		t.Fatalf("Promote again: %v", err)
	}
	if err := stage(); err != nil {
		t.Fatalf("Stage after promote: %v", err)
	}
	if calls := fake.AllCalls(); len(calls) != 1 || calls["DescribeSecret"] != 2 {
		t.Errorf("calls %v, want only two DescribeSecret", calls)
	}
}

// TestSecretsManagerFakeStageRelabels stages a rotation whose version AWS
// still keeps without labels: AWS takes the PutSecretValue as a no-op, so
// Stage labels the version itself.
func TestSecretsManagerFakeStageRelabels(t *testing.T) {
	sm, fake := newFakeStore(t)
	const name = "aegis/openai-api-key"
	fake.Seed(fakesm.Secret{Name: name, Current: "old-value"})
	fake.SeedVersion(name, versionToken("r-1"), "new-value")
	db := ref("openai", name, "")
	if _, err := sm.Stage(t.Context(), providers.StageRequest{Secret: db, Value: sensitive.New("new-value"), Rotation: "r-1", Now: t1}); err != nil {
		t.Fatal(err)
	}
	if fake.Labelled(name, fakesm.Pending) != versionToken("r-1") {
		t.Errorf("versions %v: r-1's version is not pending", fake.Versions(name))
	}
}

func TestSecretsManagerFakeStageRefuses(t *testing.T) {
	const name = "aegis/anthropic-api-key"
	tests := map[string]struct {
		seed func(f *fakesm.Server)
		id   string
		want string
		is   error
	}{
		"foreign pending": {
			seed: func(f *fakesm.Server) {
				f.Seed(fakesm.Secret{Name: name, Current: "v1"})
				f.SeedVersion(name, "4b7a1c3e-4a4f-4a43-9d2e-2f2f5e3c1a77", "v2", fakesm.Pending)
			},
			want: "not staged by rotplan", is: ErrPendingConflict,
		},
		"another rotation's pending": {
			seed: func(f *fakesm.Server) {
				f.Seed(fakesm.Secret{Name: name, Current: "v1", Tags: map[string]string{TagRotation: "r-0"}})
				f.SeedVersion(name, versionToken("r-0"), "v2", fakesm.Pending)
			},
			want: "belongs to rotation r-0", is: ErrPendingConflict,
		},
		"AWS rotation": {
			seed: func(f *fakesm.Server) { f.Seed(fakesm.Secret{Name: name, Current: "v1", RotationEnabled: true}) },
			want: "managed by " + ManagedByRotation,
		},
		"scheduled for deletion": {
			seed: func(f *fakesm.Server) { f.Seed(fakesm.Secret{Name: name, Current: "v1", Deleted: t2}) },
			want: "scheduled for deletion",
		},
		"missing ARN": {
			seed: func(f *fakesm.Server) {},
			id:   "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name + "-AbCdEf",
			want: "not an ARN",
		},
	}
	for tname, tc := range tests {
		t.Run(tname, func(t *testing.T) {
			sm, fake := newFakeStore(t)
			tc.seed(fake)
			id := tc.id
			if id == "" {
				id = name
			}
			before := fake.Versions(name)
			_, err := sm.Stage(t.Context(), providers.StageRequest{Secret: ref("key", id, ""), Value: sensitive.New("v3"), Rotation: "r-1", Now: t1})
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("Stage: %v, want an error with %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "aws_secretsmanager "+id+": ") {
				t.Errorf("error %q does not start with the store and secret", err)
			}
			if fmt.Sprint(fake.Versions(name)) != fmt.Sprint(before) || fake.Calls("PutSecretValue") != 0 {
				t.Errorf("versions changed: %v, was %v", fake.Versions(name), before)
			}
		})
	}
}

// TestSecretsManagerFakeCreate stages a secret that does not exist yet:
// Stage creates it, AWS makes the first version current as well as
// pending, and promote finishes it; a discarded creation deletes it again.
func TestSecretsManagerFakeCreate(t *testing.T) {
	const name = "aegis/jwt-signing-key"
	db := ref("jwt", name, "")
	t.Run("promote", func(t *testing.T) {
		sm, fake := newFakeStore(t)
		if st := inspectOne(t, sm, db); st != nil {
			t.Fatalf("before: %+v", st)
		}
		if _, err := sm.Stage(t.Context(), providers.StageRequest{Secret: db, Value: sensitive.New("first"), Rotation: "r-1", Now: t1}); err != nil {
			t.Fatal(err)
		}
		st := inspectOne(t, sm, db)
		wantVersions(t, st, true, true, false)
		if st.Pending.Rotation != "r-1" {
			t.Errorf("pending %+v", st.Pending)
		}
		if _, err := sm.Promote(t.Context(), providers.PromoteRequest{Secret: db, Rotation: "r-1", Now: t1, RetireAfter: t2}); err != nil {
			t.Fatal(err)
		}
		st = inspectOne(t, sm, db)
		wantVersions(t, st, true, false, false)
		tags := fake.Tags(name)
		if !st.RotatedAt.Equal(t1) || tags[TagRetireAfter] != "" || tags[TagCreatedBy] != "" {
			t.Errorf("after promote: rotated at %s, tags %v", st.RotatedAt, tags)
		}
	})
	t.Run("discard", func(t *testing.T) {
		sm, fake := newFakeStore(t)
		if _, err := sm.Stage(t.Context(), providers.StageRequest{Secret: db, Value: sensitive.New("first"), Rotation: "r-1", Now: t1}); err != nil {
			t.Fatal(err)
		}
		if _, err := sm.Discard(t.Context(), providers.DiscardRequest{Secret: db, Rotation: "r-1"}); err != nil {
			t.Fatal(err)
		}
		if fake.Exists(name) {
			t.Errorf("the secret the discarded rotation created is still there: %v", fake.Versions(name))
		}
	})
}

// TestSecretsManagerFakePlanOver1000Secrets pins the calls a plan makes:
// one ListSecrets walk for Inspect, BatchGetSecretValue for the current
// values, and nothing per secret.
func TestSecretsManagerFakePlanOver1000Secrets(t *testing.T) {
	sm, fake := newFakeStore(t)
	var refs []providers.SecretRef
	for i := range 1000 {
		name := fmt.Sprintf("cloudforge/secret-%04d", i)
		fake.Seed(fakesm.Secret{Name: name, Current: "value-" + name, Created: t0.Add(time.Duration(i) * time.Second), Tags: map[string]string{TagRotatedAt: t0.Format(time.RFC3339)}})
		refs = append(refs, ref(name, name, ""))
	}
	resp, err := sm.Inspect(t.Context(), providers.InspectRequest{Secrets: refs, Acts: actsNever})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		if st := resp.Secrets[r.Name]; st == nil || st.Err != nil || st.Current == nil || !st.RotatedAt.Equal(t0) {
			t.Fatalf("%s: %+v", r.Name, st)
		}
	}
	list := fake.Calls("ListSecrets")
	if list > 1000/100+1 {
		t.Errorf("Inspect made %d ListSecrets calls, want at most 11", list)
	}
	if n := fake.Calls("DescribeSecret"); n != 0 {
		t.Errorf("Inspect made %d DescribeSecret calls", n)
	}

	fake.ResetCalls()
	read, err := sm.Read(t.Context(), providers.ReadRequest{Secrets: refs, Slot: providers.SlotCurrent})
	if err != nil {
		t.Fatal(err)
	}
	if len(read.Values) != 1000 || len(read.Errors) != 0 {
		t.Fatalf("read %d values, %d errors", len(read.Values), len(read.Errors))
	}
	batch, get := fake.Calls("BatchGetSecretValue"), fake.Calls("GetSecretValue")
	if batch != 50 || get != 0 {
		t.Errorf("Read made %d BatchGetSecretValue and %d GetSecretValue calls, want 50 and 0", batch, get)
	}
	t.Logf("1000 secrets: Inspect %d ListSecrets calls; Read (current) %d BatchGetSecretValue calls", list, batch)

	// A few secrets among the 1000 are asked for by name.
	fake.ResetCalls()
	resp, err = sm.Inspect(t.Context(), providers.InspectRequest{Secrets: refs[:3], Acts: actsNever})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Secrets) != 3 {
		t.Errorf("found %d of 3", len(resp.Secrets))
	}
	if n := fake.Calls("ListSecrets"); n != 1 {
		t.Errorf("Inspect of 3 secrets made %d ListSecrets calls, want 1", n)
	}

	// Plan a month after the last rotation, ten secrets due: the list,
	// and one DescribeSecret for each secret plan acts on.
	for i := range 10 {
		fake.Tag(refs[i].Name, TagRotatedAt, t0.Add(-100*24*time.Hour).Format(time.RFC3339))
	}
	fake.ResetCalls()
	planAt := t0.Add(30 * 24 * time.Hour)
	resp, err = sm.Inspect(t.Context(), providers.InspectRequest{Secrets: refs, Acts: dueAfter90d(func() time.Time { return planAt })})
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.Secrets[refs[0].Name]; st == nil || !st.RotatedAt.Equal(t0.Add(-100*24*time.Hour)) {
		t.Errorf("a due secret: %+v", st)
	}
	list, describe := fake.Calls("ListSecrets"), fake.Calls("DescribeSecret")
	if list > 1000/100+1 || describe != 10 {
		t.Errorf("plan with ten secrets due made %d ListSecrets and %d DescribeSecret calls, want at most 11 and 10", list, describe)
	}
	t.Logf("1000 secrets, 10 due: Inspect %d ListSecrets and %d DescribeSecret calls", list, describe)
}

// TestSecretsManagerFakeNoValueInErrors makes every call that carries a
// value fail, in AWS's ways and the store's own, and checks that no error
// and no log line repeats the value.
func TestSecretsManagerFakeNoValueInErrors(t *testing.T) {
	const canary = "CANARY-aws-5e1f0b"
	sm, fake, log := newFakeStoreLogged(t)
	ctx := t.Context()
	var errs []error
	keep := func(_ any, err error) {
		if err == nil {
			t.Errorf("call %d did not fail", len(errs)+1)
			return
		}
		errs = append(errs, err)
	}
	stage := func(r providers.SecretRef, rotation string) (any, error) {
		return sm.Stage(ctx, providers.StageRequest{Secret: r, Value: sensitive.New(canary), Rotation: rotation, Now: t1})
	}

	fake.Seed(fakesm.Secret{Name: "put-fails", Current: "old"})
	fake.FailNext("PutSecretValue", fakesm.Failure{Type: "InvalidRequestException", Message: "You can't perform this operation on the secret because it was marked for deletion."})
	keep(stage(ref("put-fails", "put-fails", ""), "r-1"))

	// The same token with another value: AWS refuses.
	fake.Seed(fakesm.Secret{Name: "token-taken", Current: "old"})
	fake.SeedVersion("token-taken", versionToken("r-1"), "something else")
	keep(stage(ref("token-taken", "token-taken", ""), "r-1"))

	fake.Seed(fakesm.Secret{Name: "not-json", Current: "x" + canary})
	keep(stage(ref("not-json", "not-json", "password"), "r-1"))
	fake.Seed(fakesm.Secret{Name: "bad-json", Current: `{"password": ` + canary + `}`})
	keep(stage(ref("bad-json", "bad-json", "password"), "r-1"))
	fake.Seed(fakesm.Secret{Name: "list-json", Current: `{"password": ["` + canary + `"]}`})
	read, err := sm.Read(ctx, providers.ReadRequest{Secrets: []providers.SecretRef{ref("list-json", "list-json", "password"), ref("bad-json", "bad-json", "password")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range read.Errors {
		errs = append(errs, err)
	}
	if len(read.Errors) != 2 {
		t.Errorf("read errors %v, want 2", read.Errors)
	}

	// A full rotation, to have its log lines.
	fake.Seed(fakesm.Secret{Name: "ok", Current: "old"})
	if _, err := stage(ref("ok", "ok", ""), "r-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.Promote(ctx, providers.PromoteRequest{Secret: ref("ok", "ok", ""), Rotation: "r-2", Now: t1, RetireAfter: t2}); err != nil {
		t.Fatal(err)
	}

	for _, err := range errs {
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(s, canary) || strings.Contains(s, "5e1f0b") {
				t.Errorf("error repeats the value: %s", s)
			}
		}
		t.Logf("error: %v", err)
	}
	if strings.Contains(log.String(), "5e1f0b") {
		t.Errorf("the log repeats the value:\n%s", log)
	}
}

// TestSecretsManagerLazyClient builds the store without touching AWS
// configuration: a bad profile shows only when the store is used.
func TestSecretsManagerLazyClient(t *testing.T) {
	fakeEnv(t)
	sm, err := NewSecretsManager(providers.Settings{Provider: cty.ObjectVal(map[string]cty.Value{
		"region":   cty.StringVal("us-east-1"),
		"profile":  cty.StringVal("no-such-profile"),
		"endpoint": cty.NullVal(cty.String),
	})})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = sm.Inspect(context.Background(), providers.InspectRequest{Secrets: []providers.SecretRef{ref("a", "a", "")}})
	if err == nil || !strings.Contains(err.Error(), "no-such-profile") {
		t.Errorf("Inspect: %v, want an error naming the profile", err)
	}
}

func TestVersionToken(t *testing.T) {
	a, b := versionToken("r-20260102T030405-0a1b2c3d"), versionToken("r-20260102T030405-0a1b2c3e")
	if a == b || a != versionToken("r-20260102T030405-0a1b2c3d") {
		t.Errorf("tokens %s and %s", a, b)
	}
	if len(a) < 32 || len(a) > 64 || strings.Count(a, "-") != 4 || a[14] != '8' {
		t.Errorf("token %s is not a version 8 UUID of 32 to 64 characters", a)
	}
}
