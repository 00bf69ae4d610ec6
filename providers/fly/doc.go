// Package fly is the Fly.io target: it delivers a secret's value to a Fly
// app as an app secret (an environment variable of every Machine), and the
// previous value to a second secret during the grace period when dual key is
// configured (previous_key, such as JWT_PREVIOUS_SIGNING_KEY beside
// JWT_SIGNING_KEY), unset again at retire. After each change it deploys
// the new secrets to the app's Machines, as `fly secrets set` does.
//
// # The API
//
// It speaks the Machines API's app secrets endpoints with net/http, as
// superfly/fly-go's flaps client uses them (flaps/flaps_secrets.go,
// secrets_types.go):
//
//	GET  {api_url}/v1/apps/{app}/secrets[?version=N]
//	     → {"secrets":[{"name":"K","digest":"...","created_at":...,"updated_at":...}]}
//	POST {api_url}/v1/apps/{app}/secrets  {"values":{"K":"value","OLD":null}}
//	     → {"secrets":[...the ones set...],"version":N}
//
// One update sets and unsets any number of secrets; a null value unsets,
// and unsetting a missing secret is not an error. Values never come back:
// a listing carries a digest of each. Every update moves the app's secrets
// version on; reads are eventually consistent, so after an update this
// process lists that app with ?version=N, as flyctl does with its
// "minvers".
//
// The token is the provider "fly" block's api_token (a deploy token of the
// app is enough). It is sent as fly-go sends it: a macaroon token (fm2_...,
// printed by `fly tokens create` as "FlyV1 fm2_...") as "Authorization:
// FlyV1 ...", any other token as "Bearer ..."; a scheme the token comes
// with is dropped first. Requests carry a User-Agent (UserAgent) and a 30 s
// timeout, and go through the shared retry policy (internal/retry: at most
// 4 attempts, doubling jittered backoff from 0.5 s up to 8 s or what
// Retry-After asks for up to 30 s, a longer Retry-After failing at once;
// pacing from the Machines API's documented rate limits). 429s are retried
// for every request; 5xxs and network errors only for those that may be
// sent twice: reads, a secrets update (a complete statement of the values
// it sets), a lease refresh and release. A Machine update (it restarts the
// Machine) and a new lease are not sent again after a 5xx: after an update
// whose answer was lost rotplan looks at the Machine, and a new instance
// means it took.
//
// # Batching
//
// Every call groups its items by app: Observe lists each app once; Deliver,
// Revert and Retire list each app once and update it at most once, with the
// edits of all its items in one request, then deploy it at most once.
// Items that ask one app for different values under one key fail, and none
// of their edits are made.
//
// # Deploying
//
// The secrets endpoints only store the secrets: a running Machine keeps
// the values it started with until it is updated. `fly secrets set` stores
// them and then runs a restart-only deploy (flyctl's DeploySecrets); this
// target does the same after every update it makes (Deliver, Revert and
// Retire alike), so that a check through the app sees the new value and a
// rollback really takes the candidate out of service. machines.go lists
// the endpoints, as fly-go's flaps client and Fly's Machines API reference
// give them:
//
//   - It lists the app's Machines and takes those `fly secrets deploy`
//     takes: made by `fly launch`/`fly deploy` (metadata
//     fly_platform_version "v2"), not being destroyed, and neither a
//     release-command nor a console Machine. Others (`fly machine run`) are
//     left alone with a warning, as flyctl leaves them.
//   - One Machine at a time (a rolling restart, so the app keeps serving):
//     it takes the Machine's lease for a minute (ttl in the query, as
//     fly-go asks) and refreshes it while it is held, before each request
//     once a third of it has passed and in the background during a long
//     one, as flyctl's deploys do; an apply that dies frees the Machine
//     within the minute. It reads the Machine again if it changed since
//     the listing, and sends its config back unchanged with
//     min_secrets_version set to the version the secrets update answered,
//     under the lease's nonce. A Machine whose instance is still the one
//     rotplan's own update left, with a secrets version at least that one,
//     has the config and the secrets asked for: it is not updated again.
//   - A started (or starting) Machine restarts; rotplan waits until its new
//     instance reports started (…/wait?version=…&instance_id=…&state=started,
//     the instance named both ways: fly-go sends version= now, and older
//     APIs took instance_id=; each request held by Fly up to 20 s), at most
//     5 minutes (flyctl's default --wait-timeout) and never past ctx.
//     Between waits it looks at the Machine and gives up at once on one
//     that failed or is gone.
//   - Any other Machine (stopped, suspended, created, failed) is updated
//     with skip_launch, so it stays as it is and runs the new secrets when
//     next started (by fly-proxy's autostart, say). flyctl also relaunches a
//     failed Machine; rotplan does not, so that a Machine broken before the
//     rotation cannot make every rotation fail and roll back.
//   - The lease is released afterwards, whatever happened (it expires by
//     itself if that fails).
//
// A Machine another deploy holds (409), or a 429 or 5xx, ends a pass
// through the Machines; the deploy goes round again after the shared
// policy's backoff, within its attempts, skipping the Machines it did. The
// first Machine that does not start, or that cannot be updated, or a
// deploy out of attempts, ends the deploy: the Machines after it keep what
// they ran, and every item of that update fails with an error saying the
// secrets are stored but not deployed, so apply rolls back (and the Revert
// deploys the old values). The app's health checks are not
// awaited: apply's own checks are the proof. An app with no Machines is
// fine: the secrets wait for its first deploy.
//
// A call that changes nothing deploys nothing. So an apply interrupted
// between the secrets update and the deploy finds the values in place when
// it resumes, skips the deploy, fails its check and rolls back (which
// deploys); the next apply rotates again.
//
// With deploy = false on every item of an app that is written, its secrets
// are only stored, as `fly secrets set --stage` does: the plan says so
// (RotationNote) and apply logs a warning; a person deploys them
// (`fly secrets deploy`), and a check through the app fails until then.
//
// # Drift
//
// Observe compares the digest Fly lists for key with the store's current
// value, without reading any value back. Fly's documentation shows the
// digest as the MD5 of the value in hex, but that is old sample output:
// current Fly lists short hex digests of an algorithm it has not
// published. So every Deliver and Revert returns, for each item, a record
// of the digest Fly answered for key (WriteResult.Record), which apply
// keeps in the secret's own store beside rotated-at (plan stays
// stateless); Observe and the next write compare the digest Fly lists with
// that record: the same digest holds the value recorded, another one (a
// hand edit, or a store value rotplan did not deliver) holds other. The
// record is keyed by the value (an HMAC), so it tells nothing of the value
// to whoever may read the store's metadata. A missing key holds nothing; a
// digest neither the documented form nor a record can tell about holds an
// unknown value, with a warning in the log. digest.go says how, and from
// which sources.
//
// # Values
//
// No value is logged or put in an error. Fly's error bodies are never kept:
// an error carries the status, Fly's request id and Fly's error message
// with every value of the call (and the token) scrubbed out, or withheld
// whole if it quotes part of one.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package fly
