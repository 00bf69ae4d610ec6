package aws

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/sivchari/kumo"

	fakesm "github.com/rotplan/rotplan/internal/fakes/secretsmanager"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// The shared tests run the store's Inspect, Read and Stage against two
// independent implementations of the Secrets Manager API: this project's
// fake and the kumo emulator. They seed secrets through the SDK only, and
// keep to the operations kumo has (it lacks TagResource,
// UpdateSecretVersionStage and BatchGetSecretValue, so promote, discard
// and retire are the fake's alone, a failed mark is seeded as a tag at
// creation, and Read falls back to GetSecretValue).

// sharedRuns numbers the runs of runShared in this process.
var sharedRuns atomic.Int64

// backend is a Secrets Manager implementation the shared tests run
// against.
type backend struct {
	// start serves one and returns its endpoint.
	start func(t *testing.T) string
	// keepsCurrent says PutSecretValue with VersionStages [AWSPENDING]
	// leaves AWSCURRENT where it is, as AWS documents. kumo moves it to
	// AWSPREVIOUS on every put.
	keepsCurrent bool
}

func TestSecretsManagerSharedFake(t *testing.T) {
	runShared(t, backend{
		start:        func(t *testing.T) string { return fakesm.New(t).URL },
		keepsCurrent: true,
	})
}

func TestSecretsManagerSharedKumo(t *testing.T) {
	runShared(t, backend{
		start: func(t *testing.T) string {
			srv := kumo.NewServer()
			t.Cleanup(srv.Close)
			return srv.URL
		},
	})
}

