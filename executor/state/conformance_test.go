package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/rotplan/rotplan/internal/testservers"
)

// harness opens clients of one state, as separate machines would, and
// knows how a holder of its backend dies or loses its lock.
type harness struct {
	// open returns a new client of the shared state.
	open func(t *testing.T) Backend
	// crash makes the holder of k die with the lock held, as a killed
	// process would; then abandon does what must pass before the lock
	// counts as abandoned (an S3 lock's lease).
	crash   func(t *testing.T, k Lock)
	abandon func(t *testing.T)
	// lose takes the lock from a live holder: its database session is
	// killed, or its lock object removed once abandoned. nil where a live
	// holder cannot lose its lock (a file lock lasts as long as the
	// process).
	lose func(t *testing.T, b Backend, k Lock)
}

func TestConformanceLocal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rotplan.state")
	conformance(t, harness{
		open: func(*testing.T) Backend { return NewLocal(path) },
		crash: func(t *testing.T, k Lock) {
			// A killed process's files are closed by the kernel, which
			// releases the flock; the holder's record stays in the file.
			k.(*localLock).f.Close()
		},
		abandon: func(*testing.T) {},
	})
}

func TestConformancePostgres(t *testing.T) {
	pg := testservers.StartPostgres(t)
	conformance(t, harness{
		open: func(t *testing.T) Backend {
			b, err := NewPostgres(pg.DSN(testservers.PostgresAdmin, pg.AdminPassword, "postgres"), "rotplan", "conformance")
			if err != nil {
				t.Fatal(err)
			}
			b.watchEvery = 100 * time.Millisecond
			t.Cleanup(func() { b.Close() })
			return b
		},
		crash: func(t *testing.T, k Lock) {
			// The process dies: its socket closes without a goodbye.
			pk := k.(*pgLock)
			pk.stopOnce.Do(func() { close(pk.stop) })
			pk.mu.Lock()
			defer pk.mu.Unlock()
			pk.conn.PgConn().Conn().Close()
		},
		abandon: func(*testing.T) {},
		lose: func(t *testing.T, _ Backend, k Lock) {
			// Someone ends the holder's session in the database.
			pid := k.(*pgLock).conn.PgConn().PID()
			admin, err := pgx.Connect(context.Background(), pg.AdminDSN)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close(context.Background())
			var ok bool
			if err := admin.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
				t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
			}
		},
	})
}

