// Package builtin assembles the registry of every provider rotplan ships. It
// is the one place that imports the concrete provider packages; cmd/rotplan
// and tests use it, and nothing in config, planner or executor may.
package builtin

import (
	"github.com/rotplan/rotplan/providers"
	"github.com/rotplan/rotplan/providers/aws"
	"github.com/rotplan/rotplan/providers/azure"
	"github.com/rotplan/rotplan/providers/envfile"
	"github.com/rotplan/rotplan/providers/exec"
	"github.com/rotplan/rotplan/providers/fly"
	"github.com/rotplan/rotplan/providers/generators"
	"github.com/rotplan/rotplan/providers/httpcheck"
	"github.com/rotplan/rotplan/providers/local"
	"github.com/rotplan/rotplan/providers/onepassword"
	"github.com/rotplan/rotplan/providers/postgres"
	"github.com/rotplan/rotplan/providers/redis"
)

// Registry returns a registry of every provider rotplan ships.
func Registry() *providers.Registry {
	r := providers.NewRegistry()
	for _, register := range []func(*providers.Registry){
		local.Register,
		generators.Register,
		envfile.Register,
		onepassword.Register,
		aws.Register,
		azure.Register,
		fly.Register,
		postgres.Register,
		redis.Register,
		httpcheck.Register,
		exec.Register,
	} {
		register(r)
	}
	return r
}
