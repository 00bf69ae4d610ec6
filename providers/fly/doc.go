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
// timeout; 429s, 5xxs and network errors are retried, at most 4 attempts,
// with doubling jittered backoff from 0.5 s up to 8 s or what Retry-After
// asks for up to 30 s (a longer Retry-After fails at once). An update is a
// complete statement of the values it sets, so sending it again is safe.
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
//     it takes the Machine's lease (ttl in the query, as fly-go asks, for
//     the start timeout plus a minute), reads the Machine again if it
//     changed since the listing, and sends its config back unchanged with
//     min_secrets_version set to the version the secrets update answered,
//     under the lease's nonce.
//   - A started (or starting) Machine restarts; rotplan waits until its new
//     instance reports started (…/wait?instance_id=…&state=started, each
//     request held by Fly up to 20 s), at most 5 minutes (flyctl's default
//     --wait-timeout) and never past ctx. Between waits it looks at the
//     Machine and gives up at once on one that failed or is gone.
//   - Any other Machine (stopped, suspended, created, failed) is updated
//     with skip_launch, so it stays as it is and runs the new secrets when
//     next started (by fly-proxy's autostart, say). flyctl also relaunches a
//     failed Machine; rotplan does not, so that a Machine broken before the
//     rotation cannot make every rotation fail and roll back.
//   - The lease is released afterwards, whatever happened (it expires by
//     itself if that fails).
//
// The first Machine that does not start, or that cannot be leased (another
// deploy holds it: 409) or updated, ends the deploy: the Machines after it
// keep what they ran, and every item of that update fails with an error
// saying the secrets are stored but not deployed, so apply rolls back (and
// the Revert deploys the old values). The app's health checks are not
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
// value, without reading any value back: Fly documents the digest as the
// MD5 of the value in hex; other forms are compared only once proven. A
// missing key holds nothing; a digest that cannot be compared holds an
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
