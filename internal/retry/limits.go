package retry

import (
	"context"
	"sync"

	"golang.org/x/time/rate"
)

// Quota is a service's documented request rate for one API: Rate calls a
// second, Burst at once.
type Quota struct {
	Rate  float64
	Burst int
}

// Quotas is the one table of the services' documented request quotas that
// the client-side limiter keeps under, by API. APIs a service counts
// together share a key. rotplan stays at half of each published rate, since
// other clients of the same account share it.
//
//   - AWS Secrets Manager, per account and region (Secrets Manager User
//     Guide, "AWS Secrets Manager quotas", reference_limits.html):
//     GetSecretValue 10,000/s, DescribeSecret 40,000/s, ListSecrets 100/s,
//     BatchGetSecretValue 100/s; PutSecretValue and UpdateSecretVersionStage
//     50/s combined; TagResource and UntagResource 50/s combined;
//     CreateSecret, DeleteSecret and RestoreSecret 50/s each.
//   - Fly.io Machines API (fly.io/docs/machines/api/working-with-machines-api,
//     "Rate limits"): 1 request a second per action per Machine, bursts of 3;
//     get Machine 5/s, bursts of 10. rotplan applies them per action across
//     an app's Machines, which it updates one at a time anyway.
//   - 1Password service accounts (developer.1password.com/docs/service-accounts/rate-limits):
//     hourly, per token, 1,000 reads and 100 writes (1Password, Families,
//     Teams) or 10,000 reads and 1,000 writes (Business). Hourly windows are
//     not paced here, since waiting out an hour is no retry: a call refused
//     for them fails with the SDK's rate-limit error. The pacing below only
//     keeps bursts of writes to one vault apart, which 1Password answers
//     with "data conflict" when they overlap.
var Quotas = map[string]Quota{
	"secretsmanager.GetSecretValue":           {5000, 100},
	"secretsmanager.DescribeSecret":           {20000, 100},
	"secretsmanager.ListSecrets":              {50, 10},
	"secretsmanager.BatchGetSecretValue":      {50, 10},
	"secretsmanager.PutSecretValue":           {25, 5},
	"secretsmanager.UpdateSecretVersionStage": {25, 5},
	"secretsmanager.TagResource":              {25, 5},
	"secretsmanager.UntagResource":            {25, 5},
	"secretsmanager.CreateSecret":             {25, 5},
	"secretsmanager.DeleteSecret":             {25, 5},
	"secretsmanager.RestoreSecret":            {25, 5},

	"fly.secrets.list":     {5, 10},
	"fly.secrets.update":   {1, 3},
	"fly.machines.list":    {5, 10},
	"fly.machines.get":     {5, 10},
	"fly.machines.update":  {1, 3},
	"fly.machines.lease":   {1, 3},
	"fly.machines.release": {1, 3},
	"fly.machines.wait":    {5, 10},

	"onepassword.write": {5, 1},
}

// shareKey maps APIs that a service counts together to one limiter.
var shareKey = map[string]string{
	"secretsmanager.UpdateSecretVersionStage": "secretsmanager.PutSecretValue",
	"secretsmanager.UntagResource":            "secretsmanager.TagResource",
}

// Limits holds one limiter per API, made on first use from Quotas.
type Limits struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// Shared is the process's limiters: every provider instance of a run shares
// the account's quotas.
var Shared = &Limits{}

// Wait blocks until api may be called; an API with no quota, or nil Limits,
// never waits.
func (l *Limits) Wait(ctx context.Context, api string) error {
	if l == nil || api == "" {
		return nil
	}
	key := api
	if k, ok := shareKey[api]; ok {
		key = k
	}
	q, ok := Quotas[key]
	if !ok {
		return nil
	}
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*rate.Limiter{}
	}
	lim := l.m[key]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(q.Rate), q.Burst)
		l.m[key] = lim
	}
	l.mu.Unlock()
	return lim.Wait(ctx)
}
