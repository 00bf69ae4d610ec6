package onepassword

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	op "github.com/1password/onepassword-sdk-go"

	"github.com/rotplan/rotplan/internal/retry"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
	"github.com/rotplan/rotplan/providers/onepassword/onepasswordtest"
)

func TestMain(m *testing.M) {
	// The shared policy, without its waits.
	newPolicy = func() retry.Policy {
		p := retry.Default()
		p.Limits = nil
		p.Sleep = func(context.Context, time.Duration) error { return nil }
		return p
	}
	os.Exit(m.Run())
}

// TestFakeWriteConflictsRetried: a person edits the item between rotplan's
// read and its put, and then 1Password answers a data conflict; the stage
// reads the item again, keeps the person's edit, and is saved.
func TestFakeWriteConflictsRetried(t *testing.T) {
	fx := newFixture(t)
	it := fx.item(t, "legacy")
	fx.fake.EditBeforeNextPut(it.ID, func(item *op.Item) {
		item.Notes = "rotated the old way on Tuesday"
		item.Tags = append(item.Tags, "team/payments")
	})
	fx.fake.FailNext("PutItem", onepasswordtest.ErrDataConflict)
	s := fx.store()
	ref := secretRef("legacy", "op://Production/legacy/password")
	if _, err := s.Stage(context.Background(), providers.StageRequest{Secret: ref, Value: sensitive.New(canaryPending), Rotation: "r-9", Now: fx.now}); err != nil {
		t.Fatalf("stage: %v", err)
	}
	got := fx.item(t, "legacy")
	if got.Notes != "rotated the old way on Tuesday" || !slices.Contains(got.Tags, "team/payments") {
		t.Errorf("the other edit was lost: notes %q, tags %q", got.Notes, got.Tags)
	}
	if v := read1(t, s, ref, providers.SlotPending); v != canaryPending {
		t.Error("the pending value is not staged")
	}
	if c := fx.fake.Calls(); c.GetItem != 2 || c.PutItem != 3 {
		t.Errorf("calls %+v, want the item read twice and put three times (stale, conflict, saved)", c)
	}
}

// TestFakeWriteConflictsGiveUp: conflicts that do not stop fail the write
// after the policy's attempts, saying so.
func TestFakeWriteConflictsGiveUp(t *testing.T) {
	fx := newFixture(t)
	fx.fake.FailWith("PutItem", onepasswordtest.ErrDataConflict)
	s := fx.store()
	_, err := s.Stage(context.Background(), providers.StageRequest{Secret: secretRef("legacy", "op://Production/legacy/password"), Value: sensitive.New(canaryPending), Rotation: "r-9", Now: fx.now})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
}

// TestFakeRateLimitConverges: a rate limit that lifts is waited out.
func TestFakeRateLimitConverges(t *testing.T) {
	fx := newFixture(t)
	fx.fake.FailNext("ListItems", &op.RateLimitExceededError{}, &op.RateLimitExceededError{})
	resp, err := fx.store().Inspect(context.Background(), providers.InspectRequest{Secrets: []providers.SecretRef{secretRef("jwt", "op://Production/cloudforge-jwt/credential")}})
	if err != nil || resp.Secrets["jwt"] == nil || resp.Secrets["jwt"].Err != nil {
		t.Fatalf("inspect: %v %+v", err, resp)
	}
	if c := fx.fake.Calls(); c.ListItems != 3 {
		t.Errorf("calls %+v, want three lists (two refused)", c)
	}
}

// TestFakeUnsectionedFieldPreferred: a reference without a section names
// the field in no section, as 1Password resolves it, even when a section
// holds a field of the same name.
func TestFakeUnsectionedFieldPreferred(t *testing.T) {
	fx := newFixture(t)
	fx.fake.AddItem(op.Item{VaultID: fx.vault, Title: "stripe", Category: op.ItemCategoryAPICredentials,
		Sections: []op.ItemSection{{ID: "old", Title: "old keys"}},
		Fields: []op.ItemField{
			{ID: "credential", Title: "credential", FieldType: op.ItemFieldTypeConcealed, Value: canaryCurrent},
			field(ptr("old"), "credential", canaryPrevious),
		}})
	s := fx.store()
	if v := read1(t, s, secretRef("stripe", "op://Production/stripe/credential"), providers.SlotCurrent); v != canaryCurrent {
		t.Error("the unsectioned reference did not resolve to the field in no section")
	}
	if v := read1(t, s, secretRef("stripe", "op://Production/stripe/old keys/credential"), providers.SlotCurrent); v != canaryPrevious {
		t.Error("the sectioned reference did not resolve to the section's field")
	}
}

// TestFakeRecordTargets: targets' records are item tags, read back from
// the list, and a secret never rotated keeps its age.
func TestFakeRecordTargets(t *testing.T) {
	fx := newFixture(t)
	s := fx.store()
	ref := secretRef("legacy", "op://Production/legacy/password")
	fx.now = fx.now.Add(time.Hour)
	if _, err := s.RecordTargets(context.Background(), providers.RecordTargetsRequest{Secret: ref, Records: map[string]string{"target.fly.api": "fly1:abcd"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := fx.store().Inspect(context.Background(), providers.InspectRequest{Secrets: []providers.SecretRef{ref}})
	if err != nil {
		t.Fatal(err)
	}
	st := resp.Secrets["legacy"]
	if st == nil || st.Records["target.fly.api"] != "fly1:abcd" {
		t.Fatalf("records: %+v", st)
	}
	if !st.RotatedAt.Equal(edited) {
		t.Errorf("rotated at %s, want %s: a record must not make the secret younger", st.RotatedAt, edited)
	}
}

// TestCheckToken: a token that cannot be a service account token fails
// before the SDK is started, and the error never quotes it.
func TestCheckToken(t *testing.T) {
	good := "ops_" + base64.RawURLEncoding.EncodeToString([]byte(`{"signInAddress":"my.1password.com","email":"x@1passwordserviceaccounts.com","secretKey":"A3-XXXXXX","srpX":"00","muk":{},"deviceUuid":"d"}`))
	if err := checkToken(good); err != nil {
		t.Errorf("a well-formed token: %v", err)
	}
	for _, bad := range []string{"", "not-a-token-at-all", "ops_!!!not base64!!!", "ops_" + base64.RawURLEncoding.EncodeToString([]byte(`{"email":"x"}`)), good[:40]} {
		_, err := connectSDK(context.Background(), bad)
		if !errors.Is(err, ErrBadToken) {
			t.Errorf("token %d chars: err = %v, want ErrBadToken before the SDK starts", len(bad), err)
		}
		if len(bad) > 8 && err != nil && strings.Contains(err.Error(), bad) {
			t.Error("the error quotes the token")
		}
	}
}
