package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
	"github.com/rotplan/rotplan/providers/envfile"
	"github.com/rotplan/rotplan/providers/exec"
	"github.com/rotplan/rotplan/providers/generators"
	"github.com/rotplan/rotplan/providers/httpcheck"
	"github.com/rotplan/rotplan/providers/local"
)

// The canaries of FuzzPipeline: the values the store holds for the secrets
// the seeds declare, what an env file holds for them, what env() and
// file() can read.
const (
	fuzzStoreCanary = "CANARY-store-93b1"
	fuzzEnvCanary   = "CANARY-env-2f07"
	fuzzFileCanary  = "CANARY-file-c4d8"
)

// fuzzSecretNames get a value in the store FuzzPipeline writes.
var fuzzSecretNames = []string{"a", "b", "c", "db_password", "database_url", "api_token", "session_key", "top", "s0", "s1"}

// fuzzMaxInput bounds an input: larger ones are skipped, so each run is
// bounded by the limits of loading, not by what the mutator grows.
const fuzzMaxInput = 256 << 10

// FuzzPipeline runs the whole of what a pull request's plan does on
// arbitrary input: read the inventory, decode it, observe the local store
// and env files, plan, and render the plan (Markdown, the saved JSON plan,
// then show's human form), untrusted, as the CLI does it. The input is the
// inventory file, or a txtar archive of files (inventory files, files for
// file() to read, env files); beside them are a store holding a value for
// each name in fuzzSecretNames, canary.txt, and FUZZ_TOKEN in the
// environment.
//
// Whatever the input, rotplan must exit 0, 1 or 2, print no panic, write
// output at most linear in the input, and never print a value from the
// store, nor what env() and file() read (a canary the input itself holds
// excepted, as a snippet may quote it). A run that takes more than fuzzHang
// is reported as hung: it is blocked, not slow.
func FuzzPipeline(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxInput {
			t.Skip("input larger than the fuzz bound")
		}
		fuzzPipeline(t, data)
	})
}

// fuzzHang is how long one input may take before FuzzPipeline says the
// pipeline is blocked: minutes more than any input of fuzzMaxInput needs.
const fuzzHang = 2 * time.Minute

func fuzzPipeline(t *testing.T, data []byte) {
	restore := newRegistry
	newRegistry = fuzzRegistry
	defer func() { newRegistry = restore }()
	t.Setenv("FUZZ_TOKEN", fuzzEnvCanary)
	t.Setenv("ROTPLAN_LOG", "")

	dir := t.TempDir()
	files := fuzzFiles(data)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "canary.txt"), []byte(fuzzFileCanary), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := local.Update(filepath.Join(dir, "rotplan.store"), func(f *local.File) error {
		for _, name := range fuzzSecretNames {
			if err := f.Put(name, sensitive.New(fuzzStoreCanary+"-"+name), time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	saved := filepath.Join(t.TempDir(), "saved.json")
	runs := [][]string{
		{"validate"},
		{"plan", "-at", "2026-12-01", "-markdown", "-out", saved},
		{"show", saved},
	}
	var output bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, args := range runs {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"-chdir=" + dir}, args...), strings.NewReader(""), &stdout, &stderr)
			if code != exitOK && code != exitError && code != exitPending {
				t.Errorf("rotplan %s exited %d", strings.Join(args, " "), code)
			}
			output.Write(stdout.Bytes())
			output.Write(stderr.Bytes())
		}
		if b, err := os.ReadFile(saved); err == nil {
			output.Write(b)
		}
	}()
	select {
	case <-done:
	case <-time.After(fuzzHang):
		t.Fatalf("the pipeline has not finished after %s: blocked", fuzzHang)
	}

	out := output.String()
	if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic:") {
		t.Fatalf("output shows a panic:\n%s", out)
	}
	// A canary the input itself holds may be quoted from it.
	shows := func(canary string) bool {
		return strings.Contains(out, canary) && !bytes.Contains(data, []byte(canary))
	}
	if shows(fuzzStoreCanary) {
		t.Fatalf("output shows a value from the store:\n%s", out)
	}
	if shows(fuzzEnvCanary) || shows(fuzzFileCanary) {
		t.Fatalf("output shows what env() or file() read:\n%s", out)
	}
	if limit := 64<<10 + 200*len(data); len(out) > limit {
		t.Fatalf("%d bytes of output for %d bytes of input, more than %d", len(out), len(data), limit)
	}
}

// fuzzRegistry holds the providers that read nothing but local files:
// fuzzing must not reach the network.
func fuzzRegistry() *providers.Registry {
	r := providers.NewRegistry()
	for _, register := range []func(*providers.Registry){local.Register, generators.Register, envfile.Register, exec.Register, httpcheck.Register} {
		register(r)
	}
	return r
}

