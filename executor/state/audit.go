package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// AuditSink is one place audit records go: a file, a stream, a table.
type AuditSink interface {
	Append(ctx context.Context, rec AuditRecord) error
}

// Audit appends each record to every sink it has.
type Audit struct {
	sinks []AuditSink
}

// NewAudit returns the audit log at path (JSON lines, mode 0600), with
// more sinks beside it.
func NewAudit(path string, more ...AuditSink) *Audit {
	return &Audit{sinks: append([]AuditSink{AuditFile(path)}, more...)}
}

// Append writes one record to every sink; a sink that fails does not keep
// the record from the others.
func (a *Audit) Append(rec AuditRecord) error {
	var errs []error
	for _, s := range a.sinks {
		if err := s.Append(context.Background(), rec); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// AuditFile appends records as JSON lines to the file at path, mode 0600.
type AuditFile string

// Append writes one record as one line and syncs it.
func (p AuditFile) Append(_ context.Context, rec AuditRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	fileMu.Lock()
	defer fileMu.Unlock()
	f, err := os.OpenFile(string(p), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return f.Sync()
}

// fileMu keeps the lines of concurrent appends whole.
var fileMu sync.Mutex

// AuditStream writes records as JSON lines to a stream (stdout, for log
// shippers). Each record is one write of one whole line; W must be safe
// for the other writers it is shared with.
type AuditStream struct {
	W io.Writer
}

// auditLine is a record as a stream carries it: marked, so that a reader
// of a stream shared with other JSON lines can tell it apart.
type auditLine struct {
	Type string `json:"type"`
	AuditRecord
}

// Append writes one record as one line.
func (s AuditStream) Append(_ context.Context, rec AuditRecord) error {
	b, err := json.Marshal(auditLine{Type: "audit", AuditRecord: rec})
	if err != nil {
		return err
	}
	_, err = s.W.Write(append(b, '\n'))
	return err
}
