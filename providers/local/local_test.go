package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

const fixture = `{
  "format_version": 1,
  "secrets": {
    "steady": {
      "current": {"id": "a1", "value": "steady-current", "created_at": "2025-01-01T00:00:00Z"},
      "rotated_at": "2025-01-02T03:04:05Z"
    },
    "rotating": {
      "current": {"id": "b1", "value": "rotating-current", "created_at": "2025-02-01T00:00:00Z"},
      "pending": {"id": "b2", "value": "rotating-pending", "created_at": "2025-03-01T00:00:00Z", "rotation": "j-42"}
    },
    "failing": {
      "current": {"id": "e1", "value": "failing-current", "created_at": "2025-02-01T00:00:00Z"},
      "pending": {"id": "e2", "value": "failing-pending", "created_at": "2025-03-01T00:00:00Z", "rotation": "j-43", "failed": true}
    },
    "grace": {
      "current": {"id": "c2", "value": "grace-current", "created_at": "2025-04-02T00:00:00Z"},
      "previous": {"id": "c1", "value": "grace-previous", "created_at": "2025-01-01T00:00:00Z", "retire_after": "2025-04-03T00:00:00Z"},
      "rotated_at": "2025-04-02T00:00:00Z"
    },
    "RENAMED_ENTRY": {
      "current": {"id": "d1", "value": "renamed-current", "created_at": "2025-05-01T00:00:00Z"}
    }
  }
}
`

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// cfg is a decoded store "local" block.
func cfg(path, key string) cty.Value {
	attrs := map[string]cty.Value{"path": cty.StringVal(DefaultPath), "key": cty.NullVal(cty.String)}
	if path != "" {
		attrs["path"] = cty.StringVal(path)
	}
	if key != "" {
		attrs["key"] = cty.StringVal(key)
	}
	return cty.ObjectVal(attrs)
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

// countOpens counts the store files opened until the test ends.
func countOpens(t *testing.T) map[string]int {
	t.Helper()
	counts := map[string]int{}
	open := openFile
	t.Cleanup(func() { openFile = open })
	openFile = func(name string) (*os.File, error) {
		counts[name]++
		return open(name)
	}
	return counts
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, DefaultPath), fixture, 0o600)
	opens := countOpens(t)

	tests := map[string]struct {
		config cty.Value
		want   *providers.StoredSecret // nil: absent
		err    string
	}{
		"steady": {
			config: cfg("", ""),
			want: &providers.StoredSecret{
				Current:   &providers.Version{ID: "a1", CreatedAt: date("2025-01-01T00:00:00Z")},
				RotatedAt: date("2025-01-02T03:04:05Z"),
			},
		},
		"rotating": {
			config: cfg("", ""),
			want: &providers.StoredSecret{
				Current: &providers.Version{ID: "b1", CreatedAt: date("2025-02-01T00:00:00Z")},
				Pending: &providers.Version{ID: "b2", CreatedAt: date("2025-03-01T00:00:00Z"), Rotation: "j-42"},
			},
		},
		"failing": {
			config: cfg("", ""),
			want: &providers.StoredSecret{
				Current: &providers.Version{ID: "e1", CreatedAt: date("2025-02-01T00:00:00Z")},
				Pending: &providers.Version{ID: "e2", CreatedAt: date("2025-03-01T00:00:00Z"), Rotation: "j-43", Failed: true},
			},
		},
		"grace": {
			config: cfg("", ""),
			want: &providers.StoredSecret{
				Current:   &providers.Version{ID: "c2", CreatedAt: date("2025-04-02T00:00:00Z")},
				Previous:  &providers.Version{ID: "c1", CreatedAt: date("2025-01-01T00:00:00Z"), RetireAfter: date("2025-04-03T00:00:00Z")},
				RotatedAt: date("2025-04-02T00:00:00Z"),
			},
		},
		"custom_key": {
			config: cfg("", "RENAMED_ENTRY"),
			want:   &providers.StoredSecret{Current: &providers.Version{ID: "d1", CreatedAt: date("2025-05-01T00:00:00Z")}},
		},
		"no_config_uses_defaults": {
			config: cty.NilVal,
			want:   nil, // the name is not in the file
		},
		"absent_from_file":   {config: cfg("", "")},
		"missing_file":       {config: cfg("elsewhere/none.store", "steady")},
		"missing_file_again": {config: cfg("elsewhere/none.store", "grace")},
		"unknown_path": {
			config: cty.ObjectVal(map[string]cty.Value{"path": cty.UnknownVal(cty.String), "key": cty.NullVal(cty.String)}),
			err:    "path is not known",
		},
	}

	var refs []providers.SecretRef
	for name, tc := range tests {
		refs = append(refs, providers.SecretRef{Name: name, Config: tc.config})
	}
	s, err := New(providers.Settings{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Inspect(context.Background(), providers.InspectRequest{Secrets: refs})
	if err != nil {
		t.Fatal(err)
	}

	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := resp.Secrets[name]
			if tc.err != "" {
				if got == nil || got.Err == nil || !strings.Contains(got.Err.Error(), tc.err) {
					t.Fatalf("got %+v, want error containing %q", got, tc.err)
				}
				return
			}
			if got != nil && got.Err != nil {
				t.Fatalf("unexpected error: %v", got.Err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %s, want %s", dump(got), dump(tc.want))
			}
		})
	}
	want := map[string]int{filepath.Join(dir, DefaultPath): 1, filepath.Join(dir, "elsewhere/none.store"): 1}
	if !reflect.DeepEqual(opens, want) {
		t.Errorf("files opened %v, want each once: %v", opens, want)
	}
}

