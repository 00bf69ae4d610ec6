package aws

import (
	"context"
	"errors"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/rotplan/rotplan/providers"
	"github.com/zclconf/go-cty/cty"
)

// providerSettings is the decoded provider "aws" block; empty strings
// leave the choice to the SDK's default chain.
type providerSettings struct {
	region, profile, endpoint string
}

// decodeProvider reads the provider block rotplan decoded with
// providerSpec; cty.NilVal (no block) gives empty settings.
func decodeProvider(v cty.Value) (providerSettings, error) {
	var p providerSettings
	var err error
	if p.region, err = providers.StringAttr(v, "region"); err != nil {
		return p, fmt.Errorf("provider \"aws\": %w", err)
	}
	if p.profile, err = providers.StringAttr(v, "profile"); err != nil {
		return p, fmt.Errorf("provider \"aws\": %w", err)
	}
	if p.endpoint, err = providers.StringAttr(v, "endpoint"); err != nil {
		return p, fmt.Errorf("provider \"aws\": %w", err)
	}
	return p, nil
}

// loadConfig builds the SDK's configuration from the provider block.
// Credentials come from the SDK's default chain (environment, shared
// files and SSO, web identity, container and instance roles), never from
// the inventory. The SDK's own logging stays off: its request and response
// logging would print secret values.
func (p providerSettings) loadConfig(ctx context.Context) (awssdk.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithLogger(logging.Nop{}),
		awsconfig.WithClientLogMode(0),
	}
	if p.region != "" {
		opts = append(opts, awsconfig.WithRegion(p.region))
	}
	if p.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(p.profile))
	}
	if p.endpoint != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(p.endpoint))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return awssdk.Config{}, errors.New("no AWS region: set region in the provider \"aws\" block, or AWS_REGION")
	}
	return cfg, nil
}
