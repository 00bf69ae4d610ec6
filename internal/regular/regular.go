package regular

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is the error for a path that names a directory, a named
// pipe, a device or a socket.
var ErrNotRegular = errors.New("not a regular file")

// TooLargeError is the error for a file bigger than a reader's limit.
type TooLargeError struct {
	// Size is the file's size, or a lower bound when it reports none.
	Size  int64
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("larger than the limit of %s", FormatSize(e.Limit))
}

// Open opens path for reading without blocking on a named pipe, and returns
// the file only if it is a regular file: otherwise a *fs.PathError wrapping
// ErrNotRegular. Symbolic links are followed.
func Open(path string) (*os.File, fs.FileInfo, error) {
	f, err := openNonblocking(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return f, fi, nil
}

// ReadFile reads the regular file at path, at most limit bytes: a larger
// file is a *TooLargeError (wrapped in a *fs.PathError).
func ReadFile(path string, limit int64) ([]byte, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f, fi, path, limit)
}

// Read reads f, opened by Open with fi its FileInfo, at most limit bytes,
// for a reader that checks more than Open does before it reads.
func Read(f *os.File, fi fs.FileInfo, limit int64) ([]byte, error) {
	return read(f, fi, f.Name(), limit)
}

func read(f *os.File, fi fs.FileInfo, path string, limit int64) ([]byte, error) {
	if size := fi.Size(); size > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &TooLargeError{Size: size, Limit: limit}}
	}
	// The size Stat reports is a hint: the file may have grown, and files
	// under /proc report 0. Read one byte past the limit to tell.
	b := make([]byte, 0, min(fi.Size(), limit)+1)
	b, err := readAll(io.LimitReader(f, limit+1), b)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &TooLargeError{Size: int64(len(b)), Limit: limit}}
	}
	return b, nil
}

// readAll is io.ReadAll into b's spare capacity.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// FormatSize writes a byte count the way limits are documented: 4 MiB,
// 512 KiB, 100 bytes.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
