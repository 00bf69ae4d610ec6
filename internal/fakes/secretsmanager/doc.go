// Package secretsmanager is a test helper: a wire-level fake of the AWS
// Secrets Manager API, served over HTTP on loopback by net/http/httptest,
// for tests that point the real SDK client at it through its endpoint
// setting.
//
// It speaks the documented AWS JSON 1.1 protocol (POST /, an X-Amz-Target
// header such as "secretsmanager.ListSecrets", JSON bodies, errors as HTTP
// 400 with {"__type": ..., "Message": ...}) and keeps the service's rules
// that rotation depends on:
//
//   - a staging label is on at most one version of a secret; moving
//     AWSCURRENT moves AWSPREVIOUS to the version it left, and the first
//     version of a secret gets AWSCURRENT whatever labels were asked for;
//   - AWSCURRENT can be moved but not removed;
//   - PutSecretValue is idempotent on ClientRequestToken (the new
//     version's id, 32 to 64 characters): the same token and value again
//     change nothing, the same token with another value fails with
//     ResourceExistsException;
//   - versions without labels are deprecated: listed nowhere, still
//     readable by id;
//   - ListSecrets pages with MaxResults (at most 100) and NextToken, filters
//     by name prefix, tag key or value, returns each secret's tags and
//     SecretVersionsToStages, and leaves out secrets scheduled for deletion
//     unless IncludePlannedDeletion is set;
//   - a secret scheduled for deletion can be described and restored, and
//     nothing else.
//
// It implements ListSecrets, DescribeSecret, GetSecretValue,
// BatchGetSecretValue (by SecretIdList), PutSecretValue,
// UpdateSecretVersionStage, CreateSecret, DeleteSecret, RestoreSecret,
// TagResource and UntagResource; anything else is answered with
// UnknownOperationException. It counts the calls of each operation so that
// tests can pin how many a plan makes, and can be told to fail the next
// call of an operation. It checks that requests are signed, not the
// signature.
//
// Its error messages, like AWS's, never repeat a secret value.
//
// It imports nothing of rotplan.
package secretsmanager
