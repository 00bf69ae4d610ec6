package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotplan/rotplan/internal/testservers"
)

// BenchmarkApplyPostgres times `rotplan apply -auto-approve -replace ...` of
// N independent PostgreSQL role passwords on one real server, in process
// through run(): load the inventory, observe (a login probe per role), plan,
// then for each role generate, stage in the local store, ALTER ROLE with a
// SCRAM verifier, verify by logging in, promote. -replace of every secret
// makes each iteration rotate all of them again. See docs/BENCHMARKS.md.
func BenchmarkApplyPostgres(b *testing.B) {
	pg := testservers.StartPostgres(b)
	b.Setenv("PG_HOST", pg.Host)
	b.Setenv("PG_PORT", fmt.Sprint(pg.Port))
	b.Setenv("PG_ADMIN_DSN", fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=postgres sslmode=disable", pg.Host, pg.Port, testservers.PostgresAdmin, pg.AdminPassword))
	b.Setenv("ROTPLAN_LOG", "")
	b.Setenv("ROTPLAN_TEST_CRASH_AFTER", "")

	for _, roles := range []int{20} {
		dir := b.TempDir()
		var inv strings.Builder
		replace := []string{"-chdir=" + dir, "apply", "-auto-approve"}
		for i := 0; i < roles; i++ {
			role := fmt.Sprintf("bench_%02d", i)
			pg.CreateRole(b, role, fmt.Sprintf("initial-%s-password", role))
			fmt.Fprintf(&inv, benchSecret, i, role)
			replace = append(replace, "-replace", fmt.Sprintf("secret.s%02d", i))
		}
		if err := os.WriteFile(filepath.Join(dir, "secrets.hcl"), []byte(inv.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		apply := func(b *testing.B, args ...string) {
			var stdout, stderr bytes.Buffer
			if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
				b.Fatalf("rotplan %s exited %d:\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "Apply complete: ") {
				b.Fatalf("apply did nothing:\n%s", stdout.String())
			}
		}
		// The first apply creates every secret; each timed one rotates
		// them all.
		apply(b, "-chdir="+dir, "apply", "-auto-approve")

		for _, parallelism := range []int{1, 4} {
			b.Run(fmt.Sprintf("roles=%d/parallelism=%d", roles, parallelism), func(b *testing.B) {
				args := append(append([]string{}, replace...), "-parallelism", fmt.Sprint(parallelism))
				for b.Loop() {
					apply(b, args...)
				}
				b.ReportMetric(float64(roles*b.N)/b.Elapsed().Seconds(), "rotations/s")
			})
		}
	}
}

// benchSecret is secret sNN, the password of a PostgreSQL role, proven by
// logging in.
const benchSecret = `
secret "s%02[1]d" {
  frequency = "90d"

  generate "password" {
    length  = 32
    symbols = false
  }
  target "postgres" "role" {
    admin_dsn = env("PG_ADMIN_DSN")
    role      = "%[2]s"
  }
  verify "postgres" {
    dsn = "host=${env("PG_HOST")} port=${env("PG_PORT")} user=%[2]s dbname=postgres sslmode=disable password=${secret.s%02[1]d.value}"
  }
}
`
