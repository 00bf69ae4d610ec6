package views

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rotplan/rotplan/executor"
)

// ApplyView renders what apply does as it does it.
type ApplyView interface {
	Event(e executor.Event)
	Summary(r executor.Result)
}

// NewApplyView returns the JSON-lines view or the human one.
func NewApplyView(w io.Writer, asJSON, color bool) ApplyView {
	if asJSON {
		return &applyJSON{enc: json.NewEncoder(w)}
	}
	return &applyHuman{w: w, c: palette(color)}
}

type applyHuman struct {
	w io.Writer
	c palette
}

func (v *applyHuman) Event(e executor.Event) {
	c := v.c
	switch e.Kind {
	case executor.EventSecretStarted:
		fmt.Fprintf(v.w, "%s: %s (%s)\n", c.bold(e.Secret), ing(e.Action.String()), e.Message)
	case executor.EventStepDone:
		fmt.Fprintf(v.w, "  %s: %s done %s\n", e.Secret, e.Step, c.cyan("["+round(e.Elapsed)+"]"))
	case executor.EventCheckFailed:
		fmt.Fprintf(v.w, "  %s: %s %s\n", e.Secret, c.red("check failed:"), e.Message)
	case executor.EventRolledBack:
		fmt.Fprintf(v.w, "%s: %s %s %s\n", c.bold(e.Secret), c.yellow("rolled back; every target is on the old value again:"), e.Message, "["+round(e.Elapsed)+"]")
	case executor.EventSecretDone:
		fmt.Fprintf(v.w, "%s: %s %s\n", c.bold(e.Secret), c.green(past(e.Action.String())), "["+round(e.Elapsed)+"]")
	case executor.EventSecretFailed:
		fmt.Fprintf(v.w, "%s: %s %s\n", c.bold(e.Secret), c.red("failed:"), e.Message)
	case executor.EventSecretSkipped:
		fmt.Fprintf(v.w, "%s: %s %s\n", c.bold(e.Secret), c.yellow("skipped:"), e.Message)
	case executor.EventSecretWaiting:
		fmt.Fprintf(v.w, "%s: %s %s\n", c.bold(e.Secret), c.cyan("waiting for the operator:"), strings.TrimPrefix(e.Message, "waiting for the operator: "))
	case executor.EventOperator:
		fmt.Fprintf(v.w, "%s: %s %s\n", c.bold(e.Secret), c.cyan("operator step:"), e.Message)
	case executor.EventInterrupted:
		fmt.Fprintf(v.w, "\n%s\n\n", c.bold(c.yellow(capitalize(e.Message))))
	}
}

func (v *applyHuman) Summary(r executor.Result) {
	head := "Apply complete: "
	switch {
	case r.Interrupted:
		head = "Apply interrupted: "
	case !r.OK():
		head = "Apply finished with failures: "
	}
	fmt.Fprintf(v.w, "\n%s\n", v.c.bold(head+ApplyCounts(r)+"."))
}

// ApplyCounts is the apply's tally in words.
func ApplyCounts(r executor.Result) string {
	var parts []string
	if r.Created > 0 {
		parts = append(parts, fmt.Sprintf("%d created", r.Created))
	}
	parts = append(parts, fmt.Sprintf("%d rotated", r.Rotated), fmt.Sprintf("%d synced", r.Synced), fmt.Sprintf("%d retired", r.Retired), fmt.Sprintf("%d rolled back", r.RolledBack))
	if r.RollbacksFinished > 0 {
		parts = append(parts, CountNoun(r.RollbacksFinished, "rollback")+" finished")
	}
	if r.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", r.Failed))
	}
	if r.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", r.Skipped))
	}
	if r.Waiting > 0 {
		parts = append(parts, fmt.Sprintf("%d waiting for the operator", r.Waiting))
	}
	return strings.Join(parts, ", ")
}

type applyJSON struct {
	enc *json.Encoder
}

func (v *applyJSON) Event(e executor.Event) {
	_ = v.enc.Encode(e)
}

func (v *applyJSON) Summary(r executor.Result) {
	_ = v.enc.Encode(struct {
		Type              string `json:"type"`
		OK                bool   `json:"ok"`
		Interrupted       bool   `json:"interrupted"`
		Created           int    `json:"created"`
		Rotated           int    `json:"rotated"`
		Synced            int    `json:"synced"`
		Retired           int    `json:"retired"`
		RolledBack        int    `json:"rolled_back"`
		RollbacksFinished int    `json:"rollbacks_finished"`
		Failed            int    `json:"failed"`
		Skipped           int    `json:"skipped"`
		Waiting           int    `json:"waiting"`
	}{"summary", r.OK(), r.Interrupted, r.Created, r.Rotated, r.Synced, r.Retired, r.RolledBack, r.RollbacksFinished, r.Failed, r.Skipped, r.Waiting})
}

func round(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func ing(action string) string {
	switch action {
	case "create":
		return "creating"
	case "rotate":
		return "rotating"
	case "sync":
		return "syncing"
	case "retire":
		return "retiring"
	case "resume":
		return "resuming"
	case "rollback":
		return "finishing the rollback of its failed rotation"
	}
	return action
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func past(action string) string {
	switch action {
	case "create":
		return "created"
	case "rotate":
		return "rotated"
	case "sync":
		return "synced"
	case "retire":
		return "retired"
	case "resume":
		return "resumed and rotated"
	case "rollback":
		return "rolled back"
	}
	return action
}