func runShared(t *testing.T, b backend) {
	// kumo keeps its secrets in memory shared by every server in the
	// process, so each run names its secrets apart (go test -count=N).
	prefix := fmt.Sprintf("shared%d/", sharedRuns.Add(1))
	sm, _ := newStoreAt(t, b.start(t))
	api, err := sm.api(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	create := func(t *testing.T, name, value string, tags map[string]string) string {
		t.Helper()
		out, err := api.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: awssdk.String(name), SecretString: awssdk.String(value), Tags: tagList(tags)})
		if err != nil {
			t.Fatalf("CreateSecret: %v", err)
		}
		return awssdk.ToString(out.ARN)
	}
	stage := func(t *testing.T, r providers.SecretRef, value, rotation string) error {
		t.Helper()
		_, err := sm.Stage(t.Context(), providers.StageRequest{Secret: r, Value: sensitive.New(value), Rotation: rotation, Now: t1})
		return err
	}

	t.Run("inspect current", func(t *testing.T) {
		arn := create(t, prefix+"current", "v1", nil)
		for _, id := range []string{prefix + "current", arn} {
			st := inspectOne(t, sm, ref("current", id, ""))
			wantVersions(t, st, true, false, false)
			if st.Current.CreatedAt.IsZero() || !st.RotatedAt.IsZero() || st.ManagedBy != "" {
				t.Errorf("by %s: %+v", id, st)
			}
		}
	})
	t.Run("inspect rotated-at tag", func(t *testing.T) {
		create(t, prefix+"rotated", "v1", map[string]string{TagRotatedAt: t0.Format(time.RFC3339)})
		if st := inspectOne(t, sm, ref("rotated", prefix+"rotated", "")); st == nil || !st.RotatedAt.Equal(t0) {
			t.Errorf("got %+v, want rotated at %s", st, t0)
		}
	})
	t.Run("inspect missing", func(t *testing.T) {
		if st := inspectOne(t, sm, ref("missing", prefix+"missing", "")); st != nil {
			t.Errorf("got %+v", st)
		}
	})
	t.Run("read", func(t *testing.T) {
		create(t, prefix+"read", "v1", nil)
		create(t, prefix+"read-json", `{"user":"app","password":"pw-1"}`, nil)
		resp, err := sm.Read(t.Context(), providers.ReadRequest{Secrets: []providers.SecretRef{
			ref("plain", prefix+"read", ""),
			ref("json", prefix+"read-json", "password"),
			ref("missing", prefix+"read-missing", ""),
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Errors) > 0 || len(resp.Values) != 2 || resp.Values["plain"].Reveal() != "v1" || resp.Values["json"].Reveal() != "pw-1" {
			t.Errorf("values %v, errors %v", resp.Values, resp.Errors)
		}
	})
	for _, c := range []struct {
		name, jsonKey, seed, other string
	}{
		{name: "plain", seed: "old"},
		{name: "json", jsonKey: "password", seed: `{"user":"app","password":"old"}`, other: "user"},
	} {
		t.Run("stage "+c.name, func(t *testing.T) {
			id := prefix + "stage-" + c.name
			// The secret carries the rotation's tag and a rotated-at
			// already, so Stage needs no TagResource, which kumo lacks.
			create(t, id, c.seed, map[string]string{TagRotation: "r-1", TagRotatedAt: t0.Format(time.RFC3339)})
			r := ref("db", id, c.jsonKey)
			if err := stage(t, r, "new", "r-1"); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			st := inspectOne(t, sm, r)
			if st == nil || st.Pending == nil || st.Pending.Rotation != "r-1" || st.Pending.ID != versionToken("r-1") {
				t.Fatalf("after stage: %+v", st)
			}
			if v, _ := readOne(t, sm, r, providers.SlotPending); v != "new" {
				t.Errorf("pending value %q", v)
			}
			if c.other != "" {
				if v, _ := readOne(t, sm, ref("db", id, c.other), providers.SlotPending); v != "app" {
					t.Errorf("pending %s = %q: the other keys must stay", c.other, v)
				}
			}
			if b.keepsCurrent {
				if v, _ := readOne(t, sm, r, providers.SlotCurrent); v != "old" {
					t.Errorf("current value %q after stage", v)
				}
			} else {
				t.Logf("current version after stage: %+v (this backend moves AWSCURRENT on every put)", st.Current)
			}
			// A resumed stage changes nothing.
			if err := stage(t, r, "new", "r-1"); err != nil {
				t.Errorf("Stage again: %v", err)
			}
			// Another rotation is refused.
			if err := stage(t, r, "other", "r-2"); !errors.Is(err, ErrPendingConflict) {
				t.Errorf("Stage of r-2 over r-1: %v, want ErrPendingConflict", err)
			}
		})
	}
	t.Run("mark failed", func(t *testing.T) {
		id := prefix + "mark"
		// kumo lacks TagResource, so the mark is there from the start: the
		// pending version r-1 stages is marked as MarkFailed would leave
		// it, and what follows needs no TagResource.
		create(t, id, "old", map[string]string{TagRotation: "r-1", TagRotatedAt: t0.Format(time.RFC3339), TagFailed: "r-1"})
		r := ref("db", id, "")
		if err := stage(t, r, "new", "r-1"); err != nil {
			t.Fatalf("Stage: %v", err)
		}
		mark := func(rotation string) error {
			_, err := sm.MarkFailed(t.Context(), providers.MarkFailedRequest{Secret: r, Rotation: rotation})
			return err
		}
		if st := inspectOne(t, sm, r); st == nil || st.Pending == nil || st.Pending.Rotation != "r-1" || !st.Pending.Failed {
			t.Fatalf("Inspect: %+v, want r-1 pending and failed", st)
		}
		if err := mark("r-1"); err != nil {
			t.Errorf("MarkFailed again: %v", err)
		}
		if err := mark("r-2"); !errors.Is(err, ErrPendingConflict) {
			t.Errorf("MarkFailed of r-2: %v, want ErrPendingConflict", err)
		}
		if _, err := sm.Promote(t.Context(), providers.PromoteRequest{Secret: r, Rotation: "r-1", Now: t1, RetireAfter: t1}); !errors.Is(err, providers.ErrPendingFailed) {
			t.Errorf("Promote: %v, want ErrPendingFailed", err)
		}
		if v, _ := readOne(t, sm, r, providers.SlotPending); v != "new" {
			t.Errorf("pending value %q after the refused promote", v)
		}
		if b.keepsCurrent {
			if v, _ := readOne(t, sm, r, providers.SlotCurrent); v != "old" {
				t.Errorf("current value %q after the refused promote", v)
			}
		}
		if st := inspectOne(t, sm, r); st == nil || st.Pending == nil || !st.Pending.Failed {
			t.Errorf("after the refusals: %+v, want r-1 still pending and failed", st)
		}
	})
	t.Run("mark failed with nothing pending", func(t *testing.T) {
		id := prefix + "mark-none"
		create(t, id, "old", nil)
		r := ref("db", id, "")
		if _, err := sm.MarkFailed(t.Context(), providers.MarkFailedRequest{Secret: r, Rotation: "r-1"}); err != nil {
			t.Errorf("MarkFailed: %v, want a no-op", err)
		}
		if st := inspectOne(t, sm, r); st == nil || st.Pending != nil {
			t.Errorf("Inspect: %+v, want nothing pending", st)
		}
	})
	t.Run("stage refuses a foreign pending version", func(t *testing.T) {
		id := prefix + "foreign"
		create(t, id, "old", nil)
		_, err := api.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{
			SecretId: awssdk.String(id), SecretString: awssdk.String("theirs"),
			ClientRequestToken: awssdk.String("5b7a1c3e-4a4f-4a43-9d2e-2f2f5e3c1a77"), VersionStages: []string{stagePending},
		})
		if err != nil {
			t.Fatal(err)
		}
		r := ref("db", id, "")
		if st := inspectOne(t, sm, r); st == nil || st.Pending == nil || st.Pending.Rotation != "" {
			t.Fatalf("foreign pending: %+v", st)
		}
		if err := stage(t, r, "new", "r-1"); !errors.Is(err, ErrPendingConflict) {
			t.Errorf("Stage: %v, want ErrPendingConflict", err)
		}
		if v, _ := readOne(t, sm, r, providers.SlotPending); v != "theirs" {
			t.Errorf("pending value %q: the foreign version must stay", v)
		}
	})
}
