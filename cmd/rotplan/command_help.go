package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

func runHelp(m *meta, args []string) int {
	fs := newFlagSet(m, "help [COMMAND]", "Shows rotplan's commands, or one command's usage and options.")
	if code, ok := fs.parse(args, 0, 1); !ok {
		return code
	}
	if fs.NArg() == 0 {
		usage(m.stdout)
		return exitOK
	}
	c := lookupCommand(fs.Arg(0))
	if c == nil {
		fmt.Fprintf(m.stderr, "rotplan help: unknown command %q.\n\n", fs.Arg(0))
		usage(m.stderr)
		return exitError
	}
	// The command prints its own usage on -help.
	return c.run(m, []string{"-help"})
}

// commandOptions lists each command's options (with their leading dash),
// collected from the commands themselves without running them.
func commandOptions(m *meta) map[string][]string {
	out := map[string][]string{}
	for _, c := range commands {
		var sets []*flagSet
		quiet := *m
		quiet.streams = streams{stdin: m.stdin, stdout: io.Discard, stderr: io.Discard}
		quiet.flagSets = &sets
		c.run(&quiet, nil)
		var names []string
		for _, fs := range sets {
			fs.VisitAll(func(f *flag.Flag) { names = append(names, "-"+f.Name) })
		}
		sort.Strings(names)
		out[c.name] = names
	}
	return out
}

func runCompletion(m *meta, args []string) int {
	fs := newFlagSet(m, "completion SHELL", "Prints a completion script for SHELL: bash, zsh or fish. For example:\n\n  bash: source <(rotplan completion bash)\n  zsh:  source <(rotplan completion zsh)\n  fish: rotplan completion fish | source")
	if code, ok := fs.parse(args, 1, 1); !ok {
		return code
	}
	opts := commandOptions(m)
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	var b bytes.Buffer
	switch fs.Arg(0) {
	case "bash":
		bashCompletion(&b, names, opts)
	case "zsh":
		// zsh runs the bash script through bashcompinit.
		b.WriteString("#compdef rotplan\nautoload -U +X bashcompinit && bashcompinit\n")
		bashCompletion(&b, names, opts)
	case "fish":
		fishCompletion(&b, names, opts)
	default:
		fmt.Fprintf(m.stderr, "rotplan completion: unknown shell %q; choose bash, zsh or fish.\n", fs.Arg(0))
		return exitError
	}
	m.stdout.Write(b.Bytes())
	return exitOK
}

func bashCompletion(b *bytes.Buffer, names []string, opts map[string][]string) {
	fmt.Fprintf(b, `# bash completion for rotplan
_rotplan() {
  local cur cmd i
  cur="${COMP_WORDS[COMP_CWORD]}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      -*) ;;
      *) cmd="${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [[ -z "$cmd" ]]; then
    if [[ "$cur" == -* ]]; then
      COMPREPLY=($(compgen -W "-chdir= -version -help" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "%s" -- "$cur"))
    fi
    return
  fi
  case "$cmd" in
`, strings.Join(names, " "))
	for _, n := range names {
		words := opts[n]
		switch n {
		case "help":
			words = names
		case "completion":
			words = []string{"bash", "zsh", "fish"}
		case "state":
			words = append([]string{"list", "show", "unlock", "abort"}, words...)
		}
		fmt.Fprintf(b, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\")) ;;\n", n, strings.Join(words, " "))
	}
	b.WriteString(`  esac
  if [[ ${#COMPREPLY[@]} -eq 0 && "$cur" != -* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _rotplan rotplan
`)
}

func fishCompletion(b *bytes.Buffer, names []string, opts map[string][]string) {
	b.WriteString("# fish completion for rotplan\ncomplete -c rotplan -f\n")
	b.WriteString("complete -c rotplan -n __fish_use_subcommand -o chdir -r -d 'read the inventory from DIR'\n")
	b.WriteString("complete -c rotplan -n __fish_use_subcommand -o version -d 'print the version'\n")
	for _, c := range commands {
		fmt.Fprintf(b, "complete -c rotplan -n __fish_use_subcommand -a %s -d %s\n", c.name, fishQuote(c.synopsis))
	}
	for _, n := range names {
		for _, o := range opts[n] {
			fmt.Fprintf(b, "complete -c rotplan -n '__fish_seen_subcommand_from %s' -o %s\n", n, strings.TrimPrefix(o, "-"))
		}
	}
	fmt.Fprintf(b, "complete -c rotplan -n '__fish_seen_subcommand_from help' -a %s\n", fishQuote(strings.Join(names, " ")))
	b.WriteString("complete -c rotplan -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'\n")
	b.WriteString("complete -c rotplan -n '__fish_seen_subcommand_from state' -a 'list show unlock abort'\n")
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
