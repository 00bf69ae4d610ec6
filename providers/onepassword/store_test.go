package onepassword

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	op "github.com/1password/onepassword-sdk-go"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
	"github.com/rotplan/rotplan/providers/onepassword/onepasswordtest"
)

// The fake implements the same interface as the SDK adapter, with the SDK's
// own types.
var _ API = (*onepasswordtest.Fake)(nil)

// Canaries: a token and values no error may carry.
const (
	testToken       = "ops_CANARY-token-5e1f0a"
	canaryCurrent   = "CANARY-current-7a41"
	canaryPending   = "CANARY-pending-93bc"
	canaryPrevious  = "CANARY-previous-2d07"
	canaryStaged    = "CANARY-staged-c5e2"
	canaryUntouched = "CANARY-legacy-880f"
)

var (
	t0      = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	edited  = t0.Add(-30 * 24 * time.Hour) // when the fixtures' items last changed
	rotated = t0.Add(-97 * 24 * time.Hour) // their recorded rotation
)

func testSettings() providers.Settings {
	return providers.Settings{Provider: cty.ObjectVal(map[string]cty.Value{"service_account_token": cty.StringVal(testToken)})}
}

func secretRef(name, ref string) providers.SecretRef {
	return providers.SecretRef{Name: name, Config: cty.ObjectVal(map[string]cty.Value{"reference": cty.StringVal(ref)})}
}

func ptr(s string) *string { return &s }

func field(section *string, title, value string) op.ItemField {
	return op.ItemField{ID: newID(), Title: title, SectionID: section, FieldType: op.ItemFieldTypeConcealed, Value: value}
}

func stampTag(key, kind, rotation string, at time.Time) string {
	return tagPrefix + key + "/" + kind + "=" + formatStamp(rotation, at)
}

// fixture is an account with one vault, Production, holding an item per
// state a secret can be in.
type fixture struct {
	fake  *onepasswordtest.Fake
	vault string
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{fake: onepasswordtest.New(), now: t0}
	fx.fake.Now = func() time.Time { return fx.now }
	fx.vault = fx.fake.AddVault("Production")
	add := func(it op.Item) {
		it.VaultID = fx.vault
		it.CreatedAt, it.UpdatedAt = edited.Add(-time.Hour), edited
		fx.fake.AddItem(it)
	}
	// An API credential rotplan rotated 97 days ago: its built-in field
	// has no section.
	add(op.Item{Title: "cloudforge-jwt", Category: op.ItemCategoryAPICredentials,
		Fields: []op.ItemField{{ID: "credential", Title: "credential", FieldType: op.ItemFieldTypeConcealed, Value: canaryCurrent}},
		Tags:   []string{"team/platform", stampTag("credential", tagCurrent, "r-1", rotated)}})
	// A password rotplan never touched.
	add(op.Item{Title: "legacy", Category: op.ItemCategoryPassword,
		Fields: []op.ItemField{{ID: "password", Title: "password", FieldType: op.ItemFieldTypeConcealed, Value: canaryUntouched}}})
	// A rotation rotplan staged and has not promoted.
	add(op.Item{Title: "staged", Category: op.ItemCategorySecureNote,
		Sections: []op.ItemSection{{ID: "s1", Title: ""}},
		Fields:   []op.ItemField{field(ptr("s1"), "token", canaryCurrent), field(ptr("s1"), "token-pending", canaryPending)},
		Tags:     []string{stampTag("token", tagCurrent, "r-1", rotated), stampTag("token", tagPending, "r-2", edited)}})
	// A pending value someone put there by hand.
	add(op.Item{Title: "foreign", Category: op.ItemCategoryPassword,
		Sections: []op.ItemSection{{ID: "rotplan", Title: "rotplan"}},
		Fields: []op.ItemField{
			{ID: "password", Title: "password", FieldType: op.ItemFieldTypeConcealed, Value: canaryCurrent},
			field(ptr("rotplan"), "password-pending", canaryPending),
		}})
	// A rotation promoted a day ago, its previous value in grace.
	add(op.Item{Title: "grace", Category: op.ItemCategoryPassword,
		Sections: []op.ItemSection{{ID: "rotplan", Title: "rotplan"}},
		Fields: []op.ItemField{
			{ID: "password", Title: "password", FieldType: op.ItemFieldTypeConcealed, Value: canaryCurrent},
			field(ptr("rotplan"), "password-previous", canaryPrevious),
		},
		Tags: []string{stampTag("password", tagCurrent, "r-3", t0.Add(-24*time.Hour)), tagPrefix + "password/" + tagRetireAfter + "=" + formatTime(t0.Add(time.Hour))}})
	// A database item with a field per section.
	add(op.Item{Title: "cloudforge postgres", Category: op.ItemCategoryDatabase,
		Sections: []op.ItemSection{{ID: "adm", Title: "admin"}, {ID: "app", Title: "app"}},
		Fields:   []op.ItemField{field(ptr("adm"), "password", canaryCurrent), field(ptr("app"), "password", canaryCurrent)}})
	// An item whose field is empty, one without the field, two with one name.
	add(op.Item{Title: "empty", Category: op.ItemCategoryPassword,
		Fields: []op.ItemField{{ID: "password", Title: "password", FieldType: op.ItemFieldTypeConcealed}}})
	add(op.Item{Title: "fieldless", Category: op.ItemCategorySecureNote})
	add(op.Item{Title: "twin", Category: op.ItemCategorySecureNote})
	add(op.Item{Title: "twin", Category: op.ItemCategorySecureNote})
	add(op.Item{Title: "badtag", Category: op.ItemCategoryPassword,
		Fields: []op.ItemField{{ID: "password", Title: "password", FieldType: op.ItemFieldTypeConcealed, Value: canaryCurrent}},
		Tags:   []string{tagPrefix + "password/current=yesterday"}})
	fx.fake.ResetCalls()
	return fx
}

func (fx *fixture) store() *Store { return NewWithAPI(testSettings(), fx.fake) }

func (fx *fixture) item(t *testing.T, title string) op.Item {
	t.Helper()
	it, ok := fx.fake.ItemByTitle(fx.vault, title)
	if !ok {
		t.Fatalf("no item %q", title)
	}
	return it
}

