// Package fly is a wire-level fake of the Fly.io Machines API's app secrets
// endpoints and the Machines endpoints a secrets deploy uses, for tests of
// rotplan's fly target. It serves, over real HTTP on
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
// unknown app is 404; values are never returned, only a digest. By default
// the digest is opaque (OpaqueDigest: 16 hex characters that depend on the
// value alone, by an algorithm no client can reproduce), as current Fly's
// are: the MD5 in Fly's documentation (fly.io/docs/apps/secrets:
// MY_SECRET=romance lists as b9e37b7b239ee4aefc75352fe3fa6dc6) is old sample
// output, and neither fly-go (AppSecret.Digest) nor flyctl computes a digest
// or says how Fly does; a test of that documented form sets MD5Digest with
// SetDigest. Every update moves the app's secrets version on by one, and unsetting a
// secret that does not exist is not an error. Errors are JSON
// {"error":"..."}, as Fly sends them. Like the real endpoints, storing
// secrets restarts nothing.
//
// Machines (machines.go), as fly-go's flaps client (flaps_machines.go,
// flaps_machines_wait.go) and Fly's Machines API reference use them:
//
//	GET    /v1/apps/{app}/machines                  list: a JSON array, destroyed ones left out
//	GET    /v1/apps/{app}/machines/{id}             one Machine
//	POST   /v1/apps/{app}/machines/{id}             update: {"config":{...whole...},"region","skip_launch",
//	                                                "min_secrets_version":N,...} → the Machine, new instance_id
//	POST   /v1/apps/{app}/machines/{id}/lease       ?ttl=N or {"ttl":N} → 201 {"status":"success","data":{"nonce",...}}; 409 if held;
//	                                                with the holder's fly-machine-lease-nonce, a refresh (fly-go's RefreshLease): 200, same nonce
//	DELETE /v1/apps/{app}/machines/{id}/lease       header fly-machine-lease-nonce
//	GET    /v1/apps/{app}/machines/{id}/wait        ?state=started&version=I (or instance_id=I)&timeout=S → 200 {"ok":true} or 408
//
// The wait takes the instance as version=, as fly-go's Wait sends it since
// its wait options (flaps/flaps_machines_wait.go, fly-go commit 0bcb397,
// March 2026; before, instance_id=), and counts the waits that used it
// (Calls.WaitVersions).
//
// The fake keeps a clock (Now) that leases expire by: the real time, moved
// on by Advance and by every wait that times out, by the timeout asked (the
// real API holds such a request that long before its 408). A lease lapses
// when its ttl passes unrefreshed, and a deploy queued behind it (Contend)
// then takes the Machine and updates it, as a concurrent `fly deploy` would;
// flyctl's own deploys hold 13 s leases and refresh them in the background
// (internal/machine/leasable_machine.go) for that reason.
//
// Each Machine runs the app's secrets as of the version it was last given,
// not what the app stores now: an update gives it the stored secrets (and
// refuses a min_secrets_version ahead of them), and it runs them once it is
// started again. A test reads what a Machine's process sees with
// RunningValue, so a test "app" can answer health checks from what is
// deployed. An update replaces the whole config and needs the lease's nonce
// when the Machine is leased. Without skip_launch the Machine is "starting"
// and becomes started (or failed, for one made with FailsToStart) when it
// is waited for; with skip_launch it is left stopped. Where the real wait
// holds the request up to timeout seconds and then answers 408, the fake
// answers 408 at once and moves its clock on by the timeout.
//
// Tests see what the server holds (Value, Version, Machine, RunningValue),
// count the requests per app (Calls; MachineUpdates counts Machine updates,
// each a restart or a staged update of one Machine), hold a Machine's lease
// as another deploy would (HoldLease), and make it fail (Fail) with a
// status, a Retry-After, or a message that echoes the values it was sent,
// to prove a client scrubs them; a Failure waits for a secrets request, or
// with Machines set for a Machines one.
//
// Only tests import this package. It imports nothing of rotplan.
package fly
