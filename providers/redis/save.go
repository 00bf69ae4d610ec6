package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Save says how a change is saved on each node, so that a restart does not
// undo it.
const (
	// SaveAuto runs ACL SAVE when the server has an ACL file, else CONFIG
	// REWRITE when it has a configuration file, else nothing: a server
	// with neither keeps its users in memory only.
	SaveAuto = "auto"
	// SaveACL runs ACL SAVE, and fails when the server refuses it.
	SaveACL = "acl_save"
	// SaveConfigRewrite runs CONFIG REWRITE, and fails when the server
	// refuses it; in acl mode also when the server keeps its users in an
	// ACL file, which CONFIG REWRITE leaves alone.
	SaveConfigRewrite = "config_rewrite"
	// SaveNone saves nothing: for managed Redis, which forbids both and
	// keeps its users itself, or servers whose configuration is deployed
	// from elsewhere.
	SaveNone = "none"
)

// saveError is a change made on a node that the node did not save.
type saveError struct {
	// command is what was refused: "acl save" or "config rewrite".
	command string
	err     error
}

func (e *saveError) Error() string {
	return fmt.Sprintf("changed in memory but not saved, so a restart would undo it: %s: %v%s", e.command, e.err, saveHint(e.err))
}

func (e *saveError) Unwrap() error { return e.err }

// saveHint ends the error of a change that could not be saved.
func saveHint(err error) string {
	switch msg := err.Error(); {
	case goredis.IsPermissionError(err):
		// write adds what the login needs, and save = "none".
		return ""
	case strings.Contains(msg, "not configured to use an ACL file"):
		return ` (the server has no ACL file: save = "auto" or "config_rewrite" saves to its configuration file)`
	case strings.Contains(msg, "CONFIG REWRITE does not write"):
		return ` (save = "auto" or "acl_save" saves to the ACL file)`
	case strings.Contains(msg, "without a config file"):
		return ` (the server has no configuration file: save = "auto" or "acl_save" saves to its ACL file)`
	}
	return ` (where the server may not save, as on managed Redis, set save = "none")`
}

// saveChange saves a change of passwords on the node c is logged in to, as
// the block's save says.
func (b *targetBlock) saveChange(ctx context.Context, c *goredis.Client) error {
	switch b.save {
	case SaveNone:
		return nil
	case SaveACL:
		if err := c.Do(ctx, "ACL", "SAVE").Err(); err != nil {
			return &saveError{"acl save", err}
		}
		return nil
	case SaveConfigRewrite:
		if b.mode == ModeACL {
			// CONFIG REWRITE leaves users out of the configuration file
			// when the server keeps them in an ACL file.
			res, err := c.ConfigGet(ctx, "aclfile").Result()
			if err != nil {
				return &saveError{"config get aclfile", err}
			}
			if res["aclfile"] != "" {
				return &saveError{"config rewrite", errors.New(`the server keeps its users in an ACL file (aclfile), which CONFIG REWRITE does not write`)}
			}
		}
		if err := c.Do(ctx, "CONFIG", "REWRITE").Err(); err != nil {
			return &saveError{"config rewrite", err}
		}
		return nil
	}
	return persist(ctx, c)
}

// persist is save = "auto": it saves a change of passwords where the
// server keeps its configuration: the ACL file when the server has one (ACL
// SAVE), else its configuration file (CONFIG REWRITE). A server with
// neither keeps everything in memory, and there is nothing to save.
func persist(ctx context.Context, c *goredis.Client) error {
	err := c.Do(ctx, "ACL", "SAVE").Err()
	if err == nil {
		return nil
	}
	// Redis 5 has no ACL command at all.
	if !strings.Contains(err.Error(), "not configured to use an ACL file") && !strings.Contains(strings.ToLower(err.Error()), "unknown command") {
		return &saveError{"acl save", err}
	}
	err = c.Do(ctx, "CONFIG", "REWRITE").Err()
	if err == nil || strings.Contains(err.Error(), "without a config file") {
		return nil
	}
	return &saveError{"config rewrite", err}
}
