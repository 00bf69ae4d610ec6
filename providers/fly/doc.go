// Package fly is the Fly.io target: it delivers a secret's value to a Fly
// app as an app secret (an environment variable of every Machine), and the
// previous value to a second secret during the grace period when dual key is
// configured (previous_key, such as JWT_PREVIOUS_SIGNING_KEY beside
// JWT_SIGNING_KEY), unset again at retire.
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
// edits of all its items in one request. Items that ask one app for
// different values under one key fail, and none of their edits are made.
//
// # Restarts
//
// The secrets endpoints only store the secrets: no Machine restarts, and a
// Machine sees the new values only when it is next updated or started
// (`fly secrets deploy`, `fly deploy`, or a Machine update with
// min_secrets_version), which is what `fly secrets set` does after the same
// update unless --stage. This target does not restart Machines; a check
// that needs the app to use the new value must come after something that
// does. Batching per app still keeps that to one restart.
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
