// Package fly is the Fly.io target: it delivers a secret's value to a Fly
// app as an app secret (an environment variable of every Machine), and the
// previous value to a second secret during the grace period when dual key is
// configured. Every secret bound for one app is set in one update, since
// each update restarts the app's Machines. Drift is found from the digests
// Fly lists for an app's secrets, without reading any value back.
//
// It uses the Machines API, with the token and base URL of the provider
// "fly" block.
//
// For now the package declares its block types by schema only, so that
// inventories using them validate; plan reports them as not implemented.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package fly
