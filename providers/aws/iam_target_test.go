package aws

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	fakeiam "github.com/rotplan/rotplan/internal/fakes/iam"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

func newFakeIAMTarget(t *testing.T, url string) *IAMKeyTarget {
	t.Helper()
	r := providers.NewRegistry()
	Register(r)
	tg, err := r.NewTarget("aws_iam_access_key", providers.Settings{Provider: cty.ObjectVal(map[string]cty.Value{
		"region":   cty.StringVal("us-east-1"),
		"profile":  cty.NullVal(cty.String),
		"endpoint": cty.StringVal(url),
	})})
	if err != nil {
		t.Fatal(err)
	}
	return tg.(*IAMKeyTarget)
}

func TestIAMKeyTargetFake(t *testing.T) {
	is, _, fake, _ := newFakeIAM(t)
	tg := newFakeIAMTarget(t, fake.URL)
	fake.AddUser("app")
	target := cty.ObjectVal(map[string]cty.Value{"user_name": cty.StringVal("app")})
	observe := func(current, previous sensitive.Value) providers.Observation {
		t.Helper()
		resp, err := tg.Observe(t.Context(), providers.ObserveRequest{Items: []providers.ObserveItem{{Secret: "key", Target: "target.aws_iam_access_key[0]", Config: target, Current: current, Previous: previous}}})
		if err != nil || len(resp.Results) != 1 {
			t.Fatalf("Observe: %v, %+v", err, resp)
		}
		return resp.Results[0]
	}
	item := func(v, prev sensitive.Value) []providers.WriteItem {
		return []providers.WriteItem{{Secret: "key", Target: "target.aws_iam_access_key[0]", Config: target, Value: v, Previous: prev}}
	}

	if o := observe(sensitive.Value{}, sensitive.Value{}); o.Holds != providers.HoldsNothing || o.Unknown != 0 || o.Err != nil {
		t.Errorf("a user with no keys: %+v", o)
	}
	fake.AddKey("app", "AKIAHANDMADE00000001", "handmade-secret")
	if o := observe(sensitive.Value{}, sensitive.Value{}); o.Holds != providers.HoldsOther || o.Unknown != 1 {
		t.Errorf("a user with a key rotplan did not make, before the first rotation: %+v", o)
	}
	a, aValue := mint(t, is, keyCfg("app", ""))
	if o := observe(aValue, sensitive.Value{}); o.Holds != providers.HoldsCurrent || o.Unknown != 1 {
		t.Errorf("the current key and a hand-made one: %+v", o)
	}
	resp, err := tg.Deliver(t.Context(), providers.DeliverRequest{Items: item(aValue, sensitive.Value{})})
	if err != nil || resp.Results[0].Err != nil || !resp.Results[0].Skipped {
		t.Errorf("Deliver of the minted key: %v %+v", err, resp)
	}
	stranger := sensitive.FromFields(map[string]sensitive.Value{FieldAccessKeyID: sensitive.New("AKIANOTTHEUSERS00001"), FieldSecretAccessKey: sensitive.New("x")})
	resp, _ = tg.Deliver(t.Context(), providers.DeliverRequest{Items: item(stranger, sensitive.Value{})})
	if err := resp.Results[0].Err; err == nil || !strings.Contains(err.Error(), "not an Active key") {
		t.Errorf("Deliver of a key the user does not have: %v", err)
	}

	// Retire deactivates the hand-made key, and leaves the current one.
	resp, err = tg.Retire(t.Context(), providers.RetireRequest{Items: item(aValue, sensitive.Value{})})
	if err != nil || resp.Results[0].Err != nil || resp.Results[0].Skipped {
		t.Fatalf("Retire: %v %+v", err, resp)
	}
	got := map[string]string{}
	for _, k := range fake.Keys("app") {
		got[k.ID] = k.Status
	}
	if got["AKIAHANDMADE00000001"] != fakeiam.Inactive || got[a] != fakeiam.Active {
		t.Errorf("after Retire: %v", got)
	}
	if o := observe(aValue, sensitive.Value{}); o.Holds != providers.HoldsCurrent || o.Unknown != 0 {
		t.Errorf("after Retire: %+v", o)
	}

	// The previous value's key is not Unknown, and Retire leaves it to the
	// issuer.
	fake.AddUser("two")
	two := cty.ObjectVal(map[string]cty.Value{"user_name": cty.StringVal("two")})
	_, oldValue := mint(t, is, keyCfg("two", ""))
	_, newValue := mint(t, is, keyCfg("two", ""))
	r2, err := tg.Observe(t.Context(), providers.ObserveRequest{Items: []providers.ObserveItem{{Config: two, Current: newValue, Previous: oldValue}}})
	if err != nil || r2.Results[0].Holds != providers.HoldsCurrent || r2.Results[0].Unknown != 0 {
		t.Errorf("current and previous: %v %+v", err, r2)
	}
	resp, _ = tg.Retire(t.Context(), providers.RetireRequest{Items: []providers.WriteItem{{Config: two, Value: newValue, Previous: oldValue}}})
	if resp.Results[0].Err != nil || !resp.Results[0].Skipped {
		t.Errorf("Retire with only the previous key besides: %+v", resp.Results[0])
	}
	for _, k := range fake.Keys("two") {
		if k.Status != fakeiam.Active {
			t.Errorf("Retire changed %s", k.ID)
		}
	}

	// A user that does not exist is this item's error.
	r3, err := tg.Observe(t.Context(), providers.ObserveRequest{Items: []providers.ObserveItem{{Config: cty.ObjectVal(map[string]cty.Value{"user_name": cty.StringVal("nobody")})}}})
	if err != nil || r3.Results[0].Err == nil || !strings.Contains(r3.Results[0].Err.Error(), "NoSuchEntity") {
		t.Errorf("a user that does not exist: %v %+v", err, r3)
	}
}
