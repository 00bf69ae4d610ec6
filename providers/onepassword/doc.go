// Package onepassword is the 1Password store: a secret's current value lives
// in one field of a 1Password item, named by a secret reference
// (op://VAULT/ITEM/FIELD or op://VAULT/ITEM/SECTION/FIELD; names match
// case-insensitively, IDs exactly), and it reaches 1Password through the
// 1Password Go SDK with the service account token of the provider
// "onepassword" block.
//
// # Where things live in an item
//
// The field the reference names holds the current value and never moves.
// During a rotation rotplan adds the concealed fields FIELD-pending and,
// after promote, FIELD-previous (names a secret reference can spell, so
// op://VAULT/ITEM/FIELD-previous works for a dual-key target): in the
// current field's section, or in a section "rotplan" when the current field
// is a built-in one without a section or the reference names none. A secret
// whose item does not exist gets a new secure note at stage.
//
// rotplan's own metadata lives in the item's tags, one per slot, under
// rotplan/SECTION/FIELD/ (or rotplan/FIELD/):
//
//	current=ROTATION@TIME        the rotation that made the current value; TIME is rotated-at
//	pending=ROTATION@TIME        the rotation that staged the pending value, and when
//	retire-after=TIME            when the previous value's grace ends
//	rotated-at=TIME              the age of a current value rotplan did not write
//	failed=ROTATION              the pending value of ROTATION failed its checks and is being rolled back
//
// A secret without a current tag is dated from its item's last change. Its
// first stage records that date as rotated-at, because the stage changes
// the item, and so does the discard when the rotation rolls back: the
// secret stays as due as it was. Promote replaces it with the current tag.
// A failed tag marks the pending value only while the pending tag names the
// same rotation: apply sets it before a rollback starts, so plan tells a
// rollback under way from an interrupted rotation; promote refuses a value
// so marked, and discard drops both tags with the field.
//
// Tags, because Items().List returns them (with titles and timestamps, never
// fields): plan learns every secret's state from one list per vault. A
// pending field without a pending tag is one rotplan did not stage, and is
// never promoted, discarded or overwritten.
//
// # Calls, under 1Password's rate limits
//
// 1Password limits each service account token to 10,000 reads and 1,000
// writes an hour on Business accounts, and to 1,000 reads and 100 writes an
// hour on 1Password (individual), Families and Teams accounts; all the
// account's service accounts together also have a daily limit
// (developer.1password.com/docs/service-accounts/rate-limits). On a Teams
// account a rotation costs 2 to 3 writes (stage, promote, and a record when
// a Fly target is written), so at most about 40 rotations an hour. The
// client is created only when a secret uses this store (the SDK's WASM core
// takes seconds to load), once per token per process, and only after the
// token's form is checked: a token that cannot be a service account token
// ("ops_" and the base64 of a JSON object naming the account, the email and
// the secret key) fails at once (ErrBadToken) rather than after the SDK's
// start. The vault list is read once per token per process too.
//
// Every SDK call follows the shared retry policy (internal/retry): a rate
// limit that lifts within its few attempts is waited out, and so is
// 1Password's "data conflict occurred on the server", which it answers when
// writes to one vault overlap (1Password's SDK team calls it expected, to be
// retried: onepassword-sdk-js issue 151). A create is made again only
// then; a put names the item version it replaces, so it cannot apply
// twice.
//
//   - Inspect: one Items().List per vault it is asked about. Secrets whose
//     item tags record a current value (rotplan promoted them before) need
//     nothing more; the rest are read MaxBatch items per Items().GetAll
//     call, to see which fields exist. Plan over 1,000 secrets rotplan has
//     rotated, in 3 vaults, makes 4 calls.
//   - Read: Items().GetAll, MaxBatch items per call, reusing the item lists
//     Inspect left (plan reads current values only for secrets with
//     targets).
//   - Stage, MarkFailed, Promote, Discard, RetirePrevious, RecordTargets:
//     Items().Get and, when something changes, one Items().Put (or
//     Items().Create for a new item); nothing is written when a call
//     repeats one already done. Writes to one item from this process take
//     turns. People and other jobs edit the vault too: a put of an item
//     changed since it was read (a stale version) or one refused for a data
//     conflict starts over, get → change → put on the item as it is now,
//     backing off, at most the policy's attempts; then it fails with
//     ErrConflict.
//   - RecordTargets keeps what a target asks to record (a Fly app's digest
//     record) as the tag rotplan/KEY/record:ADDRESS=RECORD, read back from
//     Items().List like the others.
//
// # References
//
// A reference without a section (op://VAULT/ITEM/FIELD) that matches fields
// in several sections takes the one in no section, as 1Password's own
// references do ("a field without a section", the secret reference syntax
// page); it is ambiguous only when none or several are outside a section.
//
// # Errors
//
// Errors name the reference and the step ("onepassword op://Production/jwt/
// credential: stage: put item: ..."). The SDK's error text comes from its
// core, which rotplan does not control, so the token and every value of the
// item in hand are blanked out of it, and the SDK error itself is not
// wrapped; ErrRateLimited and context errors still match with errors.Is.
//
// API is the one seam to the SDK: the store calls it, production wraps
// *onepassword.Client, and tests use onepasswordtest.Fake through
// NewWithAPI or RegisterWith.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package onepassword
