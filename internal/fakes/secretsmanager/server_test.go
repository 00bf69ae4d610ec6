package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// client is the real SDK client pointed at f.
func client(f *Server) *sm.Client {
	return sm.New(sm.Options{
		Region:       Region,
		BaseEndpoint: aws.String(f.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
}

const (
	tokenA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	tokenB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	tokenC = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
)

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return fmt.Sprint(err)
}

func put(ctx context.Context, c *sm.Client, id, token, value string, labels ...string) (*sm.PutSecretValueOutput, error) {
	return c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String(id), ClientRequestToken: aws.String(token), SecretString: aws.String(value), VersionStages: labels})
}

func TestFakeStagingLabels(t *testing.T) {
	f := New(t)
	c := client(f)
	ctx := t.Context()
	if _, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	// The first version is current whatever was asked.
	out, err := put(ctx, c, "s", tokenA, "one", Pending)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(out.VersionStages); got != "[AWSPENDING AWSCURRENT]" {
		t.Errorf("first version's labels %s", got)
	}
	// A label moves: one version per label.
	if _, err := put(ctx, c, "s", tokenB, "two", Pending); err != nil {
		t.Fatal(err)
	}
	if f.Labelled("s", Pending) != tokenB || f.Labelled("s", Current) != tokenA {
		t.Errorf("versions %v", f.Versions("s"))
	}
	// Moving AWSCURRENT needs the version it is on, and moves AWSPREVIOUS.
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String(Current), MoveToVersionId: aws.String(tokenB)})
	if code(err) != errInvalidParameter {
		t.Errorf("move without RemoveFromVersionId: %v", err)
	}
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String(Current), MoveToVersionId: aws.String(tokenB), RemoveFromVersionId: aws.String(tokenA)})
	if err != nil {
		t.Fatal(err)
	}
	if f.Labelled("s", Current) != tokenB || f.Labelled("s", Previous) != tokenA {
		t.Errorf("after the move: %v", f.Versions("s"))
	}
	// AWSCURRENT cannot be removed, other labels can.
	_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String(Current), RemoveFromVersionId: aws.String(tokenB)})
	if code(err) != errInvalidParameter {
		t.Errorf("removing AWSCURRENT: %v", err)
	}
	for _, label := range []string{Pending, Previous} {
		_, err = c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String(label), RemoveFromVersionId: aws.String(f.Labelled("s", label))})
		if err != nil {
			t.Fatal(err)
		}
	}
	d, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(d.VersionIdsToStages); got != "map["+tokenB+":[AWSCURRENT]]" {
		t.Errorf("described versions %s: a version without labels is deprecated", got)
	}
	// A deprecated version is still readable by id.
	g, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s"), VersionId: aws.String(tokenA)})
	if err != nil || aws.ToString(g.SecretString) != "one" {
		t.Errorf("deprecated version: %v", err)
	}
	_, err = c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s"), VersionStage: aws.String(Pending)})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("no pending version: %v", err)
	}
}

func TestFakeClientRequestToken(t *testing.T) {
	f := New(t)
	f.Seed(Secret{Name: "s", Current: "one"})
	c := client(f)
	ctx := t.Context()
	if _, err := put(ctx, c, "s", tokenB, "two", Pending); err != nil {
		t.Fatal(err)
	}
	out, err := put(ctx, c, "s", tokenB, "two", Pending)
	if err != nil || aws.ToString(out.VersionId) != tokenB {
		t.Errorf("the same token and value again: %v", err)
	}
	_, err = put(ctx, c, "s", tokenB, "three", Pending)
	var exists *types.ResourceExistsException
	if !errors.As(err, &exists) || strings.Contains(err.Error(), "three") {
		t.Errorf("the same token with another value: %v", err)
	}
	if _, err := put(ctx, c, "s", "short", "four", Pending); code(err) != errInvalidParameter {
		t.Errorf("a short token: %v", err)
	}
	if n := len(f.Versions("s")); n != 2 {
		t.Errorf("%d versions, want 2", n)
	}
}