// summary renders a secret's state for comparison.
func summary(st *providers.StoredSecret) string {
	if st == nil {
		return "absent"
	}
	if st.Err != nil {
		return "error: " + st.Err.Error()
	}
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	or := func(s string) string {
		if s == "" {
			return "foreign"
		}
		return s
	}
	var parts []string
	if c := st.Current; c != nil {
		parts = append(parts, "current "+or(c.Rotation)+" "+at(c.CreatedAt))
	}
	if !st.RotatedAt.IsZero() {
		parts = append(parts, "rotated "+at(st.RotatedAt))
	}
	if p := st.Pending; p != nil {
		part := "pending " + or(p.Rotation) + " " + at(p.CreatedAt)
		if p.Failed {
			part += " failed"
		}
		parts = append(parts, part)
	}
	if p := st.Previous; p != nil {
		parts = append(parts, "previous until "+at(p.RetireAfter))
	}
	return strings.Join(parts, "; ")
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func TestFakeInspect(t *testing.T) {
	tests := map[string]struct {
		ref  string
		want string // summary, or "error: " and part of the message
	}{
		"rotated by rotplan": {
			ref:  "op://Production/cloudforge-jwt/credential",
			want: "current r-1 " + rfc(rotated) + "; rotated " + rfc(rotated),
		},
		"names match case-insensitively": {
			ref:  "op://production/CLOUDFORGE-JWT/Credential",
			want: "current r-1 " + rfc(rotated) + "; rotated " + rfc(rotated),
		},
		"never rotated: dates from the item's last change": {
			ref:  "op://Production/legacy/password",
			want: "current foreign " + rfc(edited),
		},
		"pending of a rotplan rotation": {
			ref:  "op://Production/staged/token",
			want: "current r-1 " + rfc(rotated) + "; rotated " + rfc(rotated) + "; pending r-2 " + rfc(edited),
		},
		"pending rotplan did not stage": {
			ref:  "op://Production/foreign/password",
			want: "current foreign " + rfc(edited) + "; pending foreign " + rfc(edited),
		},
		"previous in grace": {
			ref:  "op://Production/grace/password",
			want: "current r-3 " + rfc(t0.Add(-24*time.Hour)) + "; rotated " + rfc(t0.Add(-24*time.Hour)) + "; previous until " + rfc(t0.Add(time.Hour)),
		},
		"field in a section": {
			ref:  "op://Production/cloudforge postgres/admin/password",
			want: "current foreign " + rfc(edited),
		},
		"same field name in two sections": {
			ref:  "op://Production/cloudforge postgres/password",
			want: `error: onepassword op://Production/cloudforge postgres/password: field "password" matches more than one`,
		},
		"section that does not exist": {
			ref:  "op://Production/cloudforge postgres/replica/password",
			want: "absent",
		},
		"missing item": {
			ref:  "op://Production/nothing-here/password",
			want: "absent",
		},
		"missing field": {
			ref:  "op://Production/fieldless/password",
			want: "absent",
		},
		"empty field": {
			ref:  "op://Production/empty/password",
			want: "absent",
		},
		"two items with the name": {
			ref:  "op://Production/twin/password",
			want: `error: onepassword op://Production/twin/password: item "twin" matches more than one; refer to it by its ID`,
		},
		"tag rotplan cannot read": {
			ref:  "op://Production/badtag/password",
			want: `error: onepassword op://Production/badtag/password: tag "rotplan/password/current=yesterday"`,
		},
		"missing vault": {
			ref:  "op://Staging/cloudforge-jwt/credential",
			want: `error: onepassword op://Staging/cloudforge-jwt/credential: vault "Staging" not found`,
		},
	}
	// One call for all, as plan makes it.
	fx := newFixture(t)
	var refs []providers.SecretRef
	for name, tc := range tests {
		refs = append(refs, secretRef(name, tc.ref))
	}
	resp, err := fx.store().Inspect(context.Background(), providers.InspectRequest{Secrets: refs})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := summary(resp.Secrets[name])
			if strings.HasPrefix(tc.want, "error: ") {
				if !strings.HasPrefix(got, tc.want) {
					t.Errorf("got  %s\nwant %s...", got, tc.want)
				}
				return
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	// Items rotplan has not tagged are read in one batch; nothing one by one.
	if c := fx.fake.Calls(); c.ListVaults != 2 || c.ListItems != 1 || c.GetItems != 1 || c.GetItem != 0 || c.Writes() != 0 {
		t.Errorf("calls = %+v; want 2 vault lists (one to look again for Staging), 1 item list, 1 batch read", c)
	}
}

func TestFakeInspectBadReference(t *testing.T) {
	fx := newFixture(t)
	bad := providers.SecretRef{Name: "bad", Config: cty.ObjectVal(map[string]cty.Value{"reference": cty.StringVal("Production/x")})}
	resp, err := fx.store().Inspect(context.Background(), providers.InspectRequest{Secrets: []providers.SecretRef{bad}})
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(resp.Secrets["bad"]); !strings.Contains(got, "is not a secret reference") {
		t.Errorf("got %s", got)
	}
	if c := fx.fake.Calls(); c.Total() != 0 {
		t.Errorf("calls = %+v; want none", c)
	}
}

func TestFakeRead(t *testing.T) {
	refs := map[string]string{
		"jwt":     "op://Production/cloudforge-jwt/credential",
		"staged":  "op://Production/staged/token",
		"foreign": "op://Production/foreign/password",
		"grace":   "op://Production/grace/password",
		"admin":   "op://Production/cloudforge postgres/admin/password",
		"missing": "op://Production/nothing-here/password",
		"empty":   "op://Production/empty/password",
		"twin":    "op://Production/twin/password",
	}
	tests := map[providers.Slot]map[string]string{
		providers.SlotCurrent:  {"jwt": canaryCurrent, "staged": canaryCurrent, "foreign": canaryCurrent, "grace": canaryCurrent, "admin": canaryCurrent},
		providers.SlotPending:  {"staged": canaryPending, "foreign": canaryPending},
		providers.SlotPrevious: {"grace": canaryPrevious},
	}
	for slot, want := range tests {
		t.Run(slot.String(), func(t *testing.T) {
			fx := newFixture(t)
			var req providers.ReadRequest
			req.Slot = slot
			for name, ref := range refs {
				req.Secrets = append(req.Secrets, secretRef(name, ref))
			}
			resp, err := fx.store().Read(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			for name := range refs {
				got, ok := resp.Values[name]
				switch w, wantOK := want[name]; {
				case ok != wantOK:
					t.Errorf("%s: has value %v, want %v", name, ok, wantOK)
				case ok && got.Reveal() != w:
					t.Errorf("%s: wrong value", name)
				}
			}
			if err := resp.Errors["twin"]; err == nil || !errors.Is(err, errAmbiguous) {
				t.Errorf("twin: error %v, want ambiguous", err)
			}
			if len(resp.Errors) != 1 {
				t.Errorf("errors: %v", resp.Errors)
			}
			if c := fx.fake.Calls(); c.ListVaults != 1 || c.ListItems != 1 || c.GetItems != 1 || c.GetItem != 0 {
				t.Errorf("calls = %+v; want 1 vault list, 1 item list, 1 batch read", c)
			}
		})
	}
}

// inspect1 inspects one secret.
func inspect1(t *testing.T, s *Store, ref providers.SecretRef) string {
	t.Helper()
	resp, err := s.Inspect(context.Background(), providers.InspectRequest{Secrets: []providers.SecretRef{ref}})
	if err != nil {
		t.Fatal(err)
	}
	return summary(resp.Secrets[ref.Name])
}

// read1 reads one slot of one secret, "" when empty.
func read1(t *testing.T, s *Store, ref providers.SecretRef, slot providers.Slot) string {
	t.Helper()
	resp, err := s.Read(context.Background(), providers.ReadRequest{Secrets: []providers.SecretRef{ref}, Slot: slot})
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Errors[ref.Name]; err != nil {
		t.Fatal(err)
	}
	return resp.Values[ref.Name].Reveal()
}

func TestFakeRotationCycle(t *testing.T) {
	fx := newFixture(t)
	s := fx.store()
	ctx := context.Background()
	jwt := secretRef("jwt", "op://Production/cloudforge-jwt/credential")

	// Stage: one read and one write of the item.
	fx.now = t0
	if _, err := s.Stage(ctx, providers.StageRequest{Secret: jwt, Value: sensitive.New(canaryStaged), Rotation: "r-2", Now: t0}); err != nil {
		t.Fatal(err)
	}
	if c := fx.fake.Calls(); c.GetItem != 1 || c.PutItem != 1 || c.CreateItem != 0 {
		t.Errorf("stage calls = %+v; want 1 get, 1 put", c)
	}
	if got, want := inspect1(t, s, jwt), "current r-1 "+rfc(rotated)+"; rotated "+rfc(rotated)+"; pending r-2 "+rfc(t0); got != want {
		t.Errorf("after stage: %s\nwant %s", got, want)
	}
	if got := read1(t, s, jwt, providers.SlotPending); got != canaryStaged {
		t.Error("pending slot does not hold the staged value")
	}
	if got := read1(t, s, jwt, providers.SlotCurrent); got != canaryCurrent {
		t.Error("stage changed the current value")
	}

	// Promote.
	t1 := t0.Add(10 * time.Minute)
	fx.now = t1
	if _, err := s.Promote(ctx, providers.PromoteRequest{Secret: jwt, Rotation: "r-2", Now: t1, RetireAfter: t1.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, want := inspect1(t, s, jwt), "current r-2 "+rfc(t1)+"; rotated "+rfc(t1)+"; previous until "+rfc(t1.Add(24*time.Hour)); got != want {
		t.Errorf("after promote: %s\nwant %s", got, want)
	}
	if read1(t, s, jwt, providers.SlotCurrent) != canaryStaged || read1(t, s, jwt, providers.SlotPrevious) != canaryCurrent || read1(t, s, jwt, providers.SlotPending) != "" {
		t.Error("after promote the slots do not hold staged, old, nothing")
	}
	it := fx.item(t, "cloudforge-jwt")
	if f := it.Fields[0]; f.ID != "credential" || f.SectionID != nil || f.Value != canaryStaged {
		t.Errorf("the built-in field moved or kept its value: %+v", f.ID)
	}
	wantTags := []string{"team/platform", tagPrefix + "credential/retire-after=" + rfc(t1.Add(24*time.Hour)), stampTag("credential", tagCurrent, "r-2", t1)}
	if got := strings.Join(it.Tags, " "); got != strings.Join(wantTags, " ") {
		t.Errorf("tags = %s\nwant   %s", got, strings.Join(wantTags, " "))
	}

	// Retire.
	if _, err := s.RetirePrevious(ctx, providers.RetirePreviousRequest{Secret: jwt}); err != nil {
		t.Fatal(err)
	}
	if got, want := inspect1(t, s, jwt), "current r-2 "+rfc(t1)+"; rotated "+rfc(t1); got != want {
		t.Errorf("after retire: %s\nwant %s", got, want)
	}
	it = fx.item(t, "cloudforge-jwt")
	if len(it.Fields) != 1 || len(it.Sections) != 0 {
		t.Errorf("after retire the item has %d fields and %d sections, want 1 and 0: rotplan's section stays behind", len(it.Fields), len(it.Sections))
	}
	if got := strings.Join(it.Tags, " "); got != "team/platform "+stampTag("credential", tagCurrent, "r-2", t1) {
		t.Errorf("tags = %s", got)
	}
}

func TestFakeDiscard(t *testing.T) {
	fx := newFixture(t)
	s := fx.store()
	ctx := context.Background()
	legacy := secretRef("legacy", "op://Production/legacy/password")
	before := fx.item(t, "legacy")
	if _, err := s.Stage(ctx, providers.StageRequest{Secret: legacy, Value: sensitive.New(canaryStaged), Rotation: "r-5", Now: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Discard(ctx, providers.DiscardRequest{Secret: legacy, Rotation: "r-5"}); err != nil {
		t.Fatal(err)
	}
	after := fx.item(t, "legacy")
	// The rotated-at stage recorded (the item's last change before it)
	// stays; the pending field and its tag go.
	wantTags := []string{tagPrefix + "password/" + tagRotatedAt + "=" + formatTime(edited)}
	if len(after.Fields) != len(before.Fields) || len(after.Sections) != len(before.Sections) || strings.Join(after.Tags, " ") != strings.Join(wantTags, " ") {
		t.Errorf("discard left fields %d (want %d), sections %d (want %d), tags %v (want %v)", len(after.Fields), len(before.Fields), len(after.Sections), len(before.Sections), after.Tags, wantTags)
	}
	if after.Fields[0].Value != canaryUntouched {
		t.Error("discard changed the current value")
	}
	if got := inspect1(t, s, legacy); got != "current foreign "+rfc(t0)+"; rotated "+rfc(edited) {
		t.Errorf("after discard: %s", got)
	}
}

// TestFakeMarkFailed: a failed rotation's pending value is marked with one
// write of its item, plan sees the mark in the item list, promote refuses
// the value, and discard takes the value and the mark away.
func TestFakeMarkFailed(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		ref, item string
		stage     bool   // stage r-2 first; else the fixture has it staged
		before    string // summary with r-2 pending, before the mark
		// listOnly: the item's tags record a current value, so Inspect
		// reads the item list only.
		listOnly bool
	}{
		"rotated by rotplan": {
			ref: "op://Production/staged/token", item: "staged", listOnly: true,
			before: "current r-1 " + rfc(rotated) + "; rotated " + rfc(rotated) + "; pending r-2 " + rfc(edited),
		},
		"never rotated by rotplan": {
			ref: "op://Production/legacy/password", item: "legacy", stage: true,
			before: "current foreign " + rfc(t0) + "; rotated " + rfc(edited) + "; pending r-2 " + rfc(t0),
		},
	} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			fx.now = t0
			s := fx.store()
			ref := secretRef("db", tc.ref)
			if tc.stage {
				if _, err := s.Stage(ctx, providers.StageRequest{Secret: ref, Value: sensitive.New(canaryStaged), Rotation: "r-2", Now: t0}); err != nil {
					t.Fatal(err)
				}
			}
			if got := inspect1(t, s, ref); got != tc.before {
				t.Fatalf("before the mark: %s\nwant %s", got, tc.before)
			}
			pendingValue := read1(t, s, ref, providers.SlotPending)
			currentValue := read1(t, s, ref, providers.SlotCurrent)

			fx.fake.ResetCalls()
			if _, err := s.MarkFailed(ctx, providers.MarkFailedRequest{Secret: ref, Rotation: "r-2"}); err != nil {
				t.Fatal(err)
			}
			if c := fx.fake.Calls(); c.GetItem != 1 || c.PutItem != 1 || c.Writes() != 1 {
				t.Errorf("mark calls = %+v; want 1 get, 1 put", c)
			}
			fx.fake.ResetCalls()
			if got, want := inspect1(t, s, ref), tc.before+" failed"; got != want {
				t.Errorf("after the mark: %s\nwant %s", got, want)
			}
			if c := fx.fake.Calls(); tc.listOnly && (c.ListItems != 1 || c.GetItems != 0 || c.GetItem != 0) {
				t.Errorf("inspect calls = %+v; want the item list only", c)
			}
			if read1(t, s, ref, providers.SlotPending) != pendingValue || read1(t, s, ref, providers.SlotCurrent) != currentValue {
				t.Error("the mark changed a value")
			}
			wantTag := tagPrefix + strings.TrimPrefix(tc.ref[strings.LastIndex(tc.ref, "/"):], "/") + "/" + tagFailed + "=r-2"
			if !slices.Contains(fx.item(t, tc.item).Tags, wantTag) {
				t.Errorf("tags %v, want %s", fx.item(t, tc.item).Tags, wantTag)
			}

			// Promote refuses the failed candidate and writes nothing.
			fx.fake.ResetCalls()
			_, err := s.Promote(ctx, providers.PromoteRequest{Secret: ref, Rotation: "r-2", Now: t0, RetireAfter: t0.Add(time.Hour)})
			if !errors.Is(err, providers.ErrPendingFailed) {
				t.Errorf("promote: err = %v, want ErrPendingFailed", err)
			}
			if err != nil && (strings.Contains(err.Error(), pendingValue) || strings.Contains(err.Error(), currentValue)) {
				t.Errorf("promote error carries a value")
			}
			if c := fx.fake.Calls(); c.Writes() != 0 {
				t.Errorf("promote calls = %+v; want no write", c)
			}
			if read1(t, s, ref, providers.SlotCurrent) != currentValue {
				t.Error("the refused promote changed the current value")
			}

			// Discard drops the value and the mark.
			if _, err := s.Discard(ctx, providers.DiscardRequest{Secret: ref, Rotation: "r-2"}); err != nil {
				t.Fatal(err)
			}
			if got := inspect1(t, s, ref); strings.Contains(got, "pending") {
				t.Errorf("after discard: %s, want nothing pending", got)
			}
			for _, tag := range fx.item(t, tc.item).Tags {
				if strings.Contains(tag, "/"+tagFailed+"=") || strings.Contains(tag, "/"+tagPending+"=") {
					t.Errorf("tag %q left after discard", tag)
				}
			}

			// The next rotation's pending value is not failed.
			if _, err := s.Stage(ctx, providers.StageRequest{Secret: ref, Value: sensitive.New(canaryStaged), Rotation: "r-3", Now: t0}); err != nil {
				t.Fatal(err)
			}
			if got := inspect1(t, s, ref); !strings.Contains(got, "pending r-3") || strings.Contains(got, "failed") {
				t.Errorf("after the next stage: %s", got)
			}
		})
	}
}

// TestFakeMarkFailedTagNamesPending: a failed tag marks the pending value
// only when it names the pending tag's rotation.
func TestFakeMarkFailedTagNamesPending(t *testing.T) {
	fx := newFixture(t)
	it := fx.item(t, "staged")
	it.Tags = append(it.Tags, tagPrefix+"token/"+tagFailed+"=r-1")
	if _, err := fx.fake.PutItem(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	ref := secretRef("db", "op://Production/staged/token")
	if got := inspect1(t, fx.store(), ref); strings.Contains(got, "failed") || !strings.Contains(got, "pending r-2") {
		t.Errorf("got %s, want r-2 pending and not failed", got)
	}
}

// TestFakeStageThenDiscardKeepsAge: a secret rotplan never rotated is
// dated from its item's last change, which staging and discarding are.
// Stage records that date as the rotated-at tag in the same put, so a
// rolled-back rotation leaves the secret exactly as due as it was, and the
// pending value in between does not change it either. A later stage keeps
// the recorded date; promote replaces it with the promote time.
func TestFakeStageThenDiscardKeepsAge(t *testing.T) {
	fx := newFixture(t)
	s := fx.store()
	ctx := context.Background()
	legacy := secretRef("legacy", "op://Production/legacy/password")
	inspect := func(what string) *providers.StoredSecret {
		t.Helper()
		resp, err := s.Inspect(ctx, providers.InspectRequest{Secrets: []providers.SecretRef{legacy}})
		if err != nil {
			t.Fatalf("%s: Inspect: %v", what, err)
		}
		st := resp.Secrets["legacy"]
		if st == nil || st.Err != nil || st.Current == nil {
			t.Fatalf("%s: %s", what, summary(st))
		}
		return st
	}

	st := inspect("before")
	if !st.RotatedAt.IsZero() || !st.Current.CreatedAt.Equal(edited) {
		t.Fatalf("before: %s, want the item's last change %s and no rotated-at", summary(st), rfc(edited))
	}
	basis := st.Current.CreatedAt

	if _, err := s.Stage(ctx, providers.StageRequest{Secret: legacy, Value: sensitive.New(canaryStaged), Rotation: "r-1", Now: t0}); err != nil {
		t.Fatal(err)
	}
	if n := fx.fake.Calls().Writes(); n != 1 {
		t.Errorf("stage made %d writes, want 1", n)
	}
	st = inspect("pending")
	if st.Pending == nil || st.Pending.Rotation != "r-1" || !st.RotatedAt.Equal(basis) {
		t.Errorf("with the candidate pending: %s, want rotated %s and r-1 pending", summary(st), rfc(basis))
	}

	fx.now = t0.Add(time.Hour)
	if _, err := s.Discard(ctx, providers.DiscardRequest{Secret: legacy, Rotation: "r-1"}); err != nil {
		t.Fatal(err)
	}
	st = inspect("after discard")
	if st.Pending != nil || !st.RotatedAt.Equal(basis) {
		t.Errorf("after discard: %s, want rotated %s and nothing pending", summary(st), rfc(basis))
	}
	if st.Current.CreatedAt.Equal(basis) {
		t.Errorf("the fake did not move the item's updated-at (still %s): this test needs it to", rfc(basis))
	}

	// The next rotation keeps the recorded date, and its promote replaces it.
	fx.now = t0.Add(2 * time.Hour)
	if _, err := s.Stage(ctx, providers.StageRequest{Secret: legacy, Value: sensitive.New(canaryStaged), Rotation: "r-2", Now: fx.now}); err != nil {
		t.Fatal(err)
	}
	if st = inspect("second stage"); !st.RotatedAt.Equal(basis) {
		t.Errorf("after a second stage: %s, want rotated %s", summary(st), rfc(basis))
	}
	if _, err := s.Promote(ctx, providers.PromoteRequest{Secret: legacy, Rotation: "r-2", Now: fx.now, RetireAfter: fx.now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if st = inspect("after promote"); !st.RotatedAt.Equal(fx.now) || st.Current.Rotation != "r-2" {
		t.Errorf("after promote: %s, want r-2 rotated %s", summary(st), rfc(fx.now))
	}
	for _, tag := range fx.item(t, "legacy").Tags {
		if strings.Contains(tag, "/"+tagRotatedAt+"=") {
			t.Errorf("tag %q left after promote; the current tag holds rotated-at now", tag)
		}
	}
}

// TestFakeCreate: a secret whose item does not exist gets one at stage; the
// current field appears at promote.
func TestFakeCreate(t *testing.T) {
	tests := map[string]struct {
		ref, item, section string
	}{
		"new item":                {ref: "op://Production/cloudforge-session/secret", item: "cloudforge-session", section: rotplanSection},
		"new item with a section": {ref: "op://Production/cloudforge-redis/auth/token", item: "cloudforge-redis", section: "auth"},
		"new field in an item":    {ref: "op://Production/fieldless/password", item: "fieldless", section: rotplanSection},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			s := fx.store()
			ctx := context.Background()
			ref := secretRef("new", tc.ref)
			if got := inspect1(t, s, ref); got != "absent" {
				t.Fatalf("before: %s", got)
			}
			if _, err := s.Stage(ctx, providers.StageRequest{Secret: ref, Value: sensitive.New(canaryStaged), Rotation: "r-1", Now: t0}); err != nil {
				t.Fatal(err)
			}
			if got := inspect1(t, s, ref); got != "pending r-1 "+rfc(t0) {
				t.Errorf("after stage: %s", got)
			}
			if _, err := s.Promote(ctx, providers.PromoteRequest{Secret: ref, Rotation: "r-1", Now: t0, RetireAfter: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if got := inspect1(t, s, ref); got != "current r-1 "+rfc(t0)+"; rotated "+rfc(t0) {
				t.Errorf("after promote: %s", got)
			}
			if read1(t, s, ref, providers.SlotCurrent) != canaryStaged {
				t.Error("current does not hold the staged value")
			}
			it := fx.item(t, tc.item)
			if len(it.Fields) != 1 || len(it.Sections) != 1 || it.Sections[0].Title != tc.section || *it.Fields[0].SectionID != it.Sections[0].ID {
				t.Errorf("item: %d fields, sections %+v; want one field in section %q", len(it.Fields), it.Sections, tc.section)
			}
		})
	}
}

// TestFakeWritesRunAgain pins what a resumed apply relies on: each write
// can run again, and a pending value of another rotation is never touched.
func TestFakeWritesRunAgain(t *testing.T) {
	ctx := context.Background()
	jwt := secretRef("jwt", "op://Production/cloudforge-jwt/credential")
	stage := func(s *Store, rotation, v string) error {
		_, err := s.Stage(ctx, providers.StageRequest{Secret: jwt, Value: sensitive.New(v), Rotation: rotation, Now: t0})
		return err
	}
	promote := func(s *Store, rotation string) error {
		_, err := s.Promote(ctx, providers.PromoteRequest{Secret: jwt, Rotation: rotation, Now: t0, RetireAfter: t0.Add(time.Hour)})
		return err
	}
	discard := func(s *Store, rotation string) error {
		_, err := s.Discard(ctx, providers.DiscardRequest{Secret: jwt, Rotation: rotation})
		return err
	}
	retire := func(s *Store) error {
		_, err := s.RetirePrevious(ctx, providers.RetirePreviousRequest{Secret: jwt})
		return err
	}
	mark := func(s *Store, rotation string) error {
		_, err := s.MarkFailed(ctx, providers.MarkFailedRequest{Secret: jwt, Rotation: rotation})
		return err
	}
	stageAndMark := func(s *Store) error { _ = stage(s, "r-2", canaryStaged); return mark(s, "r-2") }
	tests := map[string]struct {
		setup func(*Store) error
		do    func(*Store) error
		// wantErr is nil for a no-op: the call must write nothing.
		wantErr error
	}{
		"stage again":                       {setup: func(s *Store) error { return stage(s, "r-2", canaryStaged) }, do: func(s *Store) error { return stage(s, "r-2", canaryStaged) }},
		"stage another value":               {setup: func(s *Store) error { return stage(s, "r-2", canaryStaged) }, do: func(s *Store) error { return stage(s, "r-2", canaryPending) }, wantErr: ErrPendingConflict},
		"stage over another rotation":       {setup: func(s *Store) error { return stage(s, "r-2", canaryStaged) }, do: func(s *Store) error { return stage(s, "r-3", canaryPending) }, wantErr: ErrPendingConflict},
		"stage after promote":               {setup: func(s *Store) error { _ = stage(s, "r-2", canaryStaged); return promote(s, "r-2") }, do: func(s *Store) error { return stage(s, "r-2", canaryStaged) }},
		"stage another value after promote": {setup: func(s *Store) error { _ = stage(s, "r-2", canaryStaged); return promote(s, "r-2") }, do: func(s *Store) error { return stage(s, "r-2", canaryPending) }, wantErr: ErrPendingConflict},
		"promote again":                     {setup: func(s *Store) error { _ = stage(s, "r-2", canaryStaged); return promote(s, "r-2") }, do: func(s *Store) error { return promote(s, "r-2") }},
		"promote another rotation":          {setup: func(s *Store) error { return stage(s, "r-2", canaryStaged) }, do: func(s *Store) error { return promote(s, "r-3") }, wantErr: ErrPendingConflict},
		"promote nothing":                   {do: func(s *Store) error { return promote(s, "r-2") }, wantErr: ErrNoPending},
		"discard nothing":                   {do: func(s *Store) error { return discard(s, "r-2") }},
		"discard again":                     {setup: func(s *Store) error { _ = stage(s, "r-2", canaryStaged); return discard(s, "r-2") }, do: func(s *Store) error { return discard(s, "r-2") }},
		"discard another rotation":          {setup: func(s *Store) error { return stage(s, "r-2", canaryStaged) }, do: func(s *Store) error { return discard(s, "r-3") }, wantErr: ErrPendingConflict},
		"retire nothing":                    {do: retire},
		"retire again":                      {setup: func(s *Store) error { _ = stage(s, "r-2", canaryStaged); _ = promote(s, "r-2"); return retire(s) }, do: retire},
		"mark failed again":                 {setup: stageAndMark, do: func(s *Store) error { return mark(s, "r-2") }},
		"mark failed nothing pending":       {do: func(s *Store) error { return mark(s, "r-2") }},
		"mark failed after discard":         {setup: func(s *Store) error { _ = stageAndMark(s); return discard(s, "r-2") }, do: func(s *Store) error { return mark(s, "r-2") }},
		"mark failed after promote":         {setup: func(s *Store) error { _ = stage(s, "r-2", canaryStaged); return promote(s, "r-2") }, do: func(s *Store) error { return mark(s, "r-2") }},
		"mark failed another rotation":      {setup: func(s *Store) error { return stage(s, "r-2", canaryStaged) }, do: func(s *Store) error { return mark(s, "r-3") }, wantErr: ErrPendingConflict},
		"stage again after mark failed":     {setup: stageAndMark, do: func(s *Store) error { return stage(s, "r-2", canaryStaged) }},
		"promote after mark failed":         {setup: stageAndMark, do: func(s *Store) error { return promote(s, "r-2") }, wantErr: providers.ErrPendingFailed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			s := fx.store()
			if tc.setup != nil {
				if err := tc.setup(s); err != nil {
					t.Fatal(err)
				}
			}
			before := fx.item(t, "cloudforge-jwt")
			fx.fake.ResetCalls()
			err := tc.do(s)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if c := fx.fake.Calls(); c.Writes() != 0 {
				t.Errorf("calls = %+v; want no write", c)
			}
			if after := fx.item(t, "cloudforge-jwt"); after.Version != before.Version {
				t.Error("the item changed")
			}
		})
	}
}

// TestFakeForeignPending: a pending value rotplan did not stage is never
// promoted, discarded or overwritten.
func TestFakeForeignPending(t *testing.T) {
	fx := newFixture(t)
	s := fx.store()
	ctx := context.Background()
	ref := secretRef("foreign", "op://Production/foreign/password")
	calls := map[string]func() error{
		"stage": func() error {
			_, err := s.Stage(ctx, providers.StageRequest{Secret: ref, Value: sensitive.New(canaryStaged), Rotation: "r-1", Now: t0})
			return err
		},
		"promote": func() error {
			_, err := s.Promote(ctx, providers.PromoteRequest{Secret: ref, Rotation: "r-1", Now: t0})
			return err
		},
		"discard": func() error {
			_, err := s.Discard(ctx, providers.DiscardRequest{Secret: ref, Rotation: "r-1"})
			return err
		},
		"mark failed": func() error {
			_, err := s.MarkFailed(ctx, providers.MarkFailedRequest{Secret: ref, Rotation: "r-1"})
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, ErrPendingConflict) || !strings.Contains(err.Error(), "did not stage") {
			t.Errorf("%s: err = %v, want a pending conflict naming the foreign value", name, err)
		}
	}
	if c := fx.fake.Calls(); c.Writes() != 0 {
		t.Errorf("calls = %+v; want no write", c)
	}
}

// overlapping holds each GetItem until another one meets it (or a moment
// passes), so two read-modify-writes of one item that did not take turns
// would both read the same version.
type overlapping struct {
	*onepasswordtest.Fake
	meet chan struct{}
}

func (o *overlapping) GetItem(ctx context.Context, vaultID, itemID string) (op.Item, error) {
	it, err := o.Fake.GetItem(ctx, vaultID, itemID)
	select {
	case o.meet <- struct{}{}:
	case <-o.meet:
	case <-time.After(100 * time.Millisecond):
	}
	return it, err
}

// TestFakeSecretsSharingAnItem: two secrets in one item staged at once both
// land, though each write replaces the whole item.
func TestFakeSecretsSharingAnItem(t *testing.T) {
	fx := newFixture(t)
	api := &overlapping{Fake: fx.fake, meet: make(chan struct{})}
	r := providers.NewRegistry()
	RegisterWith(r, func(context.Context, string) (API, error) { return api, nil })
	refs := []providers.SecretRef{
		secretRef("admin", "op://Production/cloudforge postgres/admin/password"),
		secretRef("app", "op://Production/cloudforge postgres/app/password"),
	}
	var wg sync.WaitGroup
	errs := make([]error, len(refs))
	for i, ref := range refs {
		wg.Go(func() {
			st, err := r.NewStore("onepassword", testSettings())
			if err == nil {
				_, err = st.(providers.StoreWriter).Stage(context.Background(), providers.StageRequest{Secret: ref, Value: sensitive.New(canaryStaged + ref.Name), Rotation: "r-" + ref.Name, Now: t0})
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", refs[i].Name, err)
		}
	}
	s := fx.store()
	for _, ref := range refs {
		if got := read1(t, s, ref, providers.SlotPending); got != canaryStaged+ref.Name {
			t.Errorf("%s: the pending value was lost", ref.Name)
		}
	}
}

// TestFakePlanCallCount pins the acceptance: plan over 1,000 secrets in 3
// vaults lists the vaults once and each vault's items once, and reads no
// item on its own.
func TestFakePlanCallCount(t *testing.T) {
	for _, tagged := range []bool{true, false} {
		t.Run(fmt.Sprintf("rotated by rotplan %v", tagged), func(t *testing.T) {
			fake := onepasswordtest.New()
			fake.AddVault("Unused")
			vaults := []string{"Production", "Staging", "Shared"}
			vaultIDs := map[string]string{}
			for _, v := range vaults {
				vaultIDs[v] = fake.AddVault(v)
			}
			var refs []providers.SecretRef
			perVault := map[string]int{}
			for i := range 1000 {
				title := vaults[i%3]
				it := op.Item{VaultID: vaultIDs[title], Title: fmt.Sprintf("svc-%04d", i), Category: op.ItemCategoryPassword,
					Fields: []op.ItemField{{ID: "password", Title: "password", FieldType: op.ItemFieldTypeConcealed, Value: fmt.Sprintf("CANARY-%04d", i)}}}
				if tagged {
					it.Tags = []string{stampTag("password", tagCurrent, "r-1", rotated)}
				}
				fake.AddItem(it)
				refs = append(refs, secretRef(it.Title, "op://"+title+"/"+it.Title+"/password"))
				perVault[title]++
			}
			fake.ResetCalls()

			r := providers.NewRegistry()
			connects := 0
			RegisterWith(r, func(context.Context, string) (API, error) { connects++; return fake, nil })
			st, err := r.NewStore("onepassword", testSettings())
			if err != nil {
				t.Fatal(err)
			}
			resp, err := st.Inspect(context.Background(), providers.InspectRequest{Secrets: refs})
			if err != nil {
				t.Fatal(err)
			}
			for _, ref := range refs {
				if s := resp.Secrets[ref.Name]; s == nil || s.Err != nil || s.Current == nil {
					t.Fatalf("%s: %s", ref.Name, summary(s))
				}
			}
			batches := 0
			for _, n := range perVault {
				batches += (n + MaxBatch - 1) / MaxBatch
			}
			want := onepasswordtest.Calls{ListVaults: 1, ListItems: 3}
			if !tagged {
				want.GetItems = batches // items rotplan has not tagged yet
			}
			if c := fake.Calls(); c != want {
				t.Errorf("inspect calls = %+v, want %+v", c, want)
			}
			t.Logf("inspect of %d secrets in 3 vaults: %+v", len(refs), fake.Calls())

			// Plan reads the current values of secrets with targets: the
			// item lists are reused, the items read in batches.
			fake.ResetCalls()
			read, err := st.Read(context.Background(), providers.ReadRequest{Secrets: refs, Slot: providers.SlotCurrent})
			if err != nil {
				t.Fatal(err)
			}
			if len(read.Values) != len(refs) || len(read.Errors) != 0 {
				t.Errorf("read %d values, %d errors", len(read.Values), len(read.Errors))
			}
			if c, want := fake.Calls(), (onepasswordtest.Calls{GetItems: batches}); c != want {
				t.Errorf("read calls = %+v, want %+v", c, want)
			}
			t.Logf("read of %d current values: %+v", len(refs), fake.Calls())

			// A second store from the registry (apply makes one per
			// secret) shares the client and the vault list.
			fake.ResetCalls()
			st2, _ := r.NewStore("onepassword", testSettings())
			if _, err := st2.Inspect(context.Background(), providers.InspectRequest{Secrets: refs[:1]}); err != nil {
				t.Fatal(err)
			}
			if c := fake.Calls(); c.ListVaults != 0 || c.ListItems != 1 {
				t.Errorf("second store calls = %+v, want 1 item list", c)
			}
			if connects != 1 {
				t.Errorf("connected %d times, want once", connects)
			}
		})
	}
}

// TestFakeClientIsLazy: the SDK client (about 2 s to create) is made only
// when a secret uses the store, and once per token.
func TestFakeClientIsLazy(t *testing.T) {
	fx := newFixture(t)
	connects := map[string]int{}
	var failNext bool
	r := providers.NewRegistry()
	RegisterWith(r, func(_ context.Context, token string) (API, error) {
		connects[token]++
		if failNext {
			failNext = false
			return nil, errors.New("cannot reach 1Password")
		}
		return fx.fake, nil
	})
	ctx := context.Background()
	if _, ok := r.Schema(config.KindStore, "onepassword"); !ok {
		t.Fatal("provider not registered")
	}
	st, err := r.NewStore("onepassword", testSettings())
	if err != nil {
		t.Fatal(err)
	}
	if len(connects) != 0 {
		t.Fatal("building the store connected")
	}
	if _, err := st.Inspect(ctx, providers.InspectRequest{}); err != nil || len(connects) != 0 {
		t.Fatalf("inspecting no secrets connected (err %v)", err)
	}
	if _, err := st.Read(ctx, providers.ReadRequest{}); err != nil || len(connects) != 0 {
		t.Fatalf("reading no secrets connected (err %v)", err)
	}
	jwt := secretRef("jwt", "op://Production/cloudforge-jwt/credential")
	failNext = true
	if _, err := st.Inspect(ctx, providers.InspectRequest{Secrets: []providers.SecretRef{jwt}}); err == nil || !strings.Contains(err.Error(), "onepassword: connect: cannot reach 1Password") {
		t.Fatalf("err = %v", err)
	}
	for range 3 {
		st, _ := r.NewStore("onepassword", testSettings())
		if got := inspect1(t, st.(*Store), jwt); !strings.HasPrefix(got, "current r-1") {
			t.Fatal(got)
		}
	}
	if connects[testToken] != 2 {
		t.Errorf("connected %d times with the token, want 2 (a failure, then once)", connects[testToken])
	}
	other := providers.Settings{Provider: cty.ObjectVal(map[string]cty.Value{"service_account_token": cty.StringVal("ops_other")})}
	st, _ = r.NewStore("onepassword", other)
	inspect1(t, st.(*Store), jwt)
	if connects["ops_other"] != 1 {
		t.Error("another token did not get its own client")
	}
}

func TestFakeNoToken(t *testing.T) {
	r := providers.NewRegistry()
	RegisterWith(r, func(context.Context, string) (API, error) { t.Fatal("connected"); return nil, nil })
	tests := map[string]struct {
		provider cty.Value
		want     string
	}{
		"no provider block": {cty.NilVal, `provider "onepassword" block`},
		"unset env var":     {cty.ObjectVal(map[string]cty.Value{"service_account_token": cty.UnknownVal(cty.String)}), "OP_SERVICE_ACCOUNT_TOKEN"},
		"empty":             {cty.ObjectVal(map[string]cty.Value{"service_account_token": cty.StringVal("")}), "no service account token"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := r.NewStore("onepassword", providers.Settings{Provider: tc.provider})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %s", err, tc.want)
			}
		})
	}
}

// TestFakeErrorsCarryNoSecret: whatever the SDK's errors say, rotplan's
// errors name the reference and the step, and never the token or a value
// rotplan holds at that point: the values of the item it writes and the
// value it stages. (A failed read cannot know the values it would have
// read; the token it always knows.)
func TestFakeErrorsCarryNoSecret(t *testing.T) {
	ctx := context.Background()
	jwt := secretRef("jwt", "op://Production/cloudforge-jwt/credential")
	grace := secretRef("grace", "op://Production/grace/password")
	tests := map[string]struct {
		method  string
		call    func(*Store) error
		secrets []string // what the SDK's error quotes, the token besides
		want    string
	}{
		"connect": {
			method: "connect",
			call: func(s *Store) error {
				_, err := s.Inspect(ctx, providers.InspectRequest{Secrets: []providers.SecretRef{jwt}})
				return err
			},
			want: "onepassword: connect: itemValidationError",
		},
		"list vaults": {
			method: "ListVaults",
			call: func(s *Store) error {
				resp, err := s.Inspect(ctx, providers.InspectRequest{Secrets: []providers.SecretRef{jwt}})
				if err != nil {
					return err
				}
				return resp.Secrets["jwt"].Err
			},
			want: "onepassword op://Production/cloudforge-jwt/credential: list vaults: itemValidationError",
		},
		"list items": {
			method: "ListItems",
			call: func(s *Store) error {
				resp, _ := s.Inspect(ctx, providers.InspectRequest{Secrets: []providers.SecretRef{jwt}})
				return resp.Secrets["jwt"].Err
			},
			want: "onepassword op://Production/cloudforge-jwt/credential: list items: itemValidationError",
		},
		"batch read": {
			method: "GetItems",
			call: func(s *Store) error {
				resp, _ := s.Read(ctx, providers.ReadRequest{Secrets: []providers.SecretRef{jwt}, Slot: providers.SlotCurrent})
				return resp.Errors["jwt"]
			},
			want: "onepassword op://Production/cloudforge-jwt/credential: get items: itemValidationError",
		},
		"get": {
			method: "GetItem",
			call: func(s *Store) error {
				_, err := s.RetirePrevious(ctx, providers.RetirePreviousRequest{Secret: grace})
				return err
			},
			want: "onepassword op://Production/grace/password: retire previous: get item: itemValidationError",
		},
		"put at stage": {
			method: "PutItem",
			call: func(s *Store) error {
				_, err := s.Stage(ctx, providers.StageRequest{Secret: jwt, Value: sensitive.New(canaryStaged), Rotation: "r-2", Now: t0})
				return err
			},
			secrets: []string{canaryCurrent, canaryStaged},
			want:    "onepassword op://Production/cloudforge-jwt/credential: stage: put item: itemValidationError",
		},
		"put at retire": {
			method: "PutItem",
			call: func(s *Store) error {
				_, err := s.RetirePrevious(ctx, providers.RetirePreviousRequest{Secret: grace})
				return err
			},
			secrets: []string{canaryCurrent, canaryPrevious}, // the one dropped too
			want:    "onepassword op://Production/grace/password: retire previous: put item: itemValidationError",
		},
		"create": {
			method: "CreateItem",
			call: func(s *Store) error {
				_, err := s.Stage(ctx, providers.StageRequest{Secret: secretRef("new", "op://Production/new/credential"), Value: sensitive.New(canaryStaged), Rotation: "r-2", Now: t0})
				return err
			},
			secrets: []string{canaryStaged},
			want:    "onepassword op://Production/new/credential: stage: create item: itemValidationError",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			secrets := append([]string{testToken}, tc.secrets...)
			leaky := fmt.Errorf("itemValidationError: %s", strings.Join(secrets, ", "))
			fx := newFixture(t)
			var s *Store
			if tc.method == "connect" {
				s = newStore(testSettings(), testToken, newConnector(func(context.Context, string) (API, error) { return nil, leaky }))
			} else {
				fx.fake.FailWith(tc.method, leaky)
				s = fx.store()
			}
			err := tc.call(s)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.want) {
				t.Errorf("error %q\ndoes not start %q", msg, tc.want)
			}
			for _, sec := range secrets {
				if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), sec) {
					t.Errorf("error carries a secret: %s", msg)
				}
				for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
					if strings.Contains(e.Error(), sec) {
						t.Errorf("a wrapped error carries a secret: %s", e.Error())
					}
				}
			}
		})
	}
}

func TestFakeRateLimited(t *testing.T) {
	fx := newFixture(t)
	fx.fake.FailWith("ListItems", &op.RateLimitExceededError{})
	resp, err := fx.store().Inspect(context.Background(), providers.InspectRequest{Secrets: []providers.SecretRef{secretRef("jwt", "op://Production/cloudforge-jwt/credential")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Secrets["jwt"].Err; !errors.Is(err, ErrRateLimited) {
		t.Errorf("err = %v, want ErrRateLimited", err)
	}
}
