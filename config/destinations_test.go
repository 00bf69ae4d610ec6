package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers/builtin"
)

// load loads src as secrets.hcl of dir while validating, with env
// returning what vars hold.
func load(t *testing.T, dir, src string, vars map[string]string) (*config.Inventory, hcl.Diagnostics) {
	t.Helper()
	return config.Load(dir, map[string][]byte{"secrets.hcl": []byte(src)}, config.Options{
		Schemas: builtin.Registry(),
		Mode:    config.ModeValidate,
		LookupEnv: func(name string) (string, bool) {
			v, ok := vars[name]
			return v, ok
		},
	})
}

// envFileSecrets declares secrets a and b, each with an env_file target
// writing key K of the given path.
func envFileSecrets(pathA, pathB string) string {
	return `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path = "` + pathA + `"
    key  = "K"
  }
}

secret "b" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path = "` + pathB + `"
    key  = "K"
  }
}
`
}

// TestDestinationFilesNormalised writes key K of one file from two secrets,
// the second spelling the path another way, and expects both blocks to
// name the same normalised file and the second to be refused.
func TestDestinationFilesNormalised(t *testing.T) {
	cases := map[string]struct {
		path   string
		exists bool // x.env is there before loading
	}{
		"same spelling":                {path: "x.env"},
		"dot slash":                    {path: "./x.env"},
		"dot slash, file exists":       {path: "./x.env", exists: true},
		"through a parent":             {path: "sub/../x.env"},
		"through a parent, file there": {path: "sub/../x.env", exists: true},
		"absolute":                     {path: "$DIR/x.env"},
		"absolute, file exists":        {path: "$DIR/x.env", exists: true},
		"symlink to the file":          {path: "link.env", exists: true},
		"through a symlinked dir":      {path: "linkdir/x.env"},
		"absolute through the real dir of a symlinked inventory dir": {path: "$REAL/x.env"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			real := t.TempDir()
			if resolved, err := filepath.EvalSymlinks(real); err == nil {
				real = resolved
			}
			// The inventory directory is reached through a symbolic link.
			dir := filepath.Join(t.TempDir(), "inventory")
			if err := os.Symlink(real, dir); err != nil {
				t.Skip("no symbolic links here:", err)
			}
			if err := os.Mkdir(filepath.Join(real, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.exists {
				if err := os.WriteFile(filepath.Join(real, "x.env"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink("x.env", filepath.Join(real, "link.env")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, filepath.Join(real, "linkdir")); err != nil {
				t.Fatal(err)
			}
			path := strings.NewReplacer("$DIR", dir, "$REAL", real).Replace(tc.path)

			inv, diags := load(t, dir, envFileSecrets("x.env", path), nil)
			want := filepath.Join(real, "x.env")
			for _, s := range inv.Secrets {
				if got := s.Targets[0].Destinations; len(got) != 1 || got[0] != (config.Destination{File: want, Key: "K"}) {
					t.Errorf("%s writes %+v, want %s key K", s.Address(), got, want)
				}
			}
			if len(diags) != 1 || diags[0].Summary != "Two blocks write the same place" {
				t.Fatalf("diagnostics: %v, want one saying two blocks write the same place", diags)
			}
			d := diags[0]
			if d.Subject == nil || d.Subject.Start.Line != 14 {
				t.Errorf("subject %v, want the second block, line 14", d.Subject)
			}
			for _, part := range []string{"secret.b target.env_file.app", "secret.a target.env_file.app at secrets.hcl:5:3", `"K" in file ` + want} {
				if !strings.Contains(d.Detail, part) {
					t.Errorf("detail %q does not say %q", d.Detail, part)
				}
			}
		})
	}
}

// TestDestinations pins which blocks collide: the same place through
// different block types, attributes and secrets, and places that only
// look alike.
func TestDestinations(t *testing.T) {
	const fly = `
provider "fly" {
  api_token = "t"
}
`
	cases := map[string]struct {
		src  string
		vars map[string]string
		// collides names the second block's address when the inventory
		// must be refused.
		collides string
	}{
		"different keys of one env file": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path = "x.env"
    key  = "A"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path = "./x.env"
    key  = "B"
  }
}`,
		},
		"one key of different env files": {src: envFileSecrets("x.env", "y.env")},
		"two targets of one secret": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path = "x.env"
    key  = "K"
  }
  target "env_file" "worker" {
    path = "x.env"
    key  = "K"
  }
}`,
			collides: "secret.a target.env_file.worker",
		},
		"a key that is another block's previous_key": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path         = "x.env"
    key          = "A"
    previous_key = "A_PREVIOUS"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path = "x.env"
    key  = "A_PREVIOUS"
  }
}`,
			collides: "secret.b target.env_file.app",
		},
		"a path from an unset env() is not known while validating": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path = env("APP_ENV")
    key  = "K"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path = "x.env"
    key  = "K"
  }
}`,
		},
		"a path from a set env()": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path = env("APP_ENV")
    key  = "K"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path = "x.env"
    key  = "K"
  }
}`,
			vars:     map[string]string{"APP_ENV": "./x.env"},
			collides: "secret.b target.env_file.app",
		},
		"a local store key that is another secret's name": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
}
secret "b" {
  frequency = "90d"
  store "local" {
    key = "a"
  }
  generate "password" {}
}`,
			collides: "secret.b store.local",
		},
		"one local store key in different files": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
}
secret "b" {
  frequency = "90d"
  store "local" {
    path = "other.store"
    key  = "a"
  }
  generate "password" {}
}`,
		},
		"a local store file named two ways": {
			src: `
