package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/rotplan/rotplan/internal/regular"
)

// formatVersion is the version of the file format this package reads and
// writes.
const formatVersion = 1

// document is the store file. V is version for a full read and versionMeta
// when only metadata is wanted, so Inspect never decodes a value.
type document[V any] struct {
	FormatVersion int                  `json:"format_version"`
	Secrets       map[string]*entry[V] `json:"secrets"`
}

// entry is one secret in the file.
type entry[V any] struct {
	Current   *V     `json:"current,omitempty"`
	Pending   *V     `json:"pending,omitempty"`
	Previous  *V     `json:"previous,omitempty"`
	RotatedAt string `json:"rotated_at,omitempty"`
	// Targets holds what the secret's targets asked to record when they
	// were written (a Fly digest), by target address; never a value.
	Targets map[string]string `json:"targets,omitempty"`
}

// version is one version with its value, as written. Failed is set only on
// a pending version whose rotation failed its checks (MarkFailed); a file
// without it reads as before.
type version struct {
	ID          string `json:"id"`
	Value       string `json:"value"`
	CreatedAt   string `json:"created_at"`
	Rotation    string `json:"rotation,omitempty"`
	RetireAfter string `json:"retire_after,omitempty"`
	Failed      bool   `json:"failed,omitempty"`
}

// versionMeta is a version without its value: encoding/json skips the value
// without allocating it.
type versionMeta struct {
	ID          string `json:"id"`
	CreatedAt   string `json:"created_at"`
	Rotation    string `json:"rotation,omitempty"`
	RetireAfter string `json:"retire_after,omitempty"`
	Failed      bool   `json:"failed,omitempty"`
}

// MaxFileSize bounds a store file: reading one is refused past it.
const MaxFileSize = 64 << 20

// openFile opens a store file for reading, without blocking on a named pipe
// and refusing anything but a regular file; tests replace it to count
// reads.
var openFile = func(name string) (*os.File, error) {
	f, _, err := regular.Open(name)
	return f, err
}

// readDocument reads and decodes the store file at path. A missing file is an
// empty store. The file must be accessible to its owner only.
func readDocument[V any](path string) (*document[V], error) {
	src, err := readPrivate(path)
	if err != nil {
		return nil, err
	}
	defer clear(src)
	doc := &document[V]{}
	if len(bytes.TrimSpace(src)) == 0 {
		return doc, nil // missing or empty: no secrets yet
	}
	if err := json.Unmarshal(src, doc); err != nil {
		return nil, decodeError(err)
	}
	switch doc.FormatVersion {
	case formatVersion:
	case 0:
		return nil, errors.New("not a rotplan store file: format_version is missing")
	default:
		return nil, fmt.Errorf("format_version %d is not supported by this version of rotplan, which reads %d; upgrade rotplan", doc.FormatVersion, formatVersion)
	}
	return doc, nil
}

// readPrivate returns the file's bytes, nil if it does not exist. It refuses
// a file that its group or other users can access.
func readPrivate(path string) ([]byte, error) {
	f, err := openFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("refusing to read it: mode %04o lets other users access the secrets in it; restrict it to its owner with: chmod 600 %s",
			perm, shellQuote(path))
	}
	return regular.Read(f, fi, MaxFileSize)
}

// decodeError describes a decoding failure by byte offset only: the errors of
// encoding/json quote the input (a character, a number, a map key, a time),
// and the input holds secret values.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("not valid JSON at byte offset %d; the file is damaged: restore it from a backup", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("unexpected JSON type at byte offset %d; the file is damaged: restore it from a backup", typ.Offset)
	}
	return errors.New("not a valid rotplan store file; the file is damaged: restore it from a backup")
}

// formatTime is how the file records a time: RFC 3339 in UTC, to the second.
func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// parseTime reads a time the file recorded; an empty field is the zero time.
// The error names the field, never its text.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s is not an RFC 3339 time", field)
	}
	return t, nil
}

// shellQuote quotes path for a command line when it needs it.
func shellQuote(path string) string {
	if path != "" && !strings.ContainsAny(path, " \t\n'\"\\$`!#&*()[]{};<>?|~") {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}
