package regular_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotplan/rotplan/internal/regular"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", 11)), 0o600); err != nil {
		t.Fatal(err)
	}
	exact := filepath.Join(dir, "exact")
	if err := os.WriteFile(exact, []byte(strings.Repeat("x", 10)), 0o600); err != nil {
		t.Fatal(err)
	}

	for name, tc := range map[string]struct {
		path       string
		want       string
		notRegular bool
		tooLarge   bool
		notExist   bool
	}{
		"small":          {path: small, want: "hello"},
		"at the limit":   {path: exact, want: strings.Repeat("x", 10)},
		"over the limit": {path: big, tooLarge: true},
		"directory":      {path: dir, notRegular: true},
		"missing":        {path: filepath.Join(dir, "nope"), notExist: true},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := regular.ReadFile(tc.path, 10)
			var tooLarge *regular.TooLargeError
			switch {
			case tc.notRegular:
				if !errors.Is(err, regular.ErrNotRegular) {
					t.Fatalf("err = %v, want ErrNotRegular", err)
				}
			case tc.tooLarge:
				if !errors.As(err, &tooLarge) || tooLarge.Limit != 10 {
					t.Fatalf("err = %v, want a TooLargeError with limit 10", err)
				}
			case tc.notExist:
				if !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("err = %v, want ErrNotExist", err)
				}
			default:
				if err != nil || string(b) != tc.want {
					t.Fatalf("ReadFile = %q, %v; want %q", b, err, tc.want)
				}
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{
		4 << 20:   "4 MiB",
		512 << 10: "512 KiB",
		100:       "100 bytes",
		1<<20 + 1: "1048577 bytes",
	} {
		if got := regular.FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
