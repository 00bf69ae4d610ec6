package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/jackc/pgx/v5"
	"github.com/zclconf/go-cty/cty"
)

// Postgres keeps the state in a PostgreSQL database: one row per state
// (its serial and the holder's details), one row per rotation in flight,
// and the audit log in a table. The lock is a session-level advisory lock
// held on a connection of its own for as long as apply runs, so a holder
// that dies, or whose connection is killed, frees it at once; the holder
// finds out on its next write or within watchEvery, and stops.
//
// Several inventories can share a database: each names its state.
type Postgres struct {
	cfg    *pgx.ConnConfig
	schema string
	name   string
	// watchEvery is how often a held lock checks its session is alive.
	watchEvery time.Duration

	auditMu   sync.Mutex
	auditConn *pgx.Conn
}

var _ AuditingBackend = (*Postgres)(nil)

// PostgresType is the postgres backend:
//
//	state "postgres" {
//	  dsn    = env("ROTPLAN_STATE_DSN")
//	  schema = "rotplan"  # optional
//	  name   = "default"  # optional: one state per inventory sharing the database
//	}
func PostgresType() Type {
	return Type{
		Name: "postgres",
		Spec: hcldec.ObjectSpec{
			"dsn":    &hcldec.AttrSpec{Name: "dsn", Type: cty.String, Required: true},
			"schema": &hcldec.AttrSpec{Name: "schema", Type: cty.String},
			"name":   &hcldec.AttrSpec{Name: "name", Type: cty.String},
		},
		Open: func(cfg cty.Value, _ string) (Backend, error) {
			dsn, err := attrString(cfg, "dsn", "")
			if err != nil {
				return nil, err
			}
			if dsn == "" {
				return nil, errors.New("dsn is required: the connection string of the database that keeps the state, such as env(\"ROTPLAN_STATE_DSN\")")
			}
			schema, err := attrString(cfg, "schema", "rotplan")
			if err != nil {
				return nil, err
			}
			name, err := attrString(cfg, "name", "default")
			if err != nil {
				return nil, err
			}
			return NewPostgres(dsn, schema, name)
		},
	}
}

// NewPostgres returns the postgres backend for the state name in schema of
// the database dsn connects to. It connects only when used.
func NewPostgres(dsn, schema, name string) (*Postgres, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The connection string may hold a password: do not quote it.
		return nil, errors.New("dsn is not a valid PostgreSQL connection string (postgres://USER:PASSWORD@HOST:PORT/DATABASE or key=value pairs)")
	}
	return &Postgres{cfg: cfg, schema: schema, name: name, watchEvery: 5 * time.Second}, nil
}

func (p *Postgres) String() string {
	return fmt.Sprintf("%q in postgres %s:%d/%s (schema %s)", p.name, p.cfg.Host, p.cfg.Port, p.cfg.Database, p.schema)
}

// table returns a table's name, quoted, in the backend's schema.
func (p *Postgres) table(name string) string {
	return pgx.Identifier{p.schema, name}.Sanitize()
}

// lockKeys are the advisory lock's two keys: one for rotplan's schema,
// one for the state's row.
func (p *Postgres) lockKeys(id int64) (int32, int32) {
	h := fnv.New32a()
	h.Write([]byte("rotplan:" + p.schema))
	return int32(h.Sum32() & 0x7fffffff), int32(id)
}

func (p *Postgres) connect(ctx context.Context) (*pgx.Conn, error) {
	c, err := pgx.ConnectConfig(ctx, p.cfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("connect to the state database: %w", err)
	}
	return c, nil
}

// exists reports whether the backend's tables were made.
func (p *Postgres) exists(ctx context.Context, c *pgx.Conn) (bool, error) {
	var ok bool
	err := c.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", p.table("rotations")).Scan(&ok)
	return ok, err
}

