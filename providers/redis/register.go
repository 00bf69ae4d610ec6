package redis

import (
	"fmt"
	"net"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// Modes say where a Redis server keeps the password.
const (
	// ModeACL rotates an ACL user's password; a user may hold several.
	ModeACL = "acl"
	// ModeRequirePass rotates the server's requirepass.
	ModeRequirePass = "requirepass"
)

// targetSpec is target "redis".
var targetSpec = &hcldec.ValidateSpec{
	Wrapped: hcldec.ObjectSpec{
		// address is one node, host:port.
		"address": &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "address", Type: cty.String},
			Func:    validateAddress,
		},
		// nodes are more nodes, each host:port, beside or instead of
		// address: the change goes to every one, since Redis does not
		// replicate ACL SETUSER or CONFIG SET.
		"nodes": &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "nodes", Type: cty.List(cty.String)},
			Func:    validateNodes,
		},
		// discover adds the nodes found from the listed ones: "none" (the
		// default), "replicas" (INFO replication) or "cluster" (CLUSTER
		// NODES).
		"discover": &hcldec.DefaultSpec{
			Primary: &hcldec.ValidateSpec{
				Wrapped: &hcldec.AttrSpec{Name: "discover", Type: cty.String},
				Func:    validateDiscover,
			},
			Default: &hcldec.LiteralSpec{Value: cty.StringVal(DiscoverNone)},
		},
		// save is how each node saves a change: "auto" (the default: ACL
		// SAVE, else CONFIG REWRITE, else nothing), "acl_save",
		// "config_rewrite" or "none".
		"save": &hcldec.DefaultSpec{
			Primary: &hcldec.ValidateSpec{
				Wrapped: &hcldec.AttrSpec{Name: "save", Type: cty.String},
				Func:    validateSave,
			},
			Default: &hcldec.LiteralSpec{Value: cty.StringVal(SaveAuto)},
		},
		// tls connects with TLS (rediss).
		"tls": &hcldec.DefaultSpec{
			Primary: &hcldec.AttrSpec{Name: "tls", Type: cty.Bool},
			Default: &hcldec.LiteralSpec{Value: cty.False},
		},
		// admin_username and admin_password log in as a user allowed to
		// run ACL SETUSER (or CONFIG SET), normally from env(). Unset,
		// rotplan logs in as the rotated user with the store's current
		// value, which works only if that user may change its own password.
		"admin_username": &hcldec.AttrSpec{Name: "admin_username", Type: cty.String},
		"admin_password": &hcldec.AttrSpec{Name: "admin_password", Type: cty.String},
		// username is the ACL user whose password is the secret; unset, the
		// "default" user. Not used in requirepass mode.
		"username": &hcldec.AttrSpec{Name: "username", Type: cty.String},
		// mode is "acl" (the default) or "requirepass".
		"mode": &hcldec.DefaultSpec{
			Primary: &hcldec.ValidateSpec{
				Wrapped: &hcldec.AttrSpec{Name: "mode", Type: cty.String},
				Func:    validateMode,
			},
			Default: &hcldec.LiteralSpec{Value: cty.StringVal(ModeACL)},
		},
	},
	Func: validateTarget,
}

// verifySpec is verify "redis": AUTH with the value being checked, then run
// command, on each node; the check passes when none returns an error.
var verifySpec = &hcldec.ValidateSpec{
	Wrapped: verifyAttrs,
	Func:    validateVerify,
}

var verifyAttrs = hcldec.ObjectSpec{
	// address is one node, host:port.
	"address": &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: "address", Type: cty.String},
		Func:    validateAddress,
	},
	// nodes are more nodes, each host:port, beside or instead of address.
	"nodes": &hcldec.ValidateSpec{
		Wrapped: &hcldec.AttrSpec{Name: "nodes", Type: cty.List(cty.String)},
		Func:    validateNodes,
	},
	// tls connects with TLS (rediss), as ElastiCache requires with AUTH.
	"tls": &hcldec.DefaultSpec{
		Primary: &hcldec.AttrSpec{Name: "tls", Type: cty.Bool},
		Default: &hcldec.LiteralSpec{Value: cty.False},
	},
	// username is the ACL user to AUTH as; unset, AUTH with the value alone.
	"username": &hcldec.AttrSpec{Name: "username", Type: cty.String},
	// command is the command and its arguments.
	"command": &hcldec.DefaultSpec{
		Primary: &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "command", Type: cty.List(cty.String)},
			Func:    validateCommand,
		},
		Default: &hcldec.LiteralSpec{Value: cty.ListVal([]cty.Value{cty.StringVal("PING")})},
	},
}