secret "a" {
  frequency = "90d"
  store "local" {
    path = "s/../rotplan.store"
    key  = "k"
  }
  generate "password" {}
}
secret "b" {
  frequency = "90d"
  store "local" {
    key = "k"
  }
  generate "password" {}
}`,
			collides: "secret.b store.local",
		},
		"one fly app secret": {
			src: fly + `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "fly" "web" {
    app = "web"
    key = "K"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "fly" "web" {
    app          = "web"
    key          = "B"
    previous_key = "K"
  }
}`,
			collides: "secret.b target.fly.web",
		},
		"one key of different fly apps": {
			src: fly + `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "fly" "web" {
    app = "web"
    key = "K"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "fly" "api" {
    app = "api"
    key = "K"
  }
}`,
		},
		"a fly app secret and an env var of the same name": {
			src: fly + `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "fly" "web" {
    app = "web"
    key = "K"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "web" {
    path = "web"
    key  = "K"
  }
}`,
		},
		"one redis user": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "redis" "cache" {
    address  = "Cache.internal:6379"
    username = "app"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "redis" "cache" {
    address  = "cache.internal:6379"
    username = "app"
  }
}`,
			collides: "secret.b target.redis.cache",
		},
		"requirepass and the default user": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "redis" "cache" {
    address = "127.0.0.1:6379"
    mode    = "requirepass"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "redis" "cache" {
    address = "127.0.0.1:6379"
  }
}`,
			collides: "secret.b target.redis.cache",
		},
		"two redis users": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "redis" "cache" {
    address  = "127.0.0.1:6379"
    username = "app"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "redis" "cache" {
    address  = "127.0.0.1:6379"
    username = "worker"
  }
}`,
		},
		"one postgres role": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "postgres" "db" {
    admin_dsn = "postgres://admin@DB.internal:5432/app"
    role      = "app"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "postgres" "db" {
    admin_dsn = "host=db.internal port=5432 user=admin dbname=other"
    strategy       = "alternating"
    role           = "blue"
    alternate_role = "app"
  }
}`,
			collides: "secret.b target.postgres.db",
		},
		"one postgres role on servers not known while validating": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "postgres" "db" {
    admin_dsn = env("PG_ADMIN_DSN")
    role      = "app"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "postgres" "db" {
    admin_dsn = env("PG_ADMIN_DSN")
    role      = "app"
  }
}`,
		},
		"one postgres role on two servers": {
			src: `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "postgres" "db" {
    admin_dsn = "postgres://admin@db1.internal:5432/app"
    role      = "app"
  }
}
secret "b" {
  frequency = "90d"
  generate "password" {}
  target "postgres" "db" {
    admin_dsn = "postgres://admin@db1.internal:5433/app"
    role      = "app"
  }
}`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, diags := load(t, t.TempDir(), tc.src, tc.vars)
			if tc.collides == "" {
				if diags.HasErrors() {
					t.Fatal(diags.Error())
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary != "Two blocks write the same place" {
				t.Fatalf("diagnostics: %v, want one saying two blocks write the same place", diags)
			}
			if !strings.HasPrefix(diags[0].Detail, tc.collides+" writes ") {
				t.Errorf("detail %q does not start with the second block, %s", diags[0].Detail, tc.collides)
			}
		})
	}
}

// TestBlockDestinations pins what loading stores on each block.
func TestBlockDestinations(t *testing.T) {
	dir := t.TempDir()
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	inv, diags := load(t, dir, `
provider "fly" {
  api_token = "t"
}
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path         = "deploy/app.env"
    key          = "A"
    previous_key = "A_OLD"
  }
  target "fly" "web" {
    app = env("FLY_APP")
    key = "A"
  }
  target "redis" "cache" {
    address = "127.0.0.1:6379"
  }
}`, nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	s := inv.Secret("a")
	want := map[string][]config.Destination{
		"store.local": {{File: filepath.Join(dir, "rotplan.store"), Key: "a"}},
		"target.env_file.app": {
			{File: filepath.Join(dir, "deploy", "app.env"), Key: "A"},
			{File: filepath.Join(dir, "deploy", "app.env"), Key: "A_OLD"},
		},
		"target.fly.web":     nil, // the app is not known while validating
		"target.redis.cache": {{Resource: "redis 127.0.0.1:6379", Key: "default"}},
	}
	for _, b := range append([]*config.Block{s.Store}, s.Targets...) {
		got := b.Destinations
		if len(got) != len(want[b.Address()]) {
			t.Errorf("%s writes %+v, want %+v", b.Address(), got, want[b.Address()])
			continue
		}
		for i := range got {
			if got[i] != want[b.Address()][i] {
				t.Errorf("%s writes %+v, want %+v", b.Address(), got, want[b.Address()])
			}
		}
	}
}

// TestBlockWritingOnePlaceTwice pins that a block naming one place twice is
// reported once, by its type's own check, not as two blocks.
func TestBlockWritingOnePlaceTwice(t *testing.T) {
	_, diags := load(t, t.TempDir(), `
secret "a" {
  frequency = "90d"
  generate "password" {}
  target "env_file" "app" {
    path         = "x.env"
    key          = "K"
    previous_key = "K"
  }
}`, nil)
	if len(diags) != 1 || diags[0].Summary != "previous_key is the same as key" || diags[0].Subject == nil {
		t.Fatalf("diagnostics: %v, want one saying previous_key is the same as key", diags)
	}
}