// setup makes the schema, the tables and this state's row, once: under a
// transaction-level advisory lock, since two applies may do it at once.
// It returns the row's id.
func (p *Postgres) setup(ctx context.Context, c *pgx.Conn) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		k1, _ := p.lockKeys(0)
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, 0)", k1); err != nil {
			return err
		}
		for _, q := range []string{
			"CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{p.schema}.Sanitize(),
			`CREATE TABLE IF NOT EXISTS ` + p.table("states") + ` (
				name   text PRIMARY KEY,
				id     bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
				serial bigint NOT NULL DEFAULT 0,
				holder jsonb
			)`,
			`CREATE TABLE IF NOT EXISTS ` + p.table("rotations") + ` (
				state     text NOT NULL REFERENCES ` + p.table("states") + ` (name) ON DELETE CASCADE,
				secret    text NOT NULL,
				id        text NOT NULL,
				action    text NOT NULL,
				lifecycle text NOT NULL,
				started   timestamptz NOT NULL,
				updated   timestamptz NOT NULL,
				error     text NOT NULL DEFAULT '',
				PRIMARY KEY (state, secret)
			)`,
			`CREATE TABLE IF NOT EXISTS ` + p.table("audit") + ` (
				seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
				state    text NOT NULL,
				time     timestamptz NOT NULL,
				operator text NOT NULL,
				secret   text NOT NULL,
				rotation text NOT NULL,
				action   text NOT NULL,
				step     text NOT NULL,
				outcome  text NOT NULL,
				detail   text NOT NULL
			)`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+p.table("states")+" (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", p.name); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT id FROM "+p.table("states")+" WHERE name = $1", p.name).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("set up the state tables: %w", err)
	}
	return id, nil
}

// Read returns the journal: the serial and every rotation row, read in one
// snapshot. A database without rotplan's tables reads as empty.
func (p *Postgres) Read(ctx context.Context) (*State, error) {
	c, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	st := New()
	if ok, err := p.exists(ctx, c); err != nil || !ok {
		return st, err
	}
	err = pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, "SELECT serial FROM "+p.table("states")+" WHERE name = $1", p.name).Scan(&st.Serial)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT secret, id, action, lifecycle, started, updated, error FROM "+p.table("rotations")+" WHERE state = $1", p.name)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := &Rotation{}
			if err := rows.Scan(&r.Secret, &r.ID, &r.Action, &r.State, &r.Started, &r.Updated, &r.Error); err != nil {
				return err
			}
			r.Started, r.Updated = r.Started.UTC(), r.Updated.UTC()
			st.Rotations[r.Secret] = r
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", p, err)
	}
	return st, nil
}

// Lock takes the advisory lock on a connection of its own, which it keeps
// until Unlock, and records the holder in the state's row.
func (p *Postgres) Lock(ctx context.Context, info LockInfo, timeout time.Duration) (Lock, error) {
	c, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (Lock, error) {
		c.Close(context.Background())
		return nil, err
	}
	id, err := p.setup(ctx, c)
	if err != nil {
		return fail(err)
	}
	k1, k2 := p.lockKeys(id)
	deadline := time.Now().Add(timeout)
	for {
		var got bool
		if err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", k1, k2).Scan(&got); err != nil {
			return fail(fmt.Errorf("lock state %s: %w", p, err))
		}
		if got {
			break
		}
		if !time.Now().Before(deadline) {
			// The holder records itself just after it takes the lock: a
			// moment later its record is there to name it.
			holder, _, err := p.holderRow(ctx, c)
			for tries := 0; err == nil && holder.ID == "unknown" && tries < 40; tries++ {
				time.Sleep(25 * time.Millisecond)
				holder, _, err = p.holderRow(ctx, c)
			}
			if err != nil {
				return fail(fmt.Errorf("lock state %s: %w", p, err))
			}
			return fail(&LockedError{Where: p.String(), Holder: holder})
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	b, _ := json.Marshal(info)
	if _, err := c.Exec(ctx, "UPDATE "+p.table("states")+" SET holder = $1 WHERE name = $2", string(b), p.name); err != nil {
		return fail(fmt.Errorf("lock state %s: record holder: %w", p, err))
	}
	k := &pgLock{p: p, conn: c, info: info, k1: k1, k2: k2, lost: make(chan struct{}), stop: make(chan struct{})}
	go k.watch()
	return k, nil
}

// holderRow reads the holder recorded in the state's row; the ID reads as
// unknown when none is.
func (p *Postgres) holderRow(ctx context.Context, c *pgx.Conn) (LockInfo, int64, error) {
	var raw []byte
	var id int64
	err := c.QueryRow(ctx, "SELECT id, holder FROM "+p.table("states")+" WHERE name = $1", p.name).Scan(&id, &raw)
	var info LockInfo
	if err == nil && len(raw) > 0 {
		_ = json.Unmarshal(raw, &info)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	if info.ID == "" {
		info.ID = "unknown"
	}
	return info, id, err
}

// held reports the database session that holds the advisory lock now, if
// any: its backend pid.
func (p *Postgres) held(ctx context.Context, c *pgx.Conn, id int64) (pid int32, ok bool, err error) {
	k1, k2 := p.lockKeys(id)
	err = c.QueryRow(ctx, `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2
		LIMIT 1`, int64(k1), int64(k2)).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return pid, err == nil, err
}

// Holder reports the holder while a session holds the advisory lock.
func (p *Postgres) Holder(ctx context.Context) (*LockInfo, error) {
	c, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	if ok, err := p.exists(ctx, c); err != nil || !ok {
		return nil, err
	}
	info, id, err := p.holderRow(ctx, c)
	if err != nil || id == 0 {
		return nil, err
	}
	if _, ok, err := p.held(ctx, c, id); err != nil || !ok {
		return nil, err
	}
	return &info, nil
}

// ForceUnlock clears the holder recorded by a holder whose session is
// gone. The advisory lock went with the session; a session that still
// holds it is refused, with the statement that ends it.
func (p *Postgres) ForceUnlock(ctx context.Context, id string) error {
	c, err := p.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	if ok, err := p.exists(ctx, c); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("the state %s is not locked", p)
	}
	holder, rowID, err := p.holderRow(ctx, c)
	if err != nil {
		return err
	}
	if holder.ID == "unknown" {
		return fmt.Errorf("the state %s is not locked", p)
	}
	if holder.ID != id {
		return fmt.Errorf("the state %s is locked by %s, not %s; nothing was changed", p, holder.ID, id)
	}
	if pid, ok, err := p.held(ctx, c, rowID); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("lock %s is held by a live database session (server pid %d) of %s; stop that apply, or end its session in the database with SELECT pg_terminate_backend(%d)", id, pid, holder.Describe(), pid)
	}
	_, err = c.Exec(ctx, "UPDATE "+p.table("states")+" SET holder = NULL WHERE name = $1 AND holder->>'id' = $2", p.name, id)
	return err
}

