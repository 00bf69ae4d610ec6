//go:build !unix

package local

import "errors"

func lockFile(string) (func(), error) {
	return nil, errors.New("file locking is not supported on this system")
}
