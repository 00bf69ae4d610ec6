package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor"
	"github.com/rotplan/rotplan/executor/state"
)

// auditFileName is the audit log's file: beside the local state file, or
// in the inventory directory for the other backends.
const auditFileName = "rotplan.audit.jsonl"

// openState opens the inventory's state backend: its state block, or the
// local file beside the inventory.
func (m *meta) openState(inv *config.Inventory) (state.Backend, error) {
	return m.states.Open(inv.Settings.State.Type, inv.Settings.State.Config, inv.Dir)
}

// readState reads the journal without locking it.
func (m *meta) readState(inv *config.Inventory) (*state.State, error) {
	b, err := m.openState(inv)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return b.Read(context.Background())
}

// heldState is the state of a command that changes it: the backend, the
// lock it holds and the journal read under it.
type heldState struct {
	m       *meta
	backend state.Backend
	lock    state.Lock
	st      *state.State
}

// lockState opens the backend, takes the lock for operation (waiting up to
// timeout for another holder) and reads the journal. The caller releases
// it with release.
func (m *meta) lockState(ctx context.Context, inv *config.Inventory, operation string, timeout time.Duration) (*heldState, error) {
	b, err := m.openState(inv)
	if err != nil {
		return nil, err
	}
	k, err := b.Lock(ctx, lockInfo(operation), timeout)
	if err != nil {
		b.Close()
		return nil, err
	}
	st, err := b.Read(ctx)
	if err != nil {
		k.Unlock(context.Background())
		b.Close()
		return nil, err
	}
	m.logger.Debug("state locked", "state", b.String(), "serial", st.Serial, "rotations", len(st.Rotations))
	return &heldState{m: m, backend: b, lock: k, st: st}, nil
}

// applier is an Applier for an operator's command on one secret (import,
// state abort) under the held lock; close the Providers it returns.
func (h *heldState) applier(m *meta, inv *config.Inventory) (*executor.Applier, *executor.Providers) {
	instances := executor.NewProviders(m.registry, m.logger)
	return &executor.Applier{
		Providers: instances,
		Logger:    m.logger,
		Who:       operatorName(),
		Lock:      h.lock,
		State:     h.st,
		Audit:     h.audit(inv, "", nil),
	}, instances
}

func (h *heldState) release() {
	if err := h.lock.Unlock(context.Background()); err != nil {
		fmt.Fprintf(h.m.stderr, "Warning: %s\n", err)
	}
	h.backend.Close()
}

// audit returns the audit log of a command that holds the state: the
// file (at path, or the default place when path is ""), the backend's own
// table where it has one, and stream when it is not nil.
func (h *heldState) audit(inv *config.Inventory, path string, stream io.Writer) *state.Audit {
	if path == "" {
		dir := inv.Dir
		if l, ok := h.backend.(*state.Local); ok {
			dir = filepath.Dir(l.Path())
		}
		path = filepath.Join(dir, auditFileName)
	}
	var more []state.AuditSink
	if ab, ok := h.backend.(state.AuditingBackend); ok {
		more = append(more, ab.AuditSink())
	}
	if stream != nil {
		more = append(more, state.AuditStream{W: stream})
	}
	return state.NewAudit(path, more...)
}

// lockInfo describes this process as the holder of the state lock.
func lockInfo(operation string) state.LockInfo {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	return state.LockInfo{
		ID:        hex.EncodeToString(b),
		Operation: operation,
		PID:       os.Getpid(),
		Host:      host,
		User:      userName(),
		Created:   time.Now().UTC().Truncate(time.Second),
		Version:   rotplanVersion(),
	}
}

// lockedWriter serialises whole writes to one stream shared by the view
// and the audit stream.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func runForceUnlock(m *meta, args []string) int {
	fs := newFlagSet(m, "force-unlock LOCK_ID", "Clears the state lock left by an apply that is gone. A lock held by a\nrunning apply is refused. The same as rotplan state unlock.")
	return unlock(m, fs, args)
}

// unlock is force-unlock and state unlock.
func unlock(m *meta, fs *flagSet, args []string) int {
	if code, ok := fs.parse(args, 1, 1); !ok {
		return code
	}
	inv, ok := m.loadInventory(config.ModeValidate, config.Trusted)
	if !ok {
		return exitError
	}
	b, err := m.openState(inv)
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	defer b.Close()
	if err := b.ForceUnlock(context.Background(), fs.Arg(0)); err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	fmt.Fprintf(m.stdout, "Lock %s is released.\n", fs.Arg(0))
	return exitOK
}