func dump(s *providers.StoredSecret) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, DefaultPath), fixture, 0o600)

	secrets := []providers.SecretRef{
		{Name: "steady", Config: cfg("", "")},
		{Name: "rotating", Config: cfg("", "")},
		{Name: "grace", Config: cfg(filepath.Join(dir, DefaultPath), "")}, // an absolute path
		{Name: "custom", Config: cfg("", "RENAMED_ENTRY")},
		{Name: "absent", Config: cfg("", "")},
		{Name: "missing_file", Config: cfg("none.store", "steady")},
	}
	tests := map[string]struct {
		slot providers.Slot
		want map[string]string
	}{
		"current": {
			slot: providers.SlotCurrent,
			want: map[string]string{"steady": "steady-current", "rotating": "rotating-current", "grace": "grace-current", "custom": "renamed-current"},
		},
		"pending": {
			slot: providers.SlotPending,
			want: map[string]string{"rotating": "rotating-pending"},
		},
		"previous": {
			slot: providers.SlotPrevious,
			want: map[string]string{"grace": "grace-previous"},
		},
	}
	s := &Store{dir: dir}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opens := countOpens(t)
			resp, err := s.Read(context.Background(), providers.ReadRequest{Secrets: secrets, Slot: tc.slot})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Errors) > 0 {
				t.Fatalf("errors: %v", resp.Errors)
			}
			got := map[string]string{}
			for k, v := range resp.Values {
				got[k] = v.Reveal()
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			want := map[string]int{filepath.Join(dir, DefaultPath): 1, filepath.Join(dir, "none.store"): 1}
			if !reflect.DeepEqual(opens, want) {
				t.Errorf("files opened %v, want each once: %v", opens, want)
			}
		})
	}
}

const canary = "canary-5e1f0a77"

