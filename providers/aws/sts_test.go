package aws

import (
	"errors"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/zclconf/go-cty/cty"

	fakeiam "github.com/rotplan/rotplan/internal/fakes/iam"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// stsCfg is a verify "aws_sts" block; empty attributes are unset.
func stsCfg(accessKeyID, account, arn, timeout string) cty.Value {
	str := func(s string) cty.Value {
		if s == "" {
			return cty.NullVal(cty.String)
		}
		return cty.StringVal(s)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"access_key_id": str(accessKeyID),
		"account":       str(account),
		"arn":           str(arn),
		"timeout":       str(timeout),
	})
}

func TestSTSCheckFake(t *testing.T) {
	is, check, fake, _ := newFakeIAM(t)
	fake.AddUser("app")
	cfg := keyCfg("app", "")
	verify := func(cfg cty.Value, v sensitive.Value) (*providers.VerifyResponse, error) {
		return check.Verify(t.Context(), providers.VerifyRequest{Secret: "key", Config: cfg, Value: v})
	}
	id, value := mint(t, is, cfg)

	t.Run("passes with the new key", func(t *testing.T) {
		resp, err := verify(stsCfg("", fakeiam.Account, fakeiam.ARN("app"), ""), value)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if !strings.Contains(resp.Detail, id) || !strings.Contains(resp.Detail, fakeiam.ARN("app")) {
			t.Errorf("detail %q", resp.Detail)
		}
	})
	t.Run("field and access_key_id", func(t *testing.T) {
		secret, err := value.Field(FieldSecretAccessKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verify(stsCfg(id, "", "", ""), secret); err != nil {
			t.Errorf("Verify of the secret field with access_key_id: %v", err)
		}
		if _, err := verify(stsCfg("", "", "", ""), secret); err == nil || !strings.Contains(err.Error(), "set access_key_id") {
			t.Errorf("Verify of the secret field alone: %v", err)
		}
	})
	t.Run("wrong account fails at once", func(t *testing.T) {
		start := time.Now()
		_, err := verify(stsCfg("", "210987654321", "", "1m"), value)
		if err == nil || !strings.Contains(err.Error(), "not 210987654321") {
			t.Errorf("Verify: %v", err)
		}
		if calls := fake.Calls("GetCallerIdentity"); calls > 4 || time.Since(start) > 30*time.Second {
			t.Errorf("%d calls: a wrong account is not tried again", calls)
		}
	})
	t.Run("wrong arn", func(t *testing.T) {
		if _, err := verify(stsCfg("", "", fakeiam.ARN("other"), ""), value); err == nil || !strings.Contains(err.Error(), "not "+fakeiam.ARN("other")) {
			t.Errorf("Verify: %v", err)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		bad := sensitive.FromFields(map[string]sensitive.Value{FieldAccessKeyID: sensitive.New(id), FieldSecretAccessKey: sensitive.New("not-the-secret")})
		if _, err := verify(stsCfg("", "", "", "1s"), bad); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
			t.Errorf("Verify: %v", err)
		}
	})
	t.Run("fails with a deactivated key", func(t *testing.T) {
		api, err := is.api(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := api.UpdateAccessKey(t.Context(), &iam.UpdateAccessKeyInput{UserName: awssdk.String("app"), AccessKeyId: awssdk.String(id), Status: "Inactive"}); err != nil {
			t.Fatal(err)
		}
		_, err = verify(stsCfg("", "", "", "1s"), value)
		if err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") || !strings.Contains(err.Error(), "within 1s") {
			t.Errorf("Verify: %v", err)
		}
	})
	t.Run("fails with a deleted key", func(t *testing.T) {
		if _, err := is.Revoke(t.Context(), providers.RevokeRequest{Secret: "key", Config: cfg, ID: id}); err != nil {
			t.Fatal(err)
		}
		_, err := verify(stsCfg("", "", "", "1s"), value)
		if err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
			t.Errorf("Verify: %v", err)
		}
	})
	t.Run("not an access key", func(t *testing.T) {
		if _, err := verify(stsCfg("", "", "", ""), sensitive.FromFields(map[string]sensitive.Value{"username": sensitive.New("u")})); err == nil {
			t.Error("Verify of a value without the key's fields passed")
		}
		if _, err := verify(stsCfg("", "", "", ""), sensitive.Value{}); err == nil {
			t.Error("Verify of no value passed")
		}
	})
}

