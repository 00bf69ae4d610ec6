package state

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// AuditRecord is one line of the audit log: who did what to which secret,
// and how it went. It holds no value.
type AuditRecord struct {
	Time     time.Time `json:"time"`
	Operator string    `json:"operator"`
	Secret   string    `json:"secret"`
	Rotation string    `json:"rotation,omitempty"`
	Action   string    `json:"action"`
	Step     Step      `json:"step,omitempty"`
	Outcome  string    `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
}

// Audit appends records to a JSON-lines file, mode 0600.
type Audit struct {
	mu   sync.Mutex
	path string
}

// NewAudit returns the audit log at path.
func NewAudit(path string) *Audit { return &Audit{path: path} }

// Append writes one record as one line.
func (a *Audit) Append(rec AuditRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return f.Sync()
}
