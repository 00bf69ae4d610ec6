package views

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/planner"
)

// JSONPlan is the plan's machine-readable form, documented in
// docs/json-format.md. A saved plan (-out) is the same document.
type JSONPlan struct {
	FormatVersion  string    `json:"format_version"`
	RotplanVersion string    `json:"rotplan_version"`
	EvaluatedAt    time.Time `json:"evaluated_at"`
	// RunningApply is the apply holding the state lock as the plan was
	// made, absent when none was.
	RunningApply  *JSONRunningApply `json:"running_apply,omitempty"`
	InventoryHash string            `json:"inventory_hash"`
	StateSerial   int64             `json:"state_serial"`
	HasChanges    bool              `json:"has_changes"`
	HasErrors     bool              `json:"has_errors"`
	Options       JSONOptions       `json:"options"`
	Summary       JSONSummary       `json:"summary"`
	Changes       []JSONChange      `json:"changes"`
}

// JSONRunningApply describes an apply holding the state lock.
type JSONRunningApply struct {
	Holder string    `json:"holder"`
	Since  time.Time `json:"since"`
}

// JSONOptions are the options the plan was made with.
type JSONOptions struct {
	Targets []string `json:"targets"`
	Replace []string `json:"replace"`
}

// JSONSummary counts the changes by action.
type JSONSummary struct {
	Create    int `json:"create"`
	Rotate    int `json:"rotate"`
	Sync      int `json:"sync"`
	Retire    int `json:"retire"`
	Resume    int `json:"resume"`
	Rollback  int `json:"rollback"`
	Unchanged int `json:"unchanged"`
	Errors    int `json:"errors"`
}

// JSONChange is one secret's plan.
type JSONChange struct {
	Address      string         `json:"address"`
	Status       planner.Status `json:"status"`
	Action       planner.Action `json:"action"`
	Reason       string         `json:"reason"`
	RotatedAt    *time.Time     `json:"rotated_at"`
	DueAt        *time.Time     `json:"due_at"`
	RetireAfter  *time.Time     `json:"retire_after"`
	Frequency    string         `json:"frequency"`
	Grace        string         `json:"grace"`
	Store        string         `json:"store"`
	Generate     string         `json:"generate"`
	Manual       bool           `json:"manual"`
	Instructions string         `json:"instructions,omitempty"`
	// RevokeInstructions say how a person revokes the previous value.
	RevokeInstructions string `json:"revoke_instructions,omitempty"`
	// RetireFirst: the rotation retires the previous value first.
	RetireFirst  bool         `json:"retire_first,omitempty"`
	RetireReason string       `json:"retire_reason,omitempty"`
	Targets      []JSONTarget `json:"targets"`
	Checks       []string     `json:"checks"`
	Needs        []string     `json:"needs"`
	Cause        string       `json:"cause,omitempty"`
	Notes        []string     `json:"notes"`
	Warnings     []string     `json:"warnings"`
	Error        string       `json:"error,omitempty"`
}

// JSONTarget is one target's part of a change.
type JSONTarget struct {
	Address string          `json:"address"`
	Holds   planner.Holding `json:"holds"`
	// Unknown counts credentials the target accepts that rotplan did not
	// make.
	Unknown int            `json:"unknown_credentials,omitempty"`
	Action  planner.Action `json:"action"`
	Error   string         `json:"error,omitempty"`
}

// PlanMeta is what a plan view shows beside the plan itself.
type PlanMeta struct {
	Version       string
	InventoryHash string
	StateSerial   int64
	Targets       []string
	Replace       []string
}

