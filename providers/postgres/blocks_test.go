package postgres

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestDecodeBlocks(t *testing.T) {
	obj := func(attrs map[string]cty.Value) cty.Value { return cty.ObjectVal(attrs) }
	target := func(dsn, role cty.Value) cty.Value {
		return obj(map[string]cty.Value{"admin_dsn": dsn, "role": role, "strategy": cty.StringVal("single"), "alternate_role": cty.NullVal(cty.String)})
	}
	tests := map[string]struct {
		config  cty.Value
		verify  bool
		wantErr string
	}{
		"target":                  {config: target(cty.StringVal("postgres://db/app"), cty.StringVal("app"))},
		"target marked":           {config: target(cty.StringVal("postgres://db/app").Mark("sensitive"), cty.StringVal("app"))},
		"target env unset":        {config: target(cty.UnknownVal(cty.String), cty.StringVal("app")), wantErr: `postgres role "app": admin_dsn is not known yet`},
		"target empty role":       {config: target(cty.StringVal("postgres://db/app"), cty.StringVal("")), wantErr: "role must be a role name"},
		"target NUL in role":      {config: target(cty.StringVal("postgres://db/app"), cty.StringVal("a\x00b")), wantErr: "role must be a role name"},
		"target null":             {config: cty.NullVal(cty.DynamicPseudoType), wantErr: "not known yet"},
		"verify":                  {verify: true, config: obj(map[string]cty.Value{"dsn": cty.StringVal("postgres://db/app"), "query": cty.StringVal("SELECT 1")})},
		"verify dsn not known":    {verify: true, config: obj(map[string]cty.Value{"dsn": cty.UnknownVal(cty.String), "query": cty.StringVal("SELECT 1")}), wantErr: "dsn is not known yet"},
		"verify default query":    {verify: true, config: obj(map[string]cty.Value{"dsn": cty.StringVal("postgres://db/app"), "query": cty.NullVal(cty.String)})},
		"verify empty dsn":        {verify: true, config: obj(map[string]cty.Value{"dsn": cty.StringVal(""), "query": cty.NullVal(cty.String)}), wantErr: "dsn is empty"},
		"verify marked canary":    {verify: true, config: obj(map[string]cty.Value{"dsn": cty.StringVal("postgres://app:canary-1d2c@db/app").Mark("sensitive"), "query": cty.NullVal(cty.String)})},
		"verify query not string": {verify: true, config: obj(map[string]cty.Value{"dsn": cty.StringVal("x"), "query": cty.NumberIntVal(1)}), wantErr: "query must be a string"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var err error
			if tc.verify {
				var query string
				_, query, err = decodeVerify(tc.config)
				if err == nil && query == "" {
					t.Errorf("no query, want the default")
				}
			} else {
				_, err = decodeBlock(tc.config)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "canary") {
				t.Errorf("the error quotes the value")
			}
		})
	}
}
