package testservers

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestStartPostgres(t *testing.T) {
	start := time.Now()
	pg := StartPostgres(t)
	t.Logf("started PostgreSQL on %s:%d in %s", pg.Host, pg.Port, time.Since(start).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	admin, err := pgx.Connect(ctx, pg.AdminDSN)
	if err != nil {
		t.Fatalf("connect as %s: %v", PostgresAdmin, err)
	}
	defer admin.Close(ctx)
	var super bool
	var encryption string
	if err := admin.QueryRow(ctx, "SELECT rolsuper, current_setting('password_encryption') FROM pg_roles WHERE rolname = current_user").Scan(&super, &encryption); err != nil {
		t.Fatal(err)
	}
	if !super || encryption != "scram-sha-256" {
		t.Errorf("%s: superuser %v, password_encryption %q; want a superuser and scram-sha-256", PostgresAdmin, super, encryption)
	}

	const role, password = `App "Role"`, "role-password-5d1e"
	pg.CreateRole(t, role, password)
	pg.Exec(t, "CREATE TABLE marker (n int)")

	conn, err := pgx.Connect(ctx, pg.DSN(role, password, "postgres"))
	if err != nil {
		t.Fatalf("connect as the new role: %v", err)
	}
	conn.Close(ctx)

	_, err = pgx.Connect(ctx, pg.DSN(role, "wrong", "postgres"))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Errorf("connect with a wrong password: %v, want SQLSTATE 28P01: host connections must check passwords", err)
	}

	pg.AddHBA(t, "host all all 127.0.0.1/32 trust")
	conn, err = pgx.Connect(ctx, pg.DSN(role, "wrong", "postgres"))
	if err != nil {
		t.Fatalf("AddHBA: a trust rule at the top of pg_hba.conf does not let a wrong password in: %v", err)
	}
	conn.Close(ctx)

	log := pg.Log(t)
	if !strings.Contains(log, "CREATE TABLE marker") {
		t.Errorf("the server log does not show statements:\n%s", log)
	}
	if strings.Contains(log, password) {
		t.Errorf("CreateRole's password is in the server log")
	}
}

func TestStartPostgresCleansUp(t *testing.T) {
	var dir string
	t.Run("server", func(t *testing.T) {
		dir = StartPostgres(t).Dir
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there after the test: %v", dir, err)
	}
}
