// Package executor talks to the live systems: it observes them for the
// planner, and carries out a plan.
//
// Observation asks each store and target provider once per batch, grouping
// secrets by provider type so a store can list instead of reading secret by
// secret, and runs the groups concurrently with bounded parallelism. Values
// read for drift checks stay in memory as sensitive.Value and never reach the
// observations the planner sees.
//
// Apply moves each change of a plan through one explicit lifecycle
// (lifecycle.go: the states, the moves each kind of change may make, and
// advance, the one function that makes them and journals them). apply.go
// schedules: the operator's questions first (operator.go), then dependency
// levels (graph.go), each level's changes through the protocol's steps
// together, with one call per target type for the steps that write to
// targets (targets.go), then rollbacks and promotes (settle). work.go holds
// one change's steps.
//
// executor imports planner, config and providers (the interfaces and the
// registry), never a concrete provider package.
package executor
