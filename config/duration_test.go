package config

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		"days":            {in: "90d", want: 90 * Day},
		"hours":           {in: "24h", want: 24 * time.Hour},
		"year":            {in: "1y", want: 365 * Day},
		"weeks":           {in: "2w", want: 14 * Day},
		"compound":        {in: "1d12h", want: 36 * time.Hour},
		"minutes seconds": {in: "5m30s", want: 330 * time.Second},
		"empty":           {in: "", wantErr: true},
		"no unit":         {in: "90", wantErr: true},
		"unknown unit":    {in: "90x", wantErr: true},
		"go style":        {in: "1.5h", wantErr: true},
		"negative":        {in: "-1d", wantErr: true},
		"space":           {in: "90 d", wantErr: true},
		"overflow":        {in: "999999999999y", wantErr: true},
		"overflow sum":    {in: "292y292y", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseDuration(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("ParseDuration(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	for in, want := range map[time.Duration]string{
		90 * Day:                "90d",
		24 * time.Hour:          "1d",
		6 * time.Hour:           "6h",
		Year:                    "1y",
		14 * Day:                "2w",
		10 * Day:                "10d",
		36 * time.Hour:          "1d12h",
		0:                       "0s",
		-3 * Day:                "-3d",
		1500 * time.Millisecond: "1s500ms",
	} {
		if got := FormatDuration(in); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", in, got, want)
		}
	}
}