// TestSTSCheckFakeNewKeyBecomesValid pins the retry: STS refuses a key
// until it reaches it, and the check keeps trying within its timeout.
func TestSTSCheckFakeNewKeyBecomesValid(t *testing.T) {
	_, check, fake, _ := newFakeIAM(t)
	value := sensitive.FromFields(map[string]sensitive.Value{FieldAccessKeyID: sensitive.New("AKIALATE000000000001"), FieldSecretAccessKey: sensitive.New("late-secret")})
	go func() {
		time.Sleep(300 * time.Millisecond)
		fake.AddKey("app", "AKIALATE000000000001", "late-secret")
	}()
	resp, err := check.Verify(t.Context(), providers.VerifyRequest{Secret: "key", Config: stsCfg("", "", "", "20s"), Value: value})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if strings.Contains(resp.Detail, "after 1 attempt") {
		t.Errorf("detail %q: the first attempt cannot have passed", resp.Detail)
	}
}

// TestAWSIssuerFakeNoSecretInErrors runs every failure of the issuer and
// the check it can be made to have, and scans what they said and logged
// for the secret halves of the keys involved.
func TestAWSIssuerFakeNoSecretInErrors(t *testing.T) {
	is, check, fake, log := newFakeIAM(t)
	fake.AddUser("app")
	cfg := keyCfg("app", RevokeDeactivate)
	var errs []error
	collect := func(_ any, err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	_, a := mint(t, is, cfg)
	_, b := mint(t, is, cfg)
	collect(is.Generate(t.Context(), providers.GenerateRequest{Secret: "key", Config: cfg, Rotation: "r-3"}))
	collect(check.Verify(t.Context(), providers.VerifyRequest{Secret: "key", Config: stsCfg("", "000000000000", "", ""), Value: a}))
	wrong := sensitive.FromFields(map[string]sensitive.Value{FieldAccessKeyID: mustField(t, a, FieldAccessKeyID), FieldSecretAccessKey: mustField(t, b, FieldSecretAccessKey)})
	collect(check.Verify(t.Context(), providers.VerifyRequest{Secret: "key", Config: stsCfg("", "", "", "1s"), Value: wrong}))
	collect(check.Verify(t.Context(), providers.VerifyRequest{Secret: "key", Config: stsCfg("", "", "", ""), Value: mustField(t, a, FieldSecretAccessKey)}))
	collect(is.Revoke(t.Context(), providers.RevokeRequest{Secret: "key", Config: cfg, Value: mustField(t, a, FieldSecretAccessKey)}))
	collect(is.Sweep(t.Context(), providers.SweepRequest{Secret: "key", Config: cfg, Since: time.Now(), Keep: []sensitive.Value{mustField(t, b, FieldSecretAccessKey)}}))
	fake.FailNext("DeleteAccessKey", fakeiam.Failure{Status: 409, Code: "LimitExceeded", Message: "Rate exceeded"})
	collect(is.Revoke(t.Context(), providers.RevokeRequest{Secret: "key", Config: keyCfg("app", ""), Value: b}))
	if len(errs) != 7 {
		t.Fatalf("%d errors, want 7: %v", len(errs), errs)
	}
	said := log.String()
	for _, err := range errs {
		said += "\n" + err.Error()
	}
	for _, v := range []sensitive.Value{a, b} {
		secret := mustField(t, v, FieldSecretAccessKey).Reveal()
		if strings.Contains(said, secret) {
			t.Errorf("a secret access key was written: %s", said)
		}
	}
	if strings.Contains(said, adminSecret) {
		t.Error("the administrative secret was written")
	}
	if !errors.Is(errs[0], ErrKeyLimit) {
		t.Errorf("the third mint: %v", errs[0])
	}
}

func mustField(t *testing.T, v sensitive.Value, name string) sensitive.Value {
	t.Helper()
	f, err := v.Field(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