func TestConformanceS3Gofakes3(t *testing.T) {
	fake := testservers.StartFakeS3(t)
	client := s3.New(s3.Options{
		Region:                     testservers.FakeS3Region,
		BaseEndpoint:               aws.String(fake.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(testservers.FakeS3AccessKey, testservers.FakeS3SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
	})
	const lease = time.Minute
	abandon := func(*testing.T) { fake.Clock.Advance(lease + time.Second) }
	conformance(t, harness{
		open: func(*testing.T) Backend {
			b := NewS3(client, fake.Bucket, "team/rotplan.state")
			b.lease = lease
			b.now = func(time.Time) time.Time { return fake.Clock.Now() }
			return b
		},
		crash: func(t *testing.T, k Lock) {
			// The process dies: nobody renews the lock object any more.
			sk := k.(*s3Lock)
			sk.stopOnce.Do(func() { close(sk.stop) })
		},
		abandon: abandon,
		lose: func(t *testing.T, b Backend, k Lock) {
			// The holder stalls past its lease, and an operator forces the
			// lock.
			sk := k.(*s3Lock)
			sk.stopOnce.Do(func() { close(sk.stop) })
			abandon(t)
			if err := b.ForceUnlock(context.Background(), k.Info().ID); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// conformance is what every backend must do. The subtests share one state
// and run in order; each leaves it unlocked.
func conformance(t *testing.T, h harness) {
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	holder := func(id string) LockInfo {
		return LockInfo{ID: id, Operation: "apply", PID: 4242, Host: "ops-" + id, User: "user-" + id, Created: at, Version: "test"}
	}
	lock := func(t *testing.T, b Backend, id string) Lock {
		t.Helper()
		k, err := b.Lock(ctx, holder(id), 0)
		if err != nil {
			t.Fatalf("lock %s: %v", id, err)
		}
		return k
	}
	read := func(t *testing.T) *State {
		t.Helper()
		st, err := h.open(t).Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	t.Run("empty", func(t *testing.T) {
		b := h.open(t)
		st, err := b.Read(ctx)
		if err != nil || st.Serial != 0 || len(st.Rotations) != 0 {
			t.Fatalf("a new state reads %+v, %v; want serial 0 and no rotations", st, err)
		}
		if got, err := b.Holder(ctx); err != nil || got != nil {
			t.Errorf("holder of a new state: %+v, %v; want none", got, err)
		}
		if err := b.ForceUnlock(ctx, "nobody"); err == nil || !strings.Contains(err.Error(), "not locked") {
			t.Errorf("force-unlock of a state nobody locked: %v, want \"not locked\"", err)
		}
	})

	t.Run("journal", func(t *testing.T) {
		k := lock(t, h.open(t), "journal")
		defer k.Unlock(ctx)
		serial := read(t).Serial
		put := func(r *Rotation) {
			t.Helper()
			next, err := k.PutRotation(ctx, serial, r)
			if err != nil {
				t.Fatalf("put %s: %v", r.Secret, err)
			}
			if next <= serial {
				t.Fatalf("put %s: serial %d after %d; want it to grow", r.Secret, next, serial)
			}
			serial = next
		}
		put(&Rotation{ID: "r-1", Secret: "db", Action: "rotate", State: "generated", Started: at, Updated: at})
		put(&Rotation{ID: "r-2", Secret: "api", Action: "create", State: "staged", Started: at, Updated: at})
		rolling := &Rotation{ID: "r-1", Secret: "db", Action: "rotate", State: "rolling back", Started: at, Updated: at.Add(time.Minute), Error: "check failed"}
		put(rolling)
		next, err := k.DeleteRotation(ctx, serial, "api")
		if err != nil || next <= serial {
			t.Fatalf("delete api: serial %d, %v", next, err)
		}
		serial = next
		if next, err := k.DeleteRotation(ctx, serial, "absent"); err != nil || next != serial {
			t.Errorf("delete of an entry that is not there: serial %d, %v; want %d unchanged", next, err, serial)
		}

		st := read(t)
		if st.Serial != serial || len(st.Rotations) != 1 {
			t.Fatalf("another client reads serial %d and %d rotations; want %d and 1", st.Serial, len(st.Rotations), serial)
		}
		if got := st.Rotations["db"]; got == nil || *got != *rolling {
			t.Errorf("db's entry reads %+v, want %+v", got, rolling)
		}
	})

	t.Run("stale serial refused", func(t *testing.T) {
		k := lock(t, h.open(t), "stale")
		defer k.Unlock(ctx)
		before := read(t)
		r := &Rotation{ID: "r-3", Secret: "cache", Action: "rotate", State: "staged", Started: at, Updated: at}
		if _, err := k.PutRotation(ctx, before.Serial+1, r); !errors.Is(err, ErrStaleSerial) {
			t.Errorf("put against serial %d (journal at %d): %v, want ErrStaleSerial", before.Serial+1, before.Serial, err)
		}
		if _, err := k.DeleteRotation(ctx, before.Serial-1, "db"); !errors.Is(err, ErrStaleSerial) {
			t.Errorf("delete against serial %d (journal at %d): %v, want ErrStaleSerial", before.Serial-1, before.Serial, err)
		}
		after := read(t)
		if after.Serial != before.Serial || len(after.Rotations) != len(before.Rotations) || after.Rotations["cache"] != nil {
			t.Errorf("a refused write changed the journal: %+v, was %+v", after, before)
		}
	})

	t.Run("one holder at a time", func(t *testing.T) {
		const n = 4
		var wg sync.WaitGroup
		locks := make([]Lock, n)
		errs := make([]error, n)
		for i := range n {
			b := h.open(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				locks[i], errs[i] = b.Lock(ctx, holder(fmt.Sprint("c", i)), 0)
			}()
		}
		wg.Wait()
		var winner Lock
		for i, k := range locks {
			if k != nil {
				if winner != nil {
					t.Fatalf("two clients hold the lock: %s and %s", winner.Info().ID, k.Info().ID)
				}
				winner = k
				continue
			}
			var locked *LockedError
			if !errors.As(errs[i], &locked) {
				t.Fatalf("client %d: %v, want a LockedError", i, errs[i])
			}
			defer func(err error) {
				// Checked once the winner is known.
				if locked.Holder != winner.Info() {
					t.Errorf("refused client %d was told the holder is %+v, want %+v", i, locked.Holder, winner.Info())
				}
				w := winner.Info()
				for _, want := range []string{w.ID, w.User, w.Host, "pid 4242", "2026-12-01T09:00:00Z", "rotplan force-unlock " + w.ID} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
			}(errs[i])
		}
		if winner == nil {
			t.Fatalf("no client got the lock: %v", errs)
		}
		b := h.open(t)
		if got, err := b.Holder(ctx); err != nil || got == nil || *got != winner.Info() {
			t.Errorf("holder = %+v, %v; want %+v", got, err, winner.Info())
		}
		if err := b.ForceUnlock(ctx, winner.Info().ID); err == nil {
			t.Error("force-unlock of a live holder succeeded; want it refused")
		}
		if err := b.ForceUnlock(ctx, "someone-else"); err == nil || !strings.Contains(err.Error(), winner.Info().ID) {
			t.Errorf("force-unlock naming another holder: %v, want a refusal naming %s", err, winner.Info().ID)
		}
		if err := winner.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Holder(ctx); err != nil || got != nil {
			t.Errorf("holder after unlock: %+v, %v; want none", got, err)
		}
		lock(t, b, "after").Unlock(ctx)
	})

	t.Run("waits up to the timeout", func(t *testing.T) {
		k := lock(t, h.open(t), "first")
		got := make(chan error, 1)
		b := h.open(t)
		go func() {
			k2, err := b.Lock(ctx, holder("second"), time.Minute)
			if err == nil {
				err = k2.Unlock(ctx)
			}
			got <- err
		}()
		// Whether the waiter started waiting before the unlock or not, it
		// must end up with the lock rather than an error.
		if h, err := b.Holder(ctx); err != nil || h == nil || h.ID != "first" {
			t.Fatalf("holder while waiting: %+v, %v", h, err)
		}
		if err := k.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Errorf("a lock with a timeout did not wait for the holder: %v", err)
		}
	})

	t.Run("crash with the lock held, then recovery", func(t *testing.T) {
		b := h.open(t)
		k := lock(t, b, "crashed")
		serial, err := k.PutRotation(ctx, read(t).Serial, &Rotation{ID: "r-9", Secret: "queue", Action: "rotate", State: "delivered", Started: at, Updated: at})
		if err != nil {
			t.Fatal(err)
		}
		h.crash(t, k)
		h.abandon(t)

		other := h.open(t)
		if got, err := other.Holder(ctx); err != nil || got != nil {
			t.Errorf("holder after the holder died: %+v, %v; want none", got, err)
		}
		if err := other.ForceUnlock(ctx, "crashed"); err != nil {
			t.Errorf("force-unlock of a dead holder: %v", err)
		}
		k2, err := other.Lock(ctx, holder("recovered"), 30*time.Second)
		if err != nil {
			t.Fatalf("lock after the holder died: %v", err)
		}
		defer k2.Unlock(ctx)
		st, err := other.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Serial != serial || st.Rotations["queue"] == nil || st.Rotations["queue"].State != "delivered" {
			t.Fatalf("after recovery the journal reads %+v; want the dead holder's entry at serial %d", st, serial)
		}
		if _, err := k2.DeleteRotation(ctx, serial, "queue"); err != nil {
			t.Errorf("the new holder cannot write: %v", err)
		}
	})

	if h.lose == nil {
		return
	}
	t.Run("a lost lock refuses writes", func(t *testing.T) {
		b := h.open(t)
		k := lock(t, b, "losing")
		serial := read(t).Serial
		h.lose(t, b, k)

		other := h.open(t)
		k2, err := other.Lock(ctx, holder("taker"), 30*time.Second)
		if err != nil {
			t.Fatalf("lock after the holder lost it: %v", err)
		}
		defer k2.Unlock(ctx)
		if _, err := k.PutRotation(ctx, serial, &Rotation{ID: "r-x", Secret: "late", State: "staged", Started: at, Updated: at}); !errors.Is(err, ErrLockLost) {
			t.Errorf("write by the holder that lost the lock: %v, want ErrLockLost", err)
		}
		select {
		case <-k.Lost():
		case <-time.After(30 * time.Second):
			t.Error("Lost() was not closed after the lock was lost")
		}
		if err := k.Unlock(ctx); err != nil {
			t.Errorf("unlock of a lost lock: %v", err)
		}
		if got, err := other.Holder(ctx); err != nil || got == nil || got.ID != "taker" {
			t.Errorf("the old holder's unlock touched the new holder's lock: holder %+v, %v", got, err)
		}
		if st := read(t); st.Rotations["late"] != nil {
			t.Errorf("the refused write reached the journal: %+v", st.Rotations["late"])
		}
	})
}
