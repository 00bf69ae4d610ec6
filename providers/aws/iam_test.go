package aws

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/go-hclog"
	"github.com/sivchari/kumo"
	"github.com/zclconf/go-cty/cty"

	fakeiam "github.com/rotplan/rotplan/internal/fakes/iam"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// The administrative credentials fakeEnv gives the SDK's default chain.
const (
	adminKeyID  = "AKIDROTPLANTEST"
	adminSecret = "rotplan-test-secret-key"
)

// iamRuns numbers the runs of the shared issuer tests in this process:
// kumo keeps its users in memory shared by every server.
var iamRuns atomic.Int64

// awsAt returns the issuer and the check the registry builds for a
// provider "aws" block whose endpoint is url, with their log kept.
func awsAt(t *testing.T, url string) (*IAMAccessKey, *STSCheck, *bytes.Buffer) {
	t.Helper()
	fakeEnv(t)
	var log bytes.Buffer
	r := providers.NewRegistry()
	Register(r)
	s := providers.Settings{
		Provider: cty.ObjectVal(map[string]cty.Value{
			"region":   cty.StringVal("us-east-1"),
			"profile":  cty.NullVal(cty.String),
			"endpoint": cty.StringVal(url),
		}),
		Logger: hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Trace}),
	}
	gen, err := r.NewGenerator("aws_iam_access_key", s)
	if err != nil {
		t.Fatal(err)
	}
	is, ok := gen.(*IAMAccessKey)
	if !ok {
		t.Fatalf("the registry built a %T", gen)
	}
	v, err := r.NewVerifier("aws_sts", s)
	if err != nil {
		t.Fatal(err)
	}
	check, ok := v.(*STSCheck)
	if !ok {
		t.Fatalf("the registry built a %T", v)
	}
	return is, check, &log
}

// newFakeIAM starts the IAM and STS fake, which knows the administrative
// key, and returns the issuer and the check pointed at it.
func newFakeIAM(t *testing.T) (*IAMAccessKey, *STSCheck, *fakeiam.Server, *bytes.Buffer) {
	t.Helper()
	fake := fakeiam.New(t)
	fake.AddKey("rotplan-admin", adminKeyID, adminSecret)
	is, check, log := awsAt(t, fake.URL)
	return is, check, fake, log
}

// keyCfg is a generate "aws_iam_access_key" block.
func keyCfg(user, revoke string) cty.Value {
	r := cty.NullVal(cty.String)
	if revoke != "" {
		r = cty.StringVal(revoke)
	}
	return cty.ObjectVal(map[string]cty.Value{"user_name": cty.StringVal(user), "revoke": r})
}

// mint generates a key and checks the value's shape.
func mint(t *testing.T, is *IAMAccessKey, cfg cty.Value) (string, sensitive.Value) {
	t.Helper()
	resp, err := is.Generate(t.Context(), providers.GenerateRequest{Secret: "key", Config: cfg, Rotation: "r-1"})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	fields, err := resp.Value.Fields()
	if err != nil {
		t.Fatalf("the value is not structured: %v", err)
	}
	if len(fields) != 2 || fields[FieldAccessKeyID].Reveal() != resp.ID || resp.ID == "" || fields[FieldSecretAccessKey].IsEmpty() {
		t.Fatalf("Generate returned id %q and fields %v", resp.ID, fields)
	}
	return resp.ID, resp.Value
}

// issuerBackend is an IAM implementation the shared issuer tests run
// against.
type issuerBackend struct {
	// start serves one and returns the issuer pointed at it, and a way to
	// add a user with no keys.
	start func(t *testing.T) (is *IAMAccessKey, addUser func(t *testing.T, name string))
}

func TestIAMAccessKeySharedFake(t *testing.T) {
	runIssuerShared(t, issuerBackend{start: func(t *testing.T) (*IAMAccessKey, func(*testing.T, string)) {
		is, _, fake, _ := newFakeIAM(t)
		return is, func(_ *testing.T, name string) { fake.AddUser(name) }
	}})
}

