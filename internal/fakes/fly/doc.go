// Package fly is a wire-level fake of the Fly.io Machines API's app secrets
// endpoints, for tests of rotplan's fly target. It serves, over real HTTP on
// a loopback port (net/http/httptest), the endpoints as superfly/fly-go's
// flaps client (flaps/flaps_secrets.go, secrets_types.go) uses them:
//
//	GET    /v1/apps/{app}/secrets[?version=N]   list: {"secrets":[{name,digest,created_at,updated_at}]}
//	GET    /v1/apps/{app}/secrets/{name}        one secret
//	POST   /v1/apps/{app}/secrets/{name}        {"value":"..."} → the secret and {"version":N}
//	DELETE /v1/apps/{app}/secrets/{name}        → {"version":N}
//	POST   /v1/apps/{app}/secrets               {"values":{"NAME":"v","OLD":null}}: set and unset
//	                                            in one update → {"secrets":[...],"version":N}
//
// It keeps what the real API is documented to keep: every request needs the
// token (Authorization "Bearer TOKEN" or "FlyV1 TOKEN", else 401); an
// unknown app is 404; values are never returned, only a digest, which is
// the hex MD5 of the value as Fly's documentation shows it
// (fly.io/docs/apps/secrets: MY_SECRET=romance lists as
// b9e37b7b239ee4aefc75352fe3fa6dc6), unless a test sets another Digest;
// every update moves the app's secrets version on by one, and unsetting a
// secret that does not exist is not an error. Errors are JSON
// {"error":"..."}, as Fly sends them. Like the real endpoints it restarts
// nothing: Machines are not modelled.
//
// Tests see what the server holds (Value, Version), count the requests per
// app (Calls), and make it fail (Fail) with a status, a Retry-After, or a
// message that echoes the values it was sent, to prove a client scrubs them.
//
// Only tests import this package. It imports nothing of rotplan.
package fly
