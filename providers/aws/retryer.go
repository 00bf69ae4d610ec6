package aws

import (
	"context"
	"errors"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/rotplan/rotplan/internal/retry"
)

// retryer makes the SDK's calls follow the shared retry policy
// (internal/retry) in place of the SDK's own standard retryer: its
// attempts, its backoff, Retry-After where AWS sends one, and its
// client-side pacing from Secrets Manager's documented quotas (paced per
// operation before each attempt). Which errors are worth another attempt
// is the SDK's own judgement (aws/retry's DefaultThrottles and
// DefaultRetryables: throttling codes, 5xx, lost connections). Every
// Secrets Manager call rotplan makes may be sent twice: PutSecretValue
// carries a ClientRequestToken AWS deduplicates on, label moves and tags
// state their result, a forced DeleteSecret of a secret already gone is no
// error, and a CreateSecret repeated meets ResourceExistsException, which
// create reads as made.
type retryer struct {
	policy retry.Policy
}

var _ awssdk.RetryerV2 = retryer{}

// classify reads an SDK error the way the SDK's standard retryer does.
func classify(err error) retry.Verdict {
	v := retry.Verdict{Class: retry.Permanent}
	switch {
	case awsretry.IsErrorThrottles(awsretry.DefaultThrottles).IsErrorThrottle(err) == awssdk.TrueTernary:
		v.Class = retry.Throttled
	case awsretry.IsErrorRetryables(awsretry.DefaultRetryables).IsErrorRetryable(err) == awssdk.TrueTernary:
		v.Class = retry.Transient
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		v.RetryAfter = retry.RetryAfter(re.Response.Header, time.Now())
	}
	return v
}

func (r retryer) IsErrorRetryable(err error) bool {
	return classify(err).Class != retry.Permanent
}

func (r retryer) MaxAttempts() int { return r.policy.Attempts }

func (r retryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	v := classify(err)
	switch {
	case v.RetryAfter > r.policy.MaxRetryAfter && r.policy.MaxRetryAfter > 0:
		return 0, fmt.Errorf("AWS asks to retry after %s; not waiting that long", v.RetryAfter.Round(time.Second))
	case v.RetryAfter > 0:
		return v.RetryAfter, nil
	}
	return r.policy.Backoff(attempt), nil
}

func (r retryer) GetRetryToken(context.Context, error) (func(error) error, error) {
	return nop, nil
}

func (r retryer) GetInitialToken() func(error) error { return nop }

// GetAttemptToken paces each attempt by the operation's quota.
func (r retryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if err := r.policy.Limits.Wait(ctx, "secretsmanager."+awsmiddleware.GetOperationName(ctx)); err != nil {
		return nil, err
	}
	return nop, nil
}

func nop(error) error { return nil }