// Close closes the audit log's connection.
func (p *Postgres) Close() error {
	p.auditMu.Lock()
	defer p.auditMu.Unlock()
	if p.auditConn != nil {
		err := p.auditConn.Close(context.Background())
		p.auditConn = nil
		return err
	}
	return nil
}

// AuditSink returns the audit table of this state.
func (p *Postgres) AuditSink() AuditSink { return pgAudit{p} }

type pgAudit struct{ p *Postgres }

// Append inserts one record on the audit connection, connecting again
// once if it was lost.
func (a pgAudit) Append(ctx context.Context, rec AuditRecord) error {
	p := a.p
	p.auditMu.Lock()
	defer p.auditMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		if p.auditConn == nil || p.auditConn.IsClosed() {
			c, err := p.connect(ctx)
			if err != nil {
				return fmt.Errorf("audit table: %w", err)
			}
			p.auditConn = c
		}
		_, err := p.auditConn.Exec(ctx, "INSERT INTO "+p.table("audit")+
			" (state, time, operator, secret, rotation, action, step, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			p.name, rec.Time, rec.Operator, rec.Secret, rec.Rotation, rec.Action, string(rec.Step), rec.Outcome, rec.Detail)
		if err == nil {
			return nil
		}
		if attempt > 0 || !p.auditConn.IsClosed() {
			return fmt.Errorf("audit table: %w", err)
		}
	}
}

// pgLock is a held advisory lock and the connection that holds it. Every
// journal write goes through that connection, so a write succeeds only
// while the session, and with it the lock, is alive.
type pgLock struct {
	p      *Postgres
	info   LockInfo
	k1, k2 int32

	mu       sync.Mutex // guards conn and lostSet
	conn     *pgx.Conn
	lostSet  bool
	lost     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
}

func (k *pgLock) Info() LockInfo { return k.info }

func (k *pgLock) Lost() <-chan struct{} { return k.lost }

// watch pings the lock's session every watchEvery; a failed ping means
// the session, and the lock, are gone.
func (k *pgLock) watch() {
	t := time.NewTicker(k.p.watchEvery)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		k.mu.Lock()
		if k.lostSet || k.conn == nil {
			k.mu.Unlock()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := k.conn.Ping(ctx)
		cancel()
		if err != nil {
			k.loseLocked()
		}
		k.mu.Unlock()
	}
}