// fuzzFiles reads an input as the files of an inventory directory: a txtar
// archive's files whose names are plain names, or else the whole input as
// fuzz.hcl.
func fuzzFiles(data []byte) map[string][]byte {
	files := map[string][]byte{}
	if bytes.HasPrefix(data, []byte("-- ")) {
		name := ""
		for _, line := range bytes.SplitAfter(data, []byte("\n")) {
			header := bytes.TrimSpace(line)
			if bytes.HasPrefix(header, []byte("-- ")) && bytes.HasSuffix(header, []byte(" --")) && len(header) > 6 {
				name = string(bytes.TrimSpace(header[3 : len(header)-3]))
				if !plainName(name) {
					name = ""
				}
				continue
			}
			if name != "" {
				files[name] = append(files[name], line...)
			}
		}
	}
	if len(files) == 0 {
		files["fuzz.hcl"] = data
	}
	return files
}

// plainName reports whether a txtar file name may be written in the
// inventory directory: a name, not a path, and not a file FuzzPipeline
// writes itself.
func plainName(name string) bool {
	return name != "" && name == filepath.Base(name) && !strings.HasPrefix(name, ".") &&
		name != "rotplan.store" && name != "canary.txt" && !strings.ContainsAny(name, `/\:*?"<>|`+"\x00")
}

// fuzzSeeds are the examples and the inputs issue 11 found, at sizes under
// fuzzMaxInput.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	for _, dir := range []string{"../../examples/quickstart", "../../examples/local"} {
		var ar bytes.Buffer
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".hcl") || strings.HasSuffix(e.Name(), ".env") {
				if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
					fmt.Fprintf(&ar, "-- %s --\n%s", e.Name(), b)
				}
			}
		}
		seeds = append(seeds, ar.Bytes())
	}
	secret := func(body string) string {
		return "secret \"a\" {\n  frequency = \"90d\"\n  generate \"random\" {}\n" + body + "\n}\n"
	}
	var list strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&list, "secret.s%d, ", i)
	}
	for _, s := range []string{
		secret("  description = " + strings.Repeat("(", 30000) + `"x"` + strings.Repeat(")", 30000)),
		strings.Repeat("\x00", 64<<10),
		secret(`  description = "` + strings.Repeat(`${`, 30000) + `"`),
		secret(`  description = ` + strings.Repeat(`"${`, 10000) + `x`),
		secret("  depends_on = [" + list.String() + "]"),
		secret("  description = " + strings.Repeat(`true ? "x" : `, 5000) + `"y"`),
		secret(`  description = "` + strings.Repeat("%{ if true }", 3000) + strings.Repeat("%{ endif }", 3000) + `"`),
		strings.Repeat("@", 100000),
		secret(`  description = "` + "a\u202eb\x1b[2J" + `"`),
		"secret \"a\u202eb\" {\n  frequency = \"90d\u202e\"\n}\n",
		`secret "m" {
  description = env("FUZZ_TOKEN")
  frequency   = "180d"
  generate "manual" {
    instructions        = file("canary.txt")
    revoke_instructions = env("FUZZ_TOKEN")
  }
}
secret "p" {
  frequency = "90d"
  generate "manual" { instructions = file("/etc/passwd") }
}
secret "z" {
  frequency = "90d"
  generate "manual" { instructions = file("/dev/zero") }
}
`,
		secret(`  description = replace("` + strings.Repeat("a", 2000) + `", "a", "` + strings.Repeat("b", 2000) + `")`),
		secret(`  description = join("", [for s in ["a"] : s])`),
		secret(`  description = indent(-1, "a\nb")`),
		secret(`  description = format("%999999999d", 1)`),
		secret(`  frequency = env("FUZZ_TOKEN")`),
		`-- a.hcl --
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path = "app.env"
    key  = "A"
  }
  target "exec" "reload" {
    command = ["reload", env("UNSET_TOKEN")]
  }
  verify "http" {
    url     = "https://${env("UNSET_HOST")}/health"
    headers = { Authorization = "Bearer ${env("UNSET_TOKEN")}" }
  }
}
secret "b" {
  frequency  = "30d"
  depends_on = [secret.a]
  generate "template" {
    template = "x:${secret.a.value}@${env("UNSET_HOST")}"
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "B"
  }
}
-- app.env --
A=drifted
B=other
-- notes.txt --
some notes
`,
		`-- link.hcl --
secret "a" {
  frequency = "90d"
  generate "random" {}
  store "local" { path = "../elsewhere.store" }
}
`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}
