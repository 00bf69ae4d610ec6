package aws

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"
	"github.com/hashicorp/go-hclog"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// DefaultSTSTimeout is how long verify "aws_sts" keeps trying by default.
const DefaultSTSTimeout = "30s"

// Backoff between GetCallerIdentity attempts: it doubles from the first to
// the last.
const (
	stsFirstBackoff = 250 * time.Millisecond
	stsLastBackoff  = 2 * time.Second
)

// STSCheck is verify "aws_sts": STS GetCallerIdentity signed with the
// access key being verified. It passes when STS accepts the key and, where
// the block says so, answers with the expected account and ARN.
//
// The key pair is the checked value's access_key_id and secret_access_key
// fields (the value of generate "aws_iam_access_key"), or, when the block
// has field = "secret_access_key", that value with the block's
// access_key_id attribute. IAM is eventually consistent and a new key may
// be refused for a few seconds, so an InvalidClientTokenId or
// SignatureDoesNotMatch answer is tried again, with backoff, until the
// block's timeout; a wrong account or ARN fails at once. The check needs
// no IAM permission: GetCallerIdentity is allowed to every key.
type STSCheck struct {
	provider providerSettings
	logger   hclog.Logger

	mu  sync.Mutex
	cfg *awssdk.Config
}

var _ providers.Verifier = (*STSCheck)(nil)

// NewSTSCheck returns the check for the provider "aws" block in
// s.Provider (its region and endpoint; never its credentials).
func NewSTSCheck(s providers.Settings) (*STSCheck, error) {
	p, err := decodeProvider(s.Provider)
	if err != nil {
		return nil, err
	}
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &STSCheck{provider: p, logger: logger.Named("aws_sts")}, nil
}

// config returns the SDK configuration, loading it on first use.
func (c *STSCheck) config(ctx context.Context) (awssdk.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg != nil {
		return *c.cfg, nil
	}
	cfg, err := c.provider.loadConfig(ctx)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("aws_sts: %w", err)
	}
	c.cfg = &cfg
	return cfg, nil
}

// keyPair reads the access key to check from the value, or from the
// value and the block's access_key_id.
func keyPair(v sensitive.Value, attrID string) (id string, secret sensitive.Value, err error) {
	if v.IsEmpty() {
		return "", sensitive.Value{}, errors.New("no value to verify")
	}
	if fields, ferr := v.Fields(); ferr == nil {
		idv, secret := fields[FieldAccessKeyID], fields[FieldSecretAccessKey]
		if idv.IsEmpty() || secret.IsEmpty() {
			return "", sensitive.Value{}, fmt.Errorf("the value needs the fields %s and %s", FieldAccessKeyID, FieldSecretAccessKey)
		}
		return idv.Reveal(), secret, nil
	}
	if attrID == "" {
		return "", sensitive.Value{}, fmt.Errorf("the value is not an access key's {%s, %s}: check the whole value, or set access_key_id when field = %q", FieldAccessKeyID, FieldSecretAccessKey, FieldSecretAccessKey)
	}
	return attrID, v, nil
}

// Verify calls GetCallerIdentity with the value's key.
func (c *STSCheck) Verify(ctx context.Context, req providers.VerifyRequest) (*providers.VerifyResponse, error) {
	var attrs [4]string
	for i, name := range []string{"access_key_id", "account", "arn", "timeout"} {
		var err error
		if attrs[i], err = providers.StringAttr(req.Config, name); err != nil {
			return nil, fmt.Errorf("aws_sts: %w", err)
		}
	}
	attrID, account, arn, timeoutText := attrs[0], attrs[1], attrs[2], attrs[3]
	if timeoutText == "" {
		timeoutText = DefaultSTSTimeout
	}
	timeout, err := config.ParseDuration(timeoutText)
	if err != nil {
		return nil, fmt.Errorf("aws_sts: timeout: %w", err)
	}
	id, secret, err := keyPair(req.Value, attrID)
	if err != nil {
		return nil, fmt.Errorf("aws_sts: %w", err)
	}
	who := "aws_sts with access key " + id
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(id, secret.Reveal(), "")
		o.Logger = logging.Nop{}
		o.ClientLogMode = 0
	})
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	backoff := stsFirstBackoff
	var last error
	for attempt := 1; ; attempt++ {
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err == nil {
			gotAccount, gotARN := awssdk.ToString(out.Account), awssdk.ToString(out.Arn)
			switch {
			case account != "" && gotAccount != account:
				return nil, fmt.Errorf("%s: the key belongs to account %s, not %s", who, gotAccount, account)
			case arn != "" && gotARN != arn:
				return nil, fmt.Errorf("%s: the key is %s's, not %s's", who, gotARN, arn)
			}
			c.logger.Debug("verified", "access_key_id", id, "arn", gotARN, "attempts", attempt)
			return &providers.VerifyResponse{Detail: fmt.Sprintf("STS knows access key %s as %s (account %s), after %d attempt(s)", id, gotARN, gotAccount, attempt)}, nil
		}
		// An attempt cut short by the deadline says less than the one
		// before it.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		if !stsRetryable(err) {
			return nil, fmt.Errorf("%s: GetCallerIdentity: %w", who, err)
		}
		c.logger.Debug("verify attempt failed", "access_key_id", id, "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: GetCallerIdentity: no success in %d attempt(s) within %s: %w", who, attempt, timeoutText, last)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, stsLastBackoff)
	}
}

// stsRetryable reports whether a refused call may pass later: STS refuses
// a key IAM has just made until the key reaches it.
func stsRetryable(err error) bool {
	switch errorCode(err) {
	case "InvalidClientTokenId", "SignatureDoesNotMatch":
		return true
	}
	return false
}
