// Package aws holds rotplan's Amazon Web Services block types:
//
//   - store "aws_secretsmanager": a secret in AWS Secrets Manager, using its
//     own staging labels (AWSPENDING, AWSCURRENT, AWSPREVIOUS) for the
//     pending, current and previous values and tags for rotplan's metadata;
//   - generate "aws_iam_access_key": an issuer that mints an IAM user's next
//     access key (IAM holds two keys per user, so the old one stays valid
//     until it retires) and deletes or deactivates the old key at retire
//     (IAMAccessKey);
//   - target "aws_iam_access_key": the IAM user that accepts the key,
//     observed so that plan reports keys rotplan did not make
//     (IAMKeyTarget);
//   - verify "aws_sts": STS GetCallerIdentity signed with the key being
//     checked (STSCheck);
//   - target "elasticache_auth_token": sets a replication group's AUTH token
//     with the ROTATE strategy (old and new tokens both valid) and, at
//     retire, SET (only the new one).
//
// All of them share the provider "aws" block (region, profile, endpoint);
// credentials come from the SDK's default chain, never from the inventory.
//
// # Secrets Manager
//
// store "aws_secretsmanager" is built (SecretsManager). It keeps to AWS's
// own rotation protocol:
//
//   - stage: PutSecretValue with VersionStages [AWSPENDING] and
//     ClientRequestToken = versionToken(rotation id), a UUID made from
//     SHA-256 of the journal's rotation id, so the version id says which
//     rotation wrote it and a resumed stage repeats the same request (AWS
//     takes the same token and value as a no-op). The rotation id itself is
//     kept in the tag rotplan:rotation, written just before the put; a
//     pending version whose id is not versionToken of that tag is someone
//     else's, and blocks rotplan. A secret rotplan has never promoted in
//     gets rotplan:rotated-at in the same TagResource call, set to the
//     LastChangedDate plan dated it from: staging, and a discard when the
//     rotation rolls back, move that date, and the secret stays as due as
//     it was. With json_key, the staged version is the
//     current JSON object with that key set. A secret that does not exist
//     is created (from a name only) with no value, and its first version
//     becomes current and pending at once, as AWS does with a first
//     version.
//   - promote: tags rotplan:rotated-at and rotplan:retire-after first, then
//     UpdateSecretVersionStage moves AWSCURRENT to the new version (AWS
//     moves AWSPREVIOUS to the old one), then takes AWSPENDING off it.
//     Until AWSPENDING is gone, plan shows the rotation as in progress and
//     apply resumes it.
//   - mark failed (before a rollback starts): TagResource sets
//     rotplan:failed to the rotation id, when that rotation's version holds
//     AWSPENDING; plan reads it from the ListSecrets entry with the labels
//     and reports the pending version as failed (a rollback under way, not
//     an interrupted rotation to resume), and promote refuses that version
//     before changing anything. Marking again, or with nothing pending,
//     makes no call but DescribeSecret.
//   - discard: takes AWSPENDING off the candidate, then UntagResource
//     removes rotplan:failed if it names the rotation (a discard run again
//     after stopping in between removes it then; a stage of the next
//     rotation removes one left by another). rotplan:rotated-at, the age
//     the secret had, stays. retire: takes AWSPREVIOUS off the old version
//     and removes rotplan:retire-after. A version with no label is
//     deprecated, and AWS deletes it in time.
//   - plan (Inspect) reads ListSecrets pages of 100, which carry every
//     secret's tags and labels (rotplan:rotation, rotplan:rotated-at,
//     rotplan:retire-after, rotplan:created-by, rotplan:failed,
//     rotplan:target:*): ceil(secrets in the region / 100) calls, or, for
//     an inventory of at most ten secrets, one call filtered by their
//     names. ListSecrets "might not reflect changes from the last five
//     minutes" (its API reference), so plan then confirms with
//     DescribeSecret every secret it would act on as listed (due, missing,
//     pending, past its retire-after), every secret the list shows changed
//     in the last six minutes, and every secret the list did not show: a
//     plan right after an apply (a CI retry) sees what the apply did, and a
//     plan with nothing to do costs the list alone. apply's own reads of a
//     secret it is about to change are one DescribeSecret each. Age comes
//     from rotplan:rotated-at, else from the secret's LastChangedDate (the
//     list has no per-version dates). AWSPREVIOUS counts as a previous
//     value to retire only while rotplan:retire-after is there; without it,
//     it is AWS's history. A secret with RotationEnabled (or made by
//     another AWS service) is reported as managed by that, and not staged
//     in. A secret scheduled for deletion is an error (restore it or take
//     it out of the inventory), but for one a rotation created and its
//     rollback deleted again (rotplan:created-by): AWS finishes such a
//     deletion in the background, and plan sees it missing; the next stage
//     backs off until the name is free (DeleteSecret's reference: "use
//     appropriate back off and retry logic"), at most two minutes.
//   - record targets: what a target asks to keep (a Fly app's digest
//     record) is the tag rotplan:target:ADDRESS, one TagResource after a
//     DescribeSecret; a secret rotplan has not dated yet gets
//     rotplan:rotated-at in the same call, as at stage.
//   - current values are read with BatchGetSecretValue, 20 a call; pending
//     and previous ones with GetSecretValue by staging label.
//
// Every call follows the shared retry policy (internal/retry) through the
// SDK's Retryer interface: four attempts, jittered backoff, Retry-After
// honoured up to 30 s, pacing under Secrets Manager's documented quotas;
// which errors are retried is the SDK's own judgement (throttling, 5xx,
// lost connections). Every call rotplan makes may be sent twice
// (retryer.go says why).
//
// IAM permissions: plan needs secretsmanager:ListSecrets,
// secretsmanager:DescribeSecret, secretsmanager:BatchGetSecretValue and
// secretsmanager:GetSecretValue; apply also needs
// secretsmanager:PutSecretValue, secretsmanager:UpdateSecretVersionStage,
// secretsmanager:TagResource and secretsmanager:UntagResource, plus
// secretsmanager:CreateSecret and secretsmanager:DeleteSecret to create
// secrets (the delete only undoes a creation whose rotation failed), and
// kms:Decrypt / kms:GenerateDataKey on a customer-managed key.
//
// No secret value reaches an error or a log: the SDK's errors name the
// operation, the HTTP status and AWS's message, which never repeats the
// value; the SDK's logger is off; JSON errors are replaced by messages
// that quote nothing of the secret.
//
// target "elasticache_auth_token" is still declared by schema only, so
// that inventories using it validate; plan reports it as not implemented.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package aws