// NewJSONPlan converts a plan to its JSON form.
func NewJSONPlan(p *planner.Plan, meta PlanMeta) *JSONPlan {
	n := p.Count()
	jp := &JSONPlan{
		FormatVersion:  planner.FormatVersion,
		RotplanVersion: meta.Version,
		EvaluatedAt:    p.At.UTC(),
		InventoryHash:  meta.InventoryHash,
		StateSerial:    meta.StateSerial,
		HasChanges:     p.HasChanges(),
		HasErrors:      p.HasErrors(),
		Options:        JSONOptions{Targets: nonNil(meta.Targets), Replace: nonNil(meta.Replace)},
		Summary: JSONSummary{
			Create: n.Create, Rotate: n.Rotate, Sync: n.Sync, Retire: n.Retire,
			Resume: n.Resume, Rollback: n.Rollback, Unchanged: n.Unchanged, Errors: n.Errors,
		},
		Changes: make([]JSONChange, 0, len(p.Changes)),
	}
	if r := p.RunningApply; r != nil {
		jp.RunningApply = &JSONRunningApply{Holder: r.Holder, Since: r.Since.UTC()}
	}
	for _, c := range p.Changes {
		jc := JSONChange{
			Address:            c.Address,
			Status:             c.Status,
			Action:             c.Action,
			Reason:             c.Reason,
			RotatedAt:          timePtr(c.RotatedAt),
			DueAt:              timePtr(c.DueAt),
			RetireAfter:        timePtr(c.RetireAfter),
			Frequency:          config.FormatDuration(c.Frequency),
			Grace:              config.FormatDuration(c.Grace),
			Store:              c.Store,
			Generate:           c.Generate,
			Manual:             c.Manual,
			Instructions:       c.Instructions,
			RevokeInstructions: c.RevokeInstructions,
			RetireFirst:        c.RetireFirst,
			RetireReason:       c.RetireReason,
			Targets:            make([]JSONTarget, len(c.Targets)),
			Checks:             nonNil(c.Checks),
			Needs:              nonNil(c.Needs),
			Cause:              c.Cause,
			Notes:              nonNil(c.Notes),
			Warnings:           nonNil(c.Warnings),
			Error:              c.Error,
		}
		for i, t := range c.Targets {
			jc.Targets[i] = JSONTarget{Address: t.Address, Holds: t.Holds, Unknown: t.Unknown, Action: t.Action, Error: t.Error}
		}
		jp.Changes = append(jp.Changes, jc)
	}
	return jp
}

// Plan converts the JSON form back to a plan, for a saved plan.
func (jp *JSONPlan) Plan() (*planner.Plan, error) {
	p := &planner.Plan{At: jp.EvaluatedAt}
	for _, jc := range jp.Changes {
		freq, err := config.ParseDuration(jc.Frequency)
		if err != nil {
			return nil, fmt.Errorf("%s: frequency: %w", jc.Address, err)
		}
		grace, err := config.ParseDuration(jc.Grace)
		if err != nil {
			return nil, fmt.Errorf("%s: grace: %w", jc.Address, err)
		}
		c := &planner.Change{
			Secret:             trimSecret(jc.Address),
			Address:            jc.Address,
			Status:             jc.Status,
			Action:             jc.Action,
			Reason:             jc.Reason,
			RotatedAt:          timeVal(jc.RotatedAt),
			DueAt:              timeVal(jc.DueAt),
			RetireAfter:        timeVal(jc.RetireAfter),
			Frequency:          freq,
			Grace:              grace,
			Store:              jc.Store,
			Generate:           jc.Generate,
			Manual:             jc.Manual,
			Instructions:       jc.Instructions,
			RevokeInstructions: jc.RevokeInstructions,
			RetireFirst:        jc.RetireFirst,
			RetireReason:       jc.RetireReason,
			Checks:             jc.Checks,
			Needs:              jc.Needs,
			Cause:              jc.Cause,
			Notes:              jc.Notes,
			Warnings:           jc.Warnings,
			Error:              jc.Error,
		}
		for _, t := range jc.Targets {
			c.Targets = append(c.Targets, planner.TargetChange{Address: t.Address, Holds: t.Holds, Unknown: t.Unknown, Action: t.Action, Error: t.Error})
		}
		p.Changes = append(p.Changes, c)
	}
	return p, nil
}

// PlanJSON writes the plan as one indented JSON document.
func PlanJSON(w io.Writer, p *planner.Plan, meta PlanMeta) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(NewJSONPlan(p, meta))
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func timeVal(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func trimSecret(addr string) string {
	const prefix = "secret."
	if len(addr) > len(prefix) && addr[:len(prefix)] == prefix {
		return addr[len(prefix):]
	}
	return addr
}
