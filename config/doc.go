// Package config turns a directory of HCL files into a typed Inventory.
//
// Decoding runs in two passes. The first reads the fixed top level (the
// rotplan settings block, provider blocks, secret blocks) against schemas
// written here. The second decodes each store, generate, target and verify
// block against the schema its provider type registers, so adding a provider
// touches no code in this package. Every problem is an hcl.Diagnostic with a
// source range, a short summary and a detail that says how to fix it; decoding
// keeps going after the first error and reports them all, up to
// MaxDiagnosticsPerFile a file.
//
// An inventory may come from a pull request. Loading does bounded work on
// any input (limits.go: sizes, nesting counted on the tokens before the
// parser recurses, function results), and each step takes time linear in
// the inventory. Unless Options.Trust says Trusted, file() stays inside
// the inventory directory and what env() and file() return is marked
// Sensitive: a block's Config still holds the values for providers, but
// what config and the planner show of it (StringAttr, destinations) and
// what Redact lets through hold none of them. ModePlan evaluates what
// observation needs and leaves verify blocks and ApplyOnly settings to
// apply (shown.go).
//
// config does no network I/O and must not import planner, executor or any
// provider package: provider schemas reach it through the Schemas interface.
package config
