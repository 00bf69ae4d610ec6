package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/rotplan/rotplan/config"
)

// initFile is the file init writes in the inventory directory.
const initFile = "secrets.hcl"

func runInit(m *meta, args []string) int {
	fs := newFlagSet(m, "init", "Writes a starter inventory, secrets.hcl, in the inventory directory (-chdir):\none secret block per -secret, stored in the local store and copied into an\nenv file, and the state backend. On a terminal, with no -secret given, it\nasks instead. It never overwrites an inventory.")
	var names addressList
	fs.Var(stringList{&names}, "secret", "declare a secret named `NAME` (repeatable)")
	frequency := fs.String("frequency", "90d", "rotate every `DURATION`")
	envFile := fs.String("env-file", "app.env", "copy the values into this dotenv `FILE`; empty for none")
	backend := fs.String("state", "local", "keep apply's state in `TYPE`: local, postgres or s3")
	input := fs.Bool("input", true, "ask on the terminal when no -secret is given; -input=false never asks")
	if code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	if existing, _ := config.InventoryFiles(m.dir); len(existing) > 0 {
		fmt.Fprintf(m.stderr, "Error: %s already holds an inventory (%s); init writes only into a directory without one.\n", m.dir, strings.Join(existing, ", "))
		return exitError
	}
	if len(names) == 0 && *input && isTerminal(m.stdin) {
		in := bufio.NewReader(m.stdin)
		ask := func(q, def string) string {
			fmt.Fprintf(m.stdout, "%s [%s]: ", q, def)
			line, _ := in.ReadString('\n')
			if line = strings.TrimSpace(line); line != "" {
				return line
			}
			return def
		}
		for _, n := range strings.Split(ask("Secret names, separated by commas", "api_token"), ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		*frequency = ask("Rotate every", *frequency)
		*envFile = ask("Copy the values into the env file (- for none)", *envFile)
		if *envFile == "-" {
			*envFile = ""
		}
		*backend = ask("Keep apply's state in (local, postgres, s3)", *backend)
	}
	if len(names) == 0 {
		names = addressList{"api_token"}
	}
	for _, n := range names {
		if !hclsyntax.ValidIdentifier(n) {
			fmt.Fprintf(m.stderr, "Error: %q is not a valid secret name: letters, digits, underscores and dashes, starting with a letter.\n", n)
			return exitError
		}
	}
	if _, err := config.ParseDuration(*frequency); err != nil {
		fmt.Fprintf(m.stderr, "Error: invalid -frequency: %s\n", err)
		return exitError
	}
	stateBlock, ok := map[string]string{
		"local":    "",
		"postgres": "\n  # apply's journal and lock, shared by everyone who applies.\n  state \"postgres\" {\n    dsn = env(\"ROTPLAN_STATE_DSN\")\n  }\n",
		"s3":       "\n  # apply's journal and lock, shared by everyone who applies.\n  state \"s3\" {\n    bucket = \"CHANGE-ME\"\n    key    = \"rotplan/rotplan.state\"\n  }\n",
	}[*backend]
	if !ok {
		fmt.Fprintf(m.stderr, "Error: unknown state backend %q: choose local, postgres or s3.\n", *backend)
		return exitError
	}

	var b strings.Builder
	b.WriteString("# A starter inventory written by rotplan init. Run rotplan plan to see what is\n# due; docs/inventory.md has every block and attribute.\n\n")
	fmt.Fprintf(&b, "rotplan {\n  notice = \"14d\"\n  grace  = \"24h\"\n%s}\n", stateBlock)
	for _, n := range names {
		fmt.Fprintf(&b, "\nsecret %q {\n  frequency = %q\n\n  store \"local\" {}\n  generate \"random\" {\n    bytes = 32\n  }\n", n, *frequency)
		if *envFile != "" {
			fmt.Fprintf(&b, "  target \"env_file\" \"app\" {\n    path = %q\n    key  = %q\n  }\n", *envFile, strings.ToUpper(n))
		}
		b.WriteString("}\n")
	}
	src := hclwrite.Format([]byte(b.String()))
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	path := filepath.Join(m.dir, initFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		_, err = f.Write(src)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(m.stderr, "Error: %s\n", err)
		return exitError
	}
	if _, ok := m.loadInventory(config.ModeValidate, config.Trusted); !ok {
		return exitError
	}
	fmt.Fprintf(m.stdout, "Wrote %s: %d secrets. Next: rotplan plan, then rotplan import secret.NAME for a value that exists already.\n", path, len(names))
	return exitOK
}

// stringList collects a repeatable option's values.
type stringList struct{ to *addressList }

func (l stringList) String() string {
	if l.to == nil {
		return ""
	}
	return strings.Join(*l.to, ",")
}

func (l stringList) Set(s string) error {
	*l.to = append(*l.to, s)
	return nil
}