// loseLocked records that the lock is gone; k.mu is held.
func (k *pgLock) loseLocked() {
	if k.lostSet {
		return
	}
	k.lostSet = true
	close(k.lost)
	k.conn.Close(context.Background())
}

// write runs fn in a transaction on the lock's connection. An error that
// leaves the session dead loses the lock.
func (k *pgLock) write(ctx context.Context, fn func(pgx.Tx) (int64, error)) (int64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lostSet || k.conn == nil {
		return 0, ErrLockLost
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var serial int64
	err := pgx.BeginFunc(ctx, k.conn, func(tx pgx.Tx) error {
		var err error
		serial, err = fn(tx)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrStaleSerial) {
			return 0, err
		}
		pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer pcancel()
		if k.conn.IsClosed() || k.conn.Ping(pctx) != nil {
			k.loseLocked()
			return 0, fmt.Errorf("%w: %v", ErrLockLost, err)
		}
		return 0, fmt.Errorf("write state %s: %w", k.p, err)
	}
	return serial, nil
}

// bump moves the serial on from serial, or fails with ErrStaleSerial.
func (k *pgLock) bump(ctx context.Context, tx pgx.Tx, serial int64) (int64, error) {
	var next int64
	err := tx.QueryRow(ctx, "UPDATE "+k.p.table("states")+" SET serial = serial + 1 WHERE name = $1 AND serial = $2 RETURNING serial", k.p.name, serial).Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		var now int64
		_ = tx.QueryRow(ctx, "SELECT serial FROM "+k.p.table("states")+" WHERE name = $1", k.p.name).Scan(&now)
		return 0, fmt.Errorf("%w (serial %d, the journal's is %d)", ErrStaleSerial, serial, now)
	}
	return next, err
}

// PutRotation writes r's row and moves the serial on, in one transaction.
func (k *pgLock) PutRotation(ctx context.Context, serial int64, r *Rotation) (int64, error) {
	return k.write(ctx, func(tx pgx.Tx) (int64, error) {
		next, err := k.bump(ctx, tx, serial)
		if err != nil {
			return 0, err
		}
		_, err = tx.Exec(ctx, "INSERT INTO "+k.p.table("rotations")+` (state, secret, id, action, lifecycle, started, updated, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (state, secret) DO UPDATE SET id = $3, action = $4, lifecycle = $5, started = $6, updated = $7, error = $8`,
			k.p.name, r.Secret, r.ID, r.Action, r.State, r.Started, r.Updated, r.Error)
		return next, err
	})
}

// DeleteRotation deletes secret's row and moves the serial on, in one
// transaction; no row changes nothing.
func (k *pgLock) DeleteRotation(ctx context.Context, serial int64, secret string) (int64, error) {
	return k.write(ctx, func(tx pgx.Tx) (int64, error) {
		tag, err := tx.Exec(ctx, "DELETE FROM "+k.p.table("rotations")+" WHERE state = $1 AND secret = $2", k.p.name, secret)
		if err != nil {
			return 0, err
		}
		if tag.RowsAffected() == 0 {
			var now int64
			if err := tx.QueryRow(ctx, "SELECT serial FROM "+k.p.table("states")+" WHERE name = $1", k.p.name).Scan(&now); err != nil {
				return 0, err
			}
			if now != serial {
				return 0, fmt.Errorf("%w (serial %d, the journal's is %d)", ErrStaleSerial, serial, now)
			}
			return serial, nil
		}
		return k.bump(ctx, tx, serial)
	})
}

// Unlock clears the holder, releases the advisory lock and closes the
// connection. A lock already lost has nothing to release.
func (k *pgLock) Unlock(ctx context.Context) error {
	k.stopOnce.Do(func() { close(k.stop) })
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lostSet || k.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := k.conn.Exec(ctx, "UPDATE "+k.p.table("states")+" SET holder = NULL WHERE name = $1 AND holder->>'id' = $2", k.p.name, k.info.ID)
	if err == nil {
		_, err = k.conn.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", k.k1, k.k2)
	}
	cerr := k.conn.Close(context.Background())
	k.conn = nil
	if err != nil {
		return fmt.Errorf("unlock state %s: %w", k.p, err)
	}
	return cerr
}
