// Package executor talks to the live systems: it observes them for the
// planner and, later, carries out a plan's rotations.
//
// Observation asks each store and target provider once per batch, grouping
// secrets by provider type so a store can list instead of reading secret by
// secret, and runs the groups concurrently with bounded parallelism. Values
// read for drift checks stay in memory as sensitive.Value and never reach the
// observations the planner sees.
//
// executor imports planner, config and providers (the interfaces and the
// registry), never a concrete provider package.
package executor
