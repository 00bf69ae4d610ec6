// Package iam is a test helper: a wire-level fake of the parts of AWS
// Identity and Access Management and AWS Security Token Service that
// rotate an IAM user's access keys, served over HTTP on loopback by
// net/http/httptest, for tests that point the real SDK clients at it
// through their endpoint setting (one endpoint serves both services).
//
// It speaks the AWS query protocol as the SDK sends it: POST / with a
// form-encoded body (Action=CreateAccessKey&UserName=...&Version=2010-05-08),
// XML answers <ActionResponse><ActionResult>...</ActionResult>
// <ResponseMetadata><RequestId/></ResponseMetadata></ActionResponse>, and
// errors as <ErrorResponse><Error><Type/><Code/><Message/></Error>
// <RequestId/></ErrorResponse> with the HTTP status the SDK's snapshots
// give each error.
//
// It implements IAM CreateAccessKey, ListAccessKeys (MaxItems and Marker
// paging), UpdateAccessKey and DeleteAccessKey, and STS
// GetCallerIdentity; any other action is InvalidAction. IAM's rules kept:
//
//   - a user holds at most two access keys, active or not; a third
//     CreateAccessKey is LimitExceeded (409), "Cannot exceed quota for
//     AccessKeysPerUser: 2";
//   - a user or key that does not exist is NoSuchEntity (404), and so is a
//     key of another user than the one named;
//   - a new key is Active; UpdateAccessKey takes Active or Inactive, else
//     ValidationError;
//   - the secret access key is returned by CreateAccessKey only.
//
// Every request must carry an AWS Signature Version 4 Authorization
// header, which the fake verifies: the canonical request is rebuilt from
// the headers the client says it signed and the body, and the signature is
// recomputed with the secret of the access key named in the credential
// scope, which must be one the fake issued (or was seeded with) and is
// Active. A missing signature is MissingAuthenticationToken, an unknown or
// inactive key InvalidClientTokenId, a wrong signature (or a body whose
// hash is not the one signed) SignatureDoesNotMatch, all 403, as AWS
// answers. The scope's service must be "iam" for IAM actions and "sts" for
// GetCallerIdentity. The request's time is not checked against the clock.
//
// Sources for the shapes, names and statuses:
//
//   - the request and response snapshots of the SDK's own modules,
//     github.com/aws/aws-sdk-go-v2/service/iam@v1.65.0
//     request_snapshot/{CreateAccessKey,ListAccessKeys,UpdateAccessKey,DeleteAccessKey}.request.snap,
//     response_snapshot/{CreateAccessKey,ListAccessKeys,UpdateAccessKey,DeleteAccessKey}.response.snap,
//     response_snapshot/LimitExceededException.error.snap (409) and
//     NoSuchEntityException.error.snap (404), types/errors.go (error codes
//     LimitExceeded, NoSuchEntity); and
//     github.com/aws/aws-sdk-go-v2/service/sts@v1.52.0
//     request_snapshot/GetCallerIdentity.request.snap and
//     response_snapshot/GetCallerIdentity.response.snap;
//   - IAM API Reference, CreateAccessKey
//     (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html:
//     errors LimitExceeded, NoSuchEntity, ServiceFailure; UserName pattern
//     [\w+=,.@-]+, 1 to 128), and the pages of ListAccessKeys,
//     UpdateAccessKey and DeleteAccessKey; IAM and STS quotas
//     (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html:
//     two access keys per user); the common errors of both APIs
//     (CommonErrors.html: MissingAuthenticationToken, InvalidClientTokenId,
//     SignatureDoesNotMatch, 403);
//   - Signature Version 4, "Create a canonical request" and "Create a
//     string to sign"
//     (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html).
//
// Its error messages, like AWS's, never repeat a secret access key.
//
// It imports nothing of rotplan.
package iam
