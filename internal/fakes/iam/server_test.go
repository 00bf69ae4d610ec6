package iam_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	fakeiam "github.com/rotplan/rotplan/internal/fakes/iam"
)

func iamClient(url, id, secret string) *iam.Client {
	return iam.New(iam.Options{
		Region:       "us-east-1",
		BaseEndpoint: awssdk.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
	})
}

func stsClient(url, id, secret string) *sts.Client {
	return sts.New(sts.Options{
		Region:           "us-east-1",
		BaseEndpoint:     awssdk.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		RetryMaxAttempts: 1,
	})
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestFakeAccessKeys(t *testing.T) {
	fake := fakeiam.New(t)
	fake.AddKey("admin", "AKIAADMIN00000000001", "admin-secret")
	fake.AddUser("app")
	api := iamClient(fake.URL, "AKIAADMIN00000000001", "admin-secret")
	ctx := t.Context()

	a, err := api.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	if ak := a.AccessKey; !strings.HasPrefix(awssdk.ToString(ak.AccessKeyId), "AKIA") || len(awssdk.ToString(ak.SecretAccessKey)) != 40 || ak.Status != "Active" || ak.CreateDate == nil {
		t.Errorf("CreateAccessKey: %+v", ak)
	}
	if _, err := api.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("app")}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("app")}); code(err) != "LimitExceeded" {
		t.Errorf("a third key: %v, want LimitExceeded", err)
	}
	if _, err := api.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("nobody")}); code(err) != "NoSuchEntity" {
		t.Errorf("a key for nobody: %v, want NoSuchEntity", err)
	}

	// Paging, one key a page; no secret in the list.
	var ids []string
	pages := iam.NewListAccessKeysPaginator(api, &iam.ListAccessKeysInput{UserName: awssdk.String("app"), MaxItems: awssdk.Int32(1)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.AccessKeyMetadata {
			ids = append(ids, awssdk.ToString(m.AccessKeyId))
		}
	}
	if len(ids) != 2 || ids[0] != awssdk.ToString(a.AccessKey.AccessKeyId) {
		t.Errorf("listed %v", ids)
	}

	id := a.AccessKey.AccessKeyId
	if _, err := api.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String("app"), AccessKeyId: id, Status: "Disabled"}); code(err) != "ValidationError" {
		t.Errorf("UpdateAccessKey to Disabled: %v, want ValidationError", err)
	}
	if _, err := api.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String("app"), AccessKeyId: id, Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: awssdk.String("admin"), AccessKeyId: id}); code(err) != "NoSuchEntity" {
		t.Errorf("deleting app's key as admin's: %v, want NoSuchEntity", err)
	}
	if _, err := api.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: awssdk.String("app"), AccessKeyId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: awssdk.String("app"), AccessKeyId: id}); code(err) != "NoSuchEntity" {
		t.Errorf("deleting it again: %v, want NoSuchEntity", err)
	}
	if keys := fake.Keys("app"); len(keys) != 1 {
		t.Errorf("app has %+v", keys)
	}
}

func TestFakeSignatureChecked(t *testing.T) {
	fake := fakeiam.New(t)
	fake.AddKey("admin", "AKIAADMIN00000000001", "admin-secret")
	fake.AddKey("app", "AKIAAPP0000000000001", "app-secret")
	ctx := t.Context()

	out, err := stsClient(fake.URL, "AKIAAPP0000000000001", "app-secret").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if awssdk.ToString(out.Arn) != fakeiam.ARN("app") || awssdk.ToString(out.Account) != fakeiam.Account {
		t.Errorf("GetCallerIdentity: %s %s", awssdk.ToString(out.Arn), awssdk.ToString(out.Account))
	}
	if _, err := stsClient(fake.URL, "AKIAAPP0000000000001", "wrong").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "SignatureDoesNotMatch" {
		t.Errorf("a wrong secret: %v", err)
	}
	if _, err := stsClient(fake.URL, "AKIAUNKNOWN000000001", "app-secret").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("an unknown key: %v", err)
	}
	api := iamClient(fake.URL, "AKIAADMIN00000000001", "admin-secret")
	if _, err := api.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String("app"), AccessKeyId: awssdk.String("AKIAAPP0000000000001"), Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	if _, err := stsClient(fake.URL, "AKIAAPP0000000000001", "app-secret").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); code(err) != "InvalidClientTokenId" {
		t.Errorf("an inactive key: %v", err)
	}

	// Raw requests: unsigned, signed for another service, a body changed
	// after signing.
	send := func(body, service string, sign bool, tamper string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, fake.URL+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sign {
			sum := sha256.Sum256([]byte(body))
			creds := awssdk.Credentials{AccessKeyID: "AKIAADMIN00000000001", SecretAccessKey: "admin-secret"}
			if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if tamper != "" {
			req.Body = io.NopCloser(strings.NewReader(tamper))
			req.ContentLength = int64(len(tamper))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const list = "Action=ListAccessKeys&UserName=app&Version=2010-05-08"
	for name, c := range map[string]struct {
		body, service, tamper string
		sign                  bool
		status                int
		code                  string
	}{
		"signed":         {service: "iam", sign: true, status: 200, code: "<ListAccessKeysResult>"},
		"unsigned":       {status: 403, code: "<Code>MissingAuthenticationToken</Code>"},
		"scoped to sts":  {service: "sts", sign: true, status: 403, code: "<Code>SignatureDoesNotMatch</Code>"},
		"body changed":   {service: "iam", sign: true, tamper: "Action=ListAccessKeys&UserName=admi&Version=2010-05-08", status: 403, code: "<Code>SignatureDoesNotMatch</Code>"},
		"unknown action": {body: "Action=CreateUser&UserName=x&Version=2010-05-08", service: "iam", sign: true, status: 400, code: "<Code>InvalidAction</Code>"},
	} {
		t.Run(name, func(t *testing.T) {
			body := c.body
			if body == "" {
				body = list
			}
			status, body := send(body, c.service, c.sign, c.tamper)
			if status != c.status || !strings.Contains(body, c.code) {
				t.Errorf("got %d %s, want %d and %s", status, body, c.status, c.code)
			}
		})
	}
}