// Register adds this package's block types to r.
func Register(r *providers.Registry) {
	r.Target("redis", config.BlockSchema{Spec: targetSpec, Authenticates: true, RotationNote: rotationNote, Writes: writes, Public: []string{"address", "tls", "admin_username", "username", "mode"}}, func(s providers.Settings) (providers.Target, error) {
		return New(s)
	})
	r.Verifier("redis", config.BlockSchema{Spec: verifySpec}, func(s providers.Settings) (providers.Verifier, error) {
		return NewVerifier(s)
	})
}

// writes is where a block sets its password: an ACL user of each node it
// lists (address and nodes; the nodes discovery finds are not known until
// plan). In requirepass mode that user is "default", since Redis 6 keeps
// requirepass as the default user's password: a requirepass block and one
// for the default user change the same password.
func writes(cfg cty.Value) []config.Destination {
	mode, ok := config.KnownString(cfg, "mode")
	if !ok {
		return nil
	}
	user := "default"
	if mode != ModeRequirePass {
		if user, ok = config.KnownString(cfg, "username"); !ok {
			return nil
		}
		if user == "" {
			user = "default"
		}
	}
	var nodes []string
	if address, ok := config.KnownString(cfg, "address"); ok && address != "" {
		nodes = append(nodes, address)
	}
	nodes = append(nodes, knownStrings(cfg, "nodes")...)
	var out []config.Destination
	seen := map[string]bool{}
	for _, n := range nodes {
		host, port, err := net.SplitHostPort(n)
		if err != nil || host == "" || port == "" {
			continue
		}
		server := net.JoinHostPort(strings.ToLower(host), port)
		if !seen[server] {
			seen[server] = true
			out = append(out, config.Destination{Resource: "redis " + server, Key: user})
		}
	}
	return out
}

// knownStrings reads a list of strings attribute for writes: the elements
// known in full and not marked, leaving out the rest.
func knownStrings(cfg cty.Value, name string) []string {
	if cfg == cty.NilVal || cfg.IsMarked() || !cfg.IsKnown() || cfg.IsNull() ||
		!cfg.Type().IsObjectType() || !cfg.Type().HasAttribute(name) {
		return nil
	}
	v := cfg.GetAttr(name)
	if v.IsMarked() || !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsMarked() || !e.IsKnown() || e.IsNull() || !e.Type().Equals(cty.String) {
			continue
		}
		out = append(out, e.AsString())
	}
	return out
}

// The checks below never quote the value they reject: once apply knows
// the secrets' values, an attribute may be made from one, and the
// diagnostic's range points at the attribute anyway. They unmark the value
// first, since apply may mark such values and a marked value cannot be read.

func validateAddress(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	if host, port, err := net.SplitHostPort(v.AsString()); err == nil && host != "" && port != "" {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid Redis address",
		Detail:   "address is host:port, such as \"cache.internal:6379\", not a URL; ask for TLS with tls = true.",
	}}
}

// validateNodes checks each element of nodes as validateAddress does, and
// that none is there twice.
func validateNodes(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	var diags hcl.Diagnostics
	seen := map[string]int{}
	i := -1
	for it := v.ElementIterator(); it.Next(); {
		i++
		_, e := it.Element()
		if e.IsNull() || !e.IsKnown() {
			continue
		}
		host, port, err := net.SplitHostPort(e.AsString())
		if err != nil || host == "" || port == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid Redis node",
				Detail:   fmt.Sprintf("nodes[%d] is not host:port: each node is written like \"cache-1.internal:6379\", not a URL; ask for TLS with tls = true.", i),
			})
			continue
		}
		key := net.JoinHostPort(strings.ToLower(host), port)
		if first, ok := seen[key]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate Redis node",
				Detail:   fmt.Sprintf("nodes[%d] is the same node as nodes[%d]; list each node once.", i, first),
			})
			continue
		}
		seen[key] = i
	}
	return diags
}

