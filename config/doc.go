// Package config turns a directory of HCL files into a typed Inventory.
//
// Decoding runs in two passes. The first reads the fixed top level (the
// rotplan settings block, provider blocks, secret blocks) against schemas
// written here. The second decodes each store, generate, target and verify
// block against the schema its provider type registers, so adding a provider
// touches no code in this package. Every problem is an hcl.Diagnostic with a
// source range, a short summary and a detail that says how to fix it; decoding
// keeps going after the first error and reports them all.
//
// config does no network I/O and must not import planner, executor or any
// provider package: provider schemas reach it through the Schemas interface.
package config