func TestPermissions(t *testing.T) {
	content := strings.Replace(fixture, "steady-current", canary, 1)
	tests := map[string]struct {
		mode   os.FileMode
		refuse bool
	}{
		"0600": {mode: 0o600},
		"0400": {mode: 0o400},
		"0700": {mode: 0o700},
		"0644": {mode: 0o644, refuse: true},
		"0640": {mode: 0o640, refuse: true},
		"0604": {mode: 0o604, refuse: true},
		"0660": {mode: 0o660, refuse: true},
		"0602": {mode: 0o602, refuse: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, DefaultPath)
			writeFile(t, path, content, tc.mode)
			s := &Store{dir: dir}
			refs := []providers.SecretRef{{Name: "steady", Config: cfg("", "")}}

			ins, err := s.Inspect(context.Background(), providers.InspectRequest{Secrets: refs})
			if err != nil {
				t.Fatal(err)
			}
			read, err := s.Read(context.Background(), providers.ReadRequest{Secrets: refs})
			if err != nil {
				t.Fatal(err)
			}
			_, openErr := Open(path)
			updateErr := Update(path, func(*File) error { return nil })

			errs := map[string]error{"inspect": ins.Secrets["steady"].Err, "read": read.Errors["steady"], "open": openErr, "update": updateErr}
			for via, err := range errs {
				if !tc.refuse {
					if err != nil {
						t.Errorf("%s: %v", via, err)
					}
					continue
				}
				if err == nil {
					t.Errorf("%s: a %s file was read", via, name)
					continue
				}
				msg := err.Error()
				for _, want := range []string{path, "mode " + name, "chmod 600 " + path} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: error %q does not say %q", via, msg, want)
					}
				}
				if strings.Contains(msg, canary) {
					t.Errorf("%s: error leaks the value: %s", via, msg)
				}
			}
			if !tc.refuse && read.Values["steady"].Reveal() != canary {
				t.Errorf("read %q", read.Values["steady"].Reveal())
			}
		})
	}
}

func TestCorruptFile(t *testing.T) {
	tests := map[string]struct {
		content string
		// inspectOnly: the damage is in metadata that only Inspect parses.
		inspectOnly bool
		want        string
	}{
		"truncated": {
			content: `{"format_version": 1, "secrets": {"a": {"current": {"id": "x", "value": "` + canary,
			want:    "not valid JSON at byte offset",
		},
		"bare_word": {
			content: `{"format_version": 1, "secrets": {"a": {"current": {"id": "x", "value": ` + canary + `}}}}`,
			want:    "not valid JSON at byte offset 73",
		},
		"number_for_string": {
			content: `{"format_version": 1, "secrets": {"a": {"current": {"id": 5e1077, "value": "x"}}}}`,
			want:    "unexpected JSON type at byte offset",
		},
		"value_as_map_key": {
			content: `{"format_version": 1, "secrets": {"a": {"current": {"id": "x", "value": "y"}}, "` + canary + `": 7}}`,
			want:    "unexpected JSON type at byte offset",
		},
		"trailing_garbage": {
			content: `{"format_version": 1, "secrets": {}} ` + canary,
			want:    "not valid JSON",
		},
		"bad_time": {
			content:     `{"format_version": 1, "secrets": {"a": {"current": {"id": "x", "value": "y", "created_at": "` + canary + `"}}}}`,
			inspectOnly: true,
			want:        "current.created_at is not an RFC 3339 time",
		},
		"no_format_version": {
			content: `{"secrets": {"a": {"current": {"id": "x", "value": "` + canary + `"}}}}`,
			want:    "format_version is missing",
		},
		"newer_format": {
			content: `{"format_version": 2, "secrets": {"a": {"current": {"id": "x", "value": "` + canary + `"}}}}`,
			want:    "format_version 2 is not supported",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, DefaultPath)
			writeFile(t, path, tc.content, 0o600)
			s := &Store{dir: dir}
			refs := []providers.SecretRef{{Name: "a", Config: cfg("", "")}}
			ins, err := s.Inspect(context.Background(), providers.InspectRequest{Secrets: refs})
			if err != nil {
				t.Fatal(err)
			}
			read, err := s.Read(context.Background(), providers.ReadRequest{Secrets: refs})
			if err != nil {
				t.Fatal(err)
			}
			_, openErr := Open(path)
			errs := map[string]error{"inspect": ins.Secrets["a"].Err, "read": read.Errors["a"], "open": openErr}
			if tc.inspectOnly {
				if read.Errors["a"] != nil || openErr != nil {
					t.Errorf("read: %v, open: %v; want no error", read.Errors["a"], openErr)
				}
				errs = map[string]error{"inspect": errs["inspect"]}
			}
			// What encoding/json would have said, which quotes the input.
			var v any
			jsonErr := json.Unmarshal([]byte(tc.content), &v)
			for via, err := range errs {
				if err == nil {
					t.Errorf("%s: no error", via)
					continue
				}
				msg := err.Error()
				if !strings.Contains(msg, tc.want) || !strings.Contains(msg, path) {
					t.Errorf("%s: error %q, want it to name %s and say %q", via, msg, path, tc.want)
				}
				if strings.Contains(msg, canary) || strings.Contains(msg, "5e1077") {
					t.Errorf("%s: error leaks the file's content: %s", via, msg)
				}
				if jsonErr != nil && strings.Contains(msg, jsonErr.Error()) {
					t.Errorf("%s: error passes on encoding/json's text: %s", via, msg)
				}
			}
		})
	}
}