func validateDiscover(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch v.AsString() {
	case DiscoverNone, DiscoverReplicas, DiscoverCluster:
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid discover",
		Detail: fmt.Sprintf("discover is %q (only the listed nodes; the default), %q (each listed node's primary and replicas, from INFO replication) or %q (every member of the cluster, from CLUSTER NODES).",
			DiscoverNone, DiscoverReplicas, DiscoverCluster),
	}}
}

func validateSave(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch v.AsString() {
	case SaveAuto, SaveACL, SaveConfigRewrite, SaveNone:
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid save",
		Detail: fmt.Sprintf("save is %q (ACL SAVE where the server has an ACL file, else CONFIG REWRITE where it has a configuration file; the default), %q, %q, or %q (for managed Redis, which forbids both).",
			SaveAuto, SaveACL, SaveConfigRewrite, SaveNone),
	}}
}

func validateMode(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch v.AsString() {
	case ModeACL, ModeRequirePass:
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid mode",
		Detail:   fmt.Sprintf("mode is %q (an ACL user's password, Redis 6 and later; the default) or %q (the server's single password).", ModeACL, ModeRequirePass),
	}}
}

// rotationNote tells the plan what each mode does to the old password.
func rotationNote(cfg cty.Value) string {
	cfg, _ = cfg.UnmarkDeep()
	if !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute("mode") {
		return ""
	}
	note := "the ACL user keeps the old password beside the new one until it retires"
	if m := cfg.GetAttr("mode"); m.IsKnown() && !m.IsNull() && m.AsString() == ModeRequirePass {
		note = "mode requirepass: the server holds one password, so the old one stops working when it is set"
	}
	if cfg.Type().HasAttribute("save") {
		if s := cfg.GetAttr("save"); s.IsKnown() && !s.IsNull() && s.AsString() == SaveNone {
			note += `; save = "none": the change is not saved on the servers, so a node that restarts from its own files loses it`
		}
	}
	return note
}

// validateTarget asks for a node, and refuses a username in requirepass
// mode, which has none.
func validateTarget(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if diags := needNode(v, "target"); diags.HasErrors() {
		return diags
	}
	mode, user := v.GetAttr("mode"), v.GetAttr("username")
	if !mode.IsKnown() || mode.AsString() != ModeRequirePass || user.IsNull() {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "username with requirepass",
		Detail:   `In requirepass mode the secret is the server's single password, not a user's. Remove username, or use mode = "acl" to rotate that user's password.`,
	}}
}

// validateVerify asks for a node.
func validateVerify(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	return needNode(v, "verify")
}

// needNode refuses a block with neither address nor nodes. An unknown
// attribute (an env() not read yet) may name one.
func needNode(v cty.Value, kind string) hcl.Diagnostics {
	why := "each node is changed, since Redis does not replicate ACL changes"
	if kind == "verify" {
		why = "the check logs in to each node"
	}
	address, nodes := v.GetAttr("address"), v.GetAttr("nodes")
	if !address.IsKnown() || !nodes.IsKnown() {
		return nil
	}
	if !address.IsNull() || (!nodes.IsNull() && nodes.LengthInt() > 0) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Missing Redis address",
		Detail:   fmt.Sprintf(`A %s "redis" block needs address = "host:port", or nodes = ["host:port", ...] for a server with replicas or a cluster (%s).`, kind, why),
	}}
}

func validateCommand(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() || v.LengthInt() > 0 {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Empty command",
		Detail:   `command is the command to run after AUTH and its arguments, such as ["PING"]; leave it out for PING.`,
	}}
}