// TestIAMAccessKeySharedKumo runs the same tests against the kumo
// emulator, which has CreateAccessKey, ListAccessKeys and DeleteAccessKey
// (no UpdateAccessKey, and no signature check).
func TestIAMAccessKeySharedKumo(t *testing.T) {
	runIssuerShared(t, issuerBackend{start: func(t *testing.T) (*IAMAccessKey, func(*testing.T, string)) {
		srv := kumo.NewServer()
		t.Cleanup(srv.Close)
		is, _, _ := awsAt(t, srv.URL)
		return is, func(t *testing.T, name string) {
			t.Helper()
			api, err := is.api(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := api.CreateUser(t.Context(), &iam.CreateUserInput{UserName: awssdk.String(name)}); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
		}
	}})
}

func runIssuerShared(t *testing.T, b issuerBackend) {
	prefix := fmt.Sprintf("shared%d-", iamRuns.Add(1))
	is, addUser := b.start(t)
	keys := func(t *testing.T, user string) []string {
		t.Helper()
		api, err := is.api(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		list, err := is.list(t.Context(), api, keyBlock{user: user})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range list {
			ids = append(ids, k.id)
		}
		return ids
	}
	revoke := func(t *testing.T, cfg cty.Value, id string, v sensitive.Value) {
		t.Helper()
		if _, err := is.Revoke(t.Context(), providers.RevokeRequest{Secret: "key", Config: cfg, ID: id, Value: v}); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
	}

	t.Run("mint", func(t *testing.T) {
		user := prefix + "mint"
		addUser(t, user)
		id, _ := mint(t, is, keyCfg(user, ""))
		if got := keys(t, user); len(got) != 1 || got[0] != id {
			t.Errorf("the user has keys %v, want [%s]", got, id)
		}
	})
	t.Run("third key refused", func(t *testing.T) {
		user := prefix + "third"
		addUser(t, user)
		a, _ := mint(t, is, keyCfg(user, ""))
		bID, _ := mint(t, is, keyCfg(user, ""))
		_, err := is.Generate(t.Context(), providers.GenerateRequest{Secret: "key", Config: keyCfg(user, ""), Rotation: "r-3"})
		if !errors.Is(err, ErrKeyLimit) {
			t.Fatalf("Generate of a third key: %v, want ErrKeyLimit", err)
		}
		for _, want := range []string{user, a, bID, "deactivate or delete the key that the secret's store does not hold"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not say %q: %v", want, err)
			}
		}
		if got := keys(t, user); len(got) != 2 {
			t.Errorf("the user has keys %v after the refusal", got)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		_, err := is.Generate(t.Context(), providers.GenerateRequest{Secret: "key", Config: keyCfg(prefix+"nobody", ""), Rotation: "r-1"})
		if err == nil || !strings.Contains(err.Error(), "NoSuchEntity") {
			t.Errorf("Generate for a user that does not exist: %v, want NoSuchEntity", err)
		}
	})
	t.Run("revoke by id and by value", func(t *testing.T) {
		user := prefix + "revoke"
		addUser(t, user)
		cfg := keyCfg(user, "")
		a, _ := mint(t, is, cfg)
		bID, bValue := mint(t, is, cfg)
		revoke(t, cfg, a, sensitive.Value{})
		if got := keys(t, user); len(got) != 1 || got[0] != bID {
			t.Fatalf("after revoking %s by id the user has %v", a, got)
		}
		revoke(t, cfg, "", bValue)
		if got := keys(t, user); len(got) != 0 {
			t.Fatalf("after revoking by value the user has %v", got)
		}
		// Already gone is no error.
		revoke(t, cfg, a, sensitive.Value{})
		revoke(t, cfg, "", bValue)
	})
	t.Run("sweep deletes only the orphan", func(t *testing.T) {
		user := prefix + "sweep"
		addUser(t, user)
		cfg := keyCfg(user, "")
		kept, keptValue := mint(t, is, cfg)
		since := time.Now()
		orphan, _ := mint(t, is, cfg)
		resp, err := is.Sweep(t.Context(), providers.SweepRequest{Secret: "key", Config: cfg, Rotation: "r-2", Since: since, Keep: []sensitive.Value{keptValue}})
		if err != nil {
			t.Fatalf("Sweep: %v", err)
		}
		if len(resp.Revoked) != 1 || resp.Revoked[0] != orphan {
			t.Errorf("Sweep revoked %v, want [%s]", resp.Revoked, orphan)
		}
		if got := keys(t, user); len(got) != 1 || got[0] != kept {
			t.Errorf("after the sweep the user has %v, want [%s]", got, kept)
		}
	})
	t.Run("sweep refuses a kept value that names no key", func(t *testing.T) {
		user := prefix + "sweep-plain"
		addUser(t, user)
		cfg := keyCfg(user, "")
		id, _ := mint(t, is, cfg)
		_, err := is.Sweep(t.Context(), providers.SweepRequest{Secret: "key", Config: cfg, Rotation: "r-2", Since: time.Now().Add(-time.Hour), Keep: []sensitive.Value{sensitive.New("plain")}})
		if err == nil {
			t.Error("Sweep with a kept value that is not an access key succeeded")
		}
		if got := keys(t, user); len(got) != 1 || got[0] != id {
			t.Errorf("after the refused sweep the user has %v", got)
		}
	})
}

func TestIAMAccessKeyFakeSweepLeavesOlderKeys(t *testing.T) {
	is, _, fake, _ := newFakeIAM(t)
	cfg := keyCfg("app", "")
	fake.AddUser("app")
	started := time.Now()
	fake.SetClock(func() time.Time { return started.Add(-2 * time.Hour) })
	older, _ := mint(t, is, cfg) // someone's key from before the rotation
	fake.SetClock(time.Now)
	orphan, _ := mint(t, is, cfg)
	resp, err := is.Sweep(t.Context(), providers.SweepRequest{Secret: "key", Config: cfg, Rotation: "r-1", Since: started})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Revoked) != 1 || resp.Revoked[0] != orphan {
		t.Errorf("Sweep revoked %v, want [%s]", resp.Revoked, orphan)
	}
	if got := fake.Keys("app"); len(got) != 1 || got[0].ID != older {
		t.Errorf("the user has %+v, want only %s", got, older)
	}
}

// TestIAMAccessKeyFakeDeactivate walks revoke = "deactivate" through two
// rotations: retire deactivates the replaced key, a rollback deletes the
// candidate, and the next mint deletes the inactive key to make room.
func TestIAMAccessKeyFakeDeactivate(t *testing.T) {
	is, _, fake, _ := newFakeIAM(t)
	fake.AddUser("app")
	cfg := keyCfg("app", RevokeDeactivate)
	clock := time.Now().Add(-time.Hour)
	fake.SetClock(func() time.Time { return clock })
	revoke := func(id string, v sensitive.Value) {
		t.Helper()
		if _, err := is.Revoke(t.Context(), providers.RevokeRequest{Secret: "key", Config: cfg, ID: id, Value: v}); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
	}
	status := func() map[string]string {
		out := map[string]string{}
		for _, k := range fake.Keys("app") {
			out[k.ID] = k.Status
		}
		return out
	}

	a, aValue := mint(t, is, cfg)
	clock = clock.Add(time.Minute)
	b, _ := mint(t, is, cfg)
	// A failed check: the candidate b is deleted, not deactivated.
	revoke(b, sensitive.Value{})
	if got := status(); len(got) != 1 || got[a] != fakeiam.Active {
		t.Fatalf("after the rollback: %v, want only %s active", got, a)
	}
	clock = clock.Add(time.Minute)
	c, _ := mint(t, is, cfg)
	// Retire of a, which c replaced: a is deactivated and stays.
	revoke("", aValue)
	if got := status(); got[a] != fakeiam.Inactive || got[c] != fakeiam.Active {
		t.Fatalf("after the retire: %v, want %s inactive and %s active", got, a, c)
	}
	// A retire run again changes nothing.
	revoke("", aValue)
	if got := status(); got[a] != fakeiam.Inactive {
		t.Fatalf("after the retire again: %v", got)
	}
	// The next rotation needs a's slot.
	clock = clock.Add(time.Minute)
	d, _ := mint(t, is, cfg)
	if got := status(); len(got) != 2 || got[c] != fakeiam.Active || got[d] != fakeiam.Active {
		t.Errorf("after the next mint: %v, want %s and %s active and %s gone", got, c, d, a)
	}
}

func TestIAMAccessKeyFakeInactiveKeyInTheWay(t *testing.T) {
	is, _, fake, _ := newFakeIAM(t)
	fake.AddKey("app", "AKIAOLDINACTIVE00001", "old-secret")
	fake.AddKey("app", "AKIACURRENT000000001", "current-secret")
	api, err := is.api(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.UpdateAccessKey(t.Context(), &iam.UpdateAccessKeyInput{UserName: awssdk.String("app"), AccessKeyId: awssdk.String("AKIAOLDINACTIVE00001"), Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	_, err = is.Generate(t.Context(), providers.GenerateRequest{Secret: "key", Config: keyCfg("app", ""), Rotation: "r-1"})
	if !errors.Is(err, ErrKeyLimit) {
		t.Fatalf("Generate: %v, want ErrKeyLimit", err)
	}
	for _, want := range []string{"delete the inactive key AKIAOLDINACTIVE00001", `revoke = "deactivate"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	if n := fake.Calls("CreateAccessKey"); n != 0 {
		t.Errorf("%d CreateAccessKey calls, want none", n)
	}
}

func TestIAMAccessKeyFakeServiceFailure(t *testing.T) {
	is, _, fake, _ := newFakeIAM(t)
	fake.AddUser("app")
	cfg := keyCfg("app", "")
	id, _ := mint(t, is, cfg)
	fake.FailNext("DeleteAccessKey", fakeiam.Failure{Status: 409, Code: "LimitExceeded", Message: "Rate exceeded"})
	_, err := is.Revoke(t.Context(), providers.RevokeRequest{Secret: "key", Config: cfg, ID: id})
	if err == nil || !strings.Contains(err.Error(), "DeleteAccessKey "+id) {
		t.Errorf("Revoke when IAM fails: %v", err)
	}
	if got := fake.Keys("app"); len(got) != 1 {
		t.Errorf("the key went: %+v", got)
	}
}

// TestIAMAccessKeyFakeDeactivateSameSecond pins the tie: IAM dates keys to
// the second, and a key with an Active sibling of the same second is
// deactivated, not deleted, since the undoable revocation is the safe one.
func TestIAMAccessKeyFakeDeactivateSameSecond(t *testing.T) {
	is, _, fake, _ := newFakeIAM(t)
	fake.AddUser("app")
	at := time.Now().Add(-time.Hour)
	fake.SetClock(func() time.Time { return at })
	cfg := keyCfg("app", RevokeDeactivate)
	a, _ := mint(t, is, cfg)
	b, _ := mint(t, is, cfg)
	if _, err := is.Revoke(t.Context(), providers.RevokeRequest{Secret: "key", Config: cfg, ID: a}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, k := range fake.Keys("app") {
		got[k.ID] = k.Status
	}
	if len(got) != 2 || got[a] != fakeiam.Inactive || got[b] != fakeiam.Active {
		t.Errorf("after revoking %s: %v, want it inactive beside %s", a, got, b)
	}
}

// TestIAMAccessKeyFakeMintSentOnce pins that CreateAccessKey, which takes
// no idempotency token, is never retried: a retry after a lost answer
// would mint a key nobody knows.
func TestIAMAccessKeyFakeMintSentOnce(t *testing.T) {
	is, _, fake, _ := newFakeIAM(t)
	fake.AddUser("app")
	fake.FailNext("CreateAccessKey", fakeiam.Failure{Status: 500, Code: "ServiceFailure", Message: "internal error"})
	_, err := is.Generate(t.Context(), providers.GenerateRequest{Secret: "key", Config: keyCfg("app", ""), Rotation: "r-1"})
	if err == nil || !strings.Contains(err.Error(), "ServiceFailure") {
		t.Errorf("Generate when IAM fails: %v", err)
	}
	if n := fake.Calls("CreateAccessKey"); n != 1 {
		t.Errorf("CreateAccessKey was sent %d times, want once", n)
	}
	// Other calls keep the SDK's retries.
	fake.FailNext("ListAccessKeys", fakeiam.Failure{Status: 500, Code: "ServiceFailure", Message: "internal error"})
	if _, err := is.Generate(t.Context(), providers.GenerateRequest{Secret: "key", Config: keyCfg("app", ""), Rotation: "r-1"}); err != nil {
		t.Errorf("Generate after one failed ListAccessKeys: %v", err)
	}
}
