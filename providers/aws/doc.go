// Package aws holds rotplan's Amazon Web Services block types:
//
//   - store "aws_secretsmanager": a secret in AWS Secrets Manager, using its
//     own staging labels (AWSPENDING, AWSCURRENT, AWSPREVIOUS) for the
//     pending, current and previous values and tags for rotplan's metadata;
//   - generate "aws_iam_access_key": an issuer that mints an IAM user's next
//     access key (IAM holds two keys per user, so the old one stays valid
//     until it retires) and deletes the old key at retire;
//   - target "elasticache_auth_token": sets a replication group's AUTH token
//     with the ROTATE strategy (old and new tokens both valid) and, at
//     retire, SET (only the new one).
//
// All of them share the provider "aws" block (region, profile, endpoint);
// credentials come from the SDK's default chain, never from the inventory.
//
// For now the package declares its block types by schema only, so that
// inventories using them validate; plan reports them as not implemented.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package aws
