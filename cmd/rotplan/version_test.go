package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionFromBuildInfo(t *testing.T) {
	tests := map[string]struct {
		info debug.BuildInfo
		want string
	}{
		"go install of a tag": {
			info: debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}},
			want: "v0.3.1",
		},
		"go build in a clean checkout": {
			info: debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "1fb7935c1a2b3c4d5e6f"}, {Key: "vcs.modified", Value: "false"},
			}},
			want: "0.1.0-dev+1fb7935c1a2b",
		},
		"go build with changes": {
			info: debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "1fb7935c1a2b3c4d5e6f"}, {Key: "vcs.modified", Value: "true"},
			}},
			want: "0.1.0-dev+1fb7935c1a2b.dirty",
		},
		"a test binary": {
			info: debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: "0.1.0-dev",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := versionFrom(&tt.info); got != tt.want {
				t.Errorf("version = %q, want %q", got, tt.want)
			}
		})
	}
}
