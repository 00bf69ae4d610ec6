// Package planner decides what each secret needs: a pure function of the
// inventory, what was observed of the live systems, and the time.
//
// Plan does no I/O and reads no clock; everything it knows comes in as
// arguments, so a plan made in a pull request and one made on an operator's
// laptop agree when the systems they observe agree. The Plan it returns is
// plain data (addresses, statuses, actions, reasons, order) and never holds a
// secret value or a client.
//
// planner imports config and nothing else of rotplan.
package planner
