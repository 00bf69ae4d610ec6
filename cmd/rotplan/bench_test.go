package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
	"github.com/rotplan/rotplan/providers/local"
)

// benchDir keeps the generated inventories, so the CLI itself can be
// measured on them (peak memory with /usr/bin/time -v, see BENCHMARKS.md).
var benchDir = flag.String("benchdir", "", "write the benchmark inventories under `DIR` and keep them")

// secretsPerFile splits a generated inventory the way a large team would:
// one file per area, each with a few hundred secrets.
const secretsPerFile = 500

// writeBenchInventory writes an inventory of n secrets on the local store:
// every fifth copied into a dotenv file, every tenth derived from the secret
// before it. Ages are spread so every status the planner computes occurs.
func writeBenchInventory(tb testing.TB, dir string, n int, now time.Time) {
	tb.Helper()
	var files []strings.Builder
	env := map[int]*strings.Builder{}
	err := local.Update(filepath.Join(dir, "rotplan.store"), func(f *local.File) error {
		for i := 0; i < n; i++ {
			if i%secretsPerFile == 0 {
				files = append(files, strings.Builder{})
			}
			b := &files[len(files)-1]
			fmt.Fprintf(b, "secret \"s%05d\" {\n  description = \"generated secret %d\"\n  frequency   = \"90d\"\n", i, i)
			if i%10 == 9 {
				fmt.Fprintf(b, "  generate \"template\" {\n    template = \"user:${secret.s%05d.value}@db\"\n  }\n", i-1)
			} else {
				fmt.Fprintf(b, "  generate \"password\" {\n    length = 32\n  }\n")
			}
			value := sensitive.New(fmt.Sprintf("bench-value-%05d", i))
			if i%5 == 0 {
				envFile := i / 1000
				fmt.Fprintf(b, "  target \"env_file\" \"app\" {\n    path = \"app%d.env\"\n    key  = \"S%05d\"\n  }\n", envFile, i)
				if env[envFile] == nil {
					env[envFile] = &strings.Builder{}
				}
				fmt.Fprintf(env[envFile], "S%05d=%s\n", i, value.Reveal())
			}
			b.WriteString("}\n\n")
			if i%7 == 6 {
				continue // missing
			}
			if err := f.Put(fmt.Sprintf("s%05d", i), value, now.Add(-time.Duration(i%120)*config.Day)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range files {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("area%02d.hcl", i)), []byte(files[i].String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	for i, b := range env {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("app%d.env", i)), []byte(b.String()), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkValidatePlan times what `rotplan plan` does for inventories of
// 100, 1,000 and 10,000 secrets: read and decode the inventory, observe the
// store and targets, plan. parse-only is the floor: hcl/v2 parsing the same
// files and nothing else, so the ratio between the two compares across
// machines.
func BenchmarkValidatePlan(b *testing.B) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	registry := newRegistry()
	for _, n := range []int{100, 1000, 10000} {
		dir := b.TempDir()
		if *benchDir != "" {
			dir = filepath.Join(*benchDir, fmt.Sprintf("secrets-%d", n))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		writeBenchInventory(b, dir, n, now)
		names, err := config.InventoryFiles(dir)
		if err != nil {
			b.Fatal(err)
		}

		b.Run(fmt.Sprintf("secrets=%d/parse-only", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := hclparse.NewParser()
				for _, name := range names {
					src, err := os.ReadFile(filepath.Join(dir, name))
					if err != nil {
						b.Fatal(err)
					}
					if _, diags := p.ParseHCL(src, name); diags.HasErrors() {
						b.Fatal(diags)
					}
				}
			}
		})
		b.Run(fmt.Sprintf("secrets=%d/validate+plan", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				inv, diags := config.LoadDir(dir, config.Options{Schemas: registry, Mode: config.ModeResolve})
				if diags.HasErrors() {
					b.Fatal(diags)
				}
				obs := (&executor.Observer{Providers: executor.NewProviders(registry, nil)}).Observe(context.Background(), inv)
				plan, err := planner.Make(inv, obs, now, planner.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if len(plan.Changes) != n || plan.HasErrors() {
					b.Fatalf("plan has %d changes (errors: %v), want %d without errors", len(plan.Changes), plan.HasErrors(), n)
				}
			}
		})
	}
}

// writeDependsOnInventory writes an inventory whose depends_on lists hold n
// entries in all, shaped as one of:
//
//   - wide: secret "top" depends on each of n other secrets, one list of n;
//   - chain: n+1 secrets, each depending on the one before it.
//
// Secrets go in files of 10,000, under the 2 MiB limit of a file, and the
// store is empty: every secret is planned as missing.
func writeDependsOnInventory(tb testing.TB, dir, shape string, n int) {
	tb.Helper()
	const perFile = 10000
	var b strings.Builder
	flush := func(name string) {
		if b.Len() == 0 {
			return
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		b.Reset()
	}
	for i := 0; i <= n; i++ {
		if i > 0 && i%perFile == 0 {
			flush(fmt.Sprintf("secrets%03d.hcl", i/perFile-1))
		}
		fmt.Fprintf(&b, "secret \"s%06d\" {\n  frequency = \"90d\"\n", i)
		if shape == "chain" && i > 0 {
			fmt.Fprintf(&b, "  depends_on = [secret.s%06d]\n", i-1)
		}
		b.WriteString("  generate \"random\" {}\n}\n")
	}
	flush(fmt.Sprintf("secrets%03d.hcl", n/perFile))
	if shape == "wide" {
		b.WriteString("secret \"top\" {\n  frequency = \"90d\"\n  generate \"random\" {}\n  depends_on = [\n")
		for i := 0; i <= n-1; i++ {
			fmt.Fprintf(&b, "    secret.s%06d,\n", i)
		}
		b.WriteString("  ]\n}\n")
		flush("top.hcl")
	}
}

// BenchmarkDependsOn times load and plan of inventories whose depends_on
// lists hold 25,000, 50,000 and 100,000 entries, in two shapes (see
// writeDependsOnInventory): each part of load and plan, the dependency
// graph and its cycle check included, must stay linear in them.
func BenchmarkDependsOn(b *testing.B) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	registry := newRegistry()
	for _, shape := range []string{"wide", "chain"} {
		for _, n := range []int{25000, 50000, 100000} {
			dir := b.TempDir()
			writeDependsOnInventory(b, dir, shape, n)
			b.Run(fmt.Sprintf("%s/entries=%d", shape, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					inv, diags := config.LoadDir(dir, config.Options{Schemas: registry, Mode: config.ModePlan})
					if diags.HasErrors() {
						b.Fatal(diags)
					}
					obs := (&executor.Observer{Providers: executor.NewProviders(registry, nil)}).Observe(context.Background(), inv)
					plan, err := planner.Make(inv, obs, now, planner.Options{})
					if err != nil {
						b.Fatal(err)
					}
					if len(plan.Changes) != len(inv.Secrets) || plan.HasErrors() {
						b.Fatalf("plan has %d changes (errors: %v), want %d without errors", len(plan.Changes), plan.HasErrors(), len(inv.Secrets))
					}
				}
			})
		}
	}
}