func TestEmptyFileIsEmptyStore(t *testing.T) {
	for name, content := range map[string]string{"zero_bytes": "", "whitespace": " \n"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, DefaultPath), content, 0o600)
			resp, err := (&Store{dir: dir}).Inspect(context.Background(), providers.InspectRequest{Secrets: []providers.SecretRef{{Name: "a"}}})
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := resp.Secrets["a"]; ok {
				t.Fatalf("got %s, want no secret", dump(got))
			}
		})
	}
}

func TestInspectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&Store{dir: t.TempDir()}).Inspect(ctx, providers.InspectRequest{Secrets: []providers.SecretRef{{Name: "a"}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestSpec(t *testing.T) {
	tests := map[string]struct {
		body string
		want cty.Value
		diag string
	}{
		"defaults": {
			body: ``,
			want: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("rotplan.store"), "key": cty.NullVal(cty.String)}),
		},
		"both": {
			body: "path = \"secrets/prod.store\"\nkey = \"DB\"\n",
			want: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal("secrets/prod.store"), "key": cty.StringVal("DB")}),
		},
		"empty_path": {body: `path = ""`, diag: "Empty path"},
		"empty_key":  {body: `key = ""`, diag: "Empty key"},
		"unknown":    {body: `colour = "red"`, diag: "Unsupported argument"},
		"not_string": {body: `path = ["a"]`, diag: "Incorrect attribute value type"},
	}
	r := providers.NewRegistry()
	Register(r)
	schema, ok := r.Schema(config.KindStore, "local")
	if !ok || schema.NotImplemented {
		t.Fatalf("local store not registered: %v %+v", ok, schema)
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, diags := hclsyntax.ParseConfig([]byte(tc.body), "test.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, diags := hcldec.Decode(f.Body, schema.Spec, nil)
			if tc.diag != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.diag) {
					t.Fatalf("diagnostics %v, want %q", diags, tc.diag)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !got.RawEquals(tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestRegisteredFactory(t *testing.T) {
	r := providers.NewRegistry()
	Register(r)
	dir := t.TempDir()
	f, err := Open(filepath.Join(dir, DefaultPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Put("db", sensitive.New("v1"), date("2025-01-01T00:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	s, err := r.NewStore("local", providers.Settings{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Read(context.Background(), providers.ReadRequest{Secrets: []providers.SecretRef{{Name: "db"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Values["db"].Reveal(); got != "v1" {
		t.Fatalf("read %q through the registry, want v1", got)
	}
}

// Many secrets in one file: one decode per call, no per-secret reads.
func BenchmarkInspect10k(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, DefaultPath)
	refs := make([]providers.SecretRef, 10000)
	err := Update(path, func(f *File) error {
		for i := range refs {
			refs[i] = providers.SecretRef{Name: fmt.Sprintf("secret_%05d", i)}
			if err := f.Put(refs[i].Name, sensitive.New(strings.Repeat("x", 40)), time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	s := &Store{dir: dir}
	b.Run("inspect", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Inspect(context.Background(), providers.InspectRequest{Secrets: refs}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Read(context.Background(), providers.ReadRequest{Secrets: refs}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
