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
//     nothing else;
//   - TagResource adds tags to the secret, not to a version; keys are 1 to
//     128 characters and do not start with "aws:", values at most 256, and a
//     secret holds at most 50 tags (API_TagResource, API_Tag). A key already
//     there gets the new value (the reference says only that the tags are
//     appended to the list). Values must also keep to the characters the
//     reference calls generally allowed (letters, digits, spaces and
//     _.:/=+-@), which is stricter than AWS: rotplan's tags should pass
//     other services' checks too;
//   - UntagResource removes the keys named; a key that is not attached is
//     no error and leaves the secret's metadata unchanged (API_UntagResource);
//   - LastChangedDate moves on any change to the secret, tags included
//     ("the last date and time that this secret was modified in any way",
//     API_DescribeSecret);
//   - ListSecrets can lag (SetListLag): it then answers from the secrets
//     as they were that long ago by the fake's clock, while every other
//     operation sees them as they are. AWS says so in ListSecrets'
//     reference and the SDK's doc of it: "ListSecrets might not reflect
//     changes from the last five minutes. You can get more recent
//     information for a specific secret by calling DescribeSecret.";
//   - a secret deleted without recovery can linger (SetForceDeleteDelay):
//     scheduled for deletion, described with its DeletedDate, its name
//     refused by CreateSecret with InvalidRequestException ("a secret with
//     this name is already scheduled for deletion"), until the delay has
//     passed. DeleteSecret's reference (ForceDeleteWithoutRecovery): "there
//     might be a short delay before the secret is permanently deleted. If
//     you delete a secret and then immediately create a secret with the
//     same name, use appropriate back off and retry logic.";
//   - a failure queued with FailNext answers with any status, __type (such
//     as ThrottlingException, which the SDK reads as throttling, or a 500
//     InternalServiceError) and Retry-After, so tests can prove the store
//     converges.
//
// The references are AWS Secrets Manager's API Reference,
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/, pages
// API_TagResource.html, API_UntagResource.html, API_Tag.html and
// API_DescribeSecret.html.
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