func TestFakeListSecrets(t *testing.T) {
	f := New(t)
	for i := range 250 {
		f.Seed(Secret{Name: fmt.Sprintf("app/s-%03d", i), Current: "v", Tags: map[string]string{"team": "a"}})
	}
	f.Seed(Secret{Name: "other/x", Current: "v"})
	f.Seed(Secret{Name: "app/gone", Current: "v", Deleted: f.now().Add(7 * 24 * time.Hour)})
	c := client(f)
	ctx := t.Context()
	var names []string
	p := sm.NewListSecretsPaginator(c, &sm.ListSecretsInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.SecretList {
			names = append(names, aws.ToString(e.Name))
			tagged := len(e.Tags) == 1 || !strings.HasPrefix(aws.ToString(e.Name), "app/")
			if len(e.SecretVersionsToStages) != 1 || !tagged {
				t.Fatalf("entry %s: versions %v, tags %v", aws.ToString(e.Name), e.SecretVersionsToStages, e.Tags)
			}
		}
	}
	if len(names) != 251 || f.Calls("ListSecrets") != 3 {
		t.Errorf("%d secrets in %d calls, want 251 in 3", len(names), f.Calls("ListSecrets"))
	}
	out, err := c.ListSecrets(ctx, &sm.ListSecretsInput{
		IncludePlannedDeletion: aws.Bool(true),
		Filters:                []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"APP/GO", "other/"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.SecretList) != 2 || out.SecretList[1].DeletedDate == nil {
		t.Errorf("filtered: %d secrets", len(out.SecretList))
	}
	if _, err := c.ListSecrets(ctx, &sm.ListSecretsInput{NextToken: aws.String("nonsense")}); code(err) != errInvalidNextToken {
		t.Errorf("bad token: %v", err)
	}
}

func TestFakeDeletedSecret(t *testing.T) {
	f := New(t)
	f.Seed(Secret{Name: "s", Current: "v"})
	c := client(f)
	ctx := t.Context()
	if _, err := c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s")}); code(err) != errInvalidRequest {
		t.Errorf("read a deleted secret: %v", err)
	}
	if _, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("s")}); code(err) != errInvalidRequest {
		t.Errorf("create over a deleted secret: %v", err)
	}
	if _, err := c.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s")}); err != nil {
		t.Errorf("read a restored secret: %v", err)
	}
}

func TestFakeFailNextAndUnsigned(t *testing.T) {
	f := New(t)
	f.Seed(Secret{Name: "s", Current: "v"})
	c := client(f)
	f.FailNext("DescribeSecret", Failure{Type: "AccessDeniedException", Message: "denied"})
	if _, err := c.DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: aws.String("s")}); code(err) != "AccessDeniedException" {
		t.Errorf("failure: %v", err)
	}
	if _, err := c.DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: aws.String("s")}); err != nil {
		t.Errorf("after the failure: %v", err)
	}
	resp, err := http.Post(f.URL+"/", "application/x-amz-json-1.1", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unsigned request: %s", resp.Status)
	}
}

// TestFakeTags pins the tagging rules of the API reference that the store
// relies on (see the package doc).
func TestFakeTags(t *testing.T) {
	f := New(t)
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	f.SetClock(func() time.Time { return now })
	f.Seed(Secret{Name: "s", Current: "v", Tags: map[string]string{"team": "a"}})
	c := client(f)
	ctx := t.Context()
	changed := func() time.Time {
		t.Helper()
		out, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("s")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToTime(out.LastChangedDate)
	}
	tag := func(tags ...types.Tag) error {
		_, err := c.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("s"), Tags: tags})
		return err
	}
	untag := func(keys ...string) error {
		_, err := c.UntagResource(ctx, &sm.UntagResourceInput{SecretId: aws.String("s"), TagKeys: keys})
		return err
	}
	kv := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

	// Tagging adds a key, replaces a value, and is a change to the secret.
	now = now.Add(time.Hour)
	if err := tag(kv("rotplan:failed", "r-1"), kv("team", "b")); err != nil {
		t.Fatal(err)
	}
	if got := f.Tags("s"); got["rotplan:failed"] != "r-1" || got["team"] != "b" || len(got) != 2 {
		t.Errorf("tags %v", got)
	}
	if !changed().Equal(now) {
		t.Errorf("TagResource did not move LastChangedDate")
	}

	// Untagging a key that is not there is no error and changes nothing.
	tagged := now
	now = now.Add(time.Hour)
	if err := untag("absent"); err != nil {
		t.Errorf("untag a key that is not attached: %v", err)
	}
	if !changed().Equal(tagged) || len(f.Tags("s")) != 2 {
		t.Errorf("untagging a key that is not attached changed the secret")
	}
	if err := untag("rotplan:failed", "absent"); err != nil {
		t.Fatal(err)
	}
	if got := f.Tags("s"); len(got) != 1 || got["team"] != "b" {
		t.Errorf("after untag: %v", got)
	}
	if !changed().Equal(now) {
		t.Errorf("UntagResource of a key that was there did not move LastChangedDate")
	}

	// Refused: a reserved key, an empty or too long key, more than 50 tags.
	for name, tags := range map[string][]types.Tag{
		"aws: key":   {kv("aws:x", "v")},
		"empty key":  {kv("", "v")},
		"long key":   {kv(strings.Repeat("k", 129), "v")},
		"long value": {kv("k", strings.Repeat("v", 257))},
		"51 tags": func() []types.Tag {
			var tags []types.Tag
			for i := range 50 {
				tags = append(tags, kv(fmt.Sprintf("k%02d", i), "v"))
			}
			return tags
		}(),
	} {
		if err := tag(tags...); code(err) != errInvalidParameter {
			t.Errorf("%s: %v, want %s", name, err, errInvalidParameter)
		}
	}
	if got := f.Tags("s"); len(got) != 1 {
		t.Errorf("a refused TagResource changed the tags: %v", got)
	}

	// A secret scheduled for deletion takes no tags.
	if _, err := c.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if err := tag(kv("k", "v")); code(err) != errInvalidRequest {
		t.Errorf("tag a deleted secret: %v", err)
	}
	if err := untag("team"); code(err) != errInvalidRequest {
		t.Errorf("untag a deleted secret: %v", err)
	}
}
