// Package retry is the one retry and rate policy every provider call goes
// through: bounded attempts with jittered exponential backoff on throttling
// and server errors, Retry-After honoured up to a cap, a client-side limiter
// per API from one table of the services' documented quotas (Quotas), and
// no second attempt of a call that is not idempotent unless the service
// proved it did nothing (it throttled the call).
//
// Callers describe each call (Call: its API, whether it is idempotent) and
// how to read its errors (a Classify function); the providers adapt their
// SDKs to it (the AWS SDK through its Retryer interface, the 1Password SDK
// and the Fly Machines API around each call).
//
// It imports nothing of rotplan.
package retry
