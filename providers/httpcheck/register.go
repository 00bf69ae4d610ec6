package httpcheck

import (
	"fmt"
	"math/big"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// Defaults of verify "http".
const (
	DefaultMethod       = "GET"
	DefaultExpectStatus = 200
	DefaultInterval     = "5s"
	DefaultTimeout      = "2m"
)

// verifySpec is verify "http".
var verifySpec = &hcldec.ValidateSpec{
	Wrapped: hcldec.ObjectSpec{
		// url is the http or https URL to call.
		"url": &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "url", Type: cty.String, Required: true},
			Func:    validateURL,
		},
		// method is the HTTP method, GET by default.
		"method": &hcldec.DefaultSpec{
			Primary: &hcldec.ValidateSpec{
				Wrapped: &hcldec.AttrSpec{Name: "method", Type: cty.String},
				Func:    validateMethod,
			},
			Default: &hcldec.LiteralSpec{Value: cty.StringVal(DefaultMethod)},
		},
		// headers are sent with the request, for example
		// { Authorization = "Bearer ${secret.api_token.value}" }.
		"headers": &hcldec.DefaultSpec{
			Primary: &hcldec.AttrSpec{Name: "headers", Type: cty.Map(cty.String)},
			Default: &hcldec.LiteralSpec{Value: cty.MapValEmpty(cty.String)},
		},
		// body is the request body, for a POST such as an OAuth token
		// request; set a Content-Type header to match.
		"body": &hcldec.AttrSpec{Name: "body", Type: cty.String},
		// expect_status is the status code that passes, 200 by default.
		"expect_status": &hcldec.DefaultSpec{
			Primary: &hcldec.ValidateSpec{
				Wrapped: &hcldec.AttrSpec{Name: "expect_status", Type: cty.Number},
				Func:    validateStatus,
			},
			Default: &hcldec.LiteralSpec{Value: cty.NumberIntVal(DefaultExpectStatus)},
		},
		// json_path, when set, reads the response as JSON and requires the
		// value at this dotted path ("components.postgres", "items.0.id")
		// to exist and not be null or false.
		"json_path": &hcldec.ValidateSpec{
			Wrapped: &hcldec.AttrSpec{Name: "json_path", Type: cty.String},
			Func:    validateJSONPath,
		},
		// expect_value, when set, requires the value at json_path to equal
		// it: a JSON string as is, a number or boolean as written in JSON.
		"expect_value": &hcldec.AttrSpec{Name: "expect_value", Type: cty.String},
		// interval is the wait between attempts, 5s by default.
		"interval": &hcldec.DefaultSpec{
			Primary: &hcldec.ValidateSpec{
				Wrapped: &hcldec.AttrSpec{Name: "interval", Type: cty.String},
				Func:    validateDuration,
			},
			Default: &hcldec.LiteralSpec{Value: cty.StringVal(DefaultInterval)},
		},
		// timeout is how long to keep trying before the check fails, 2m by
		// default: long enough for an app to restart with the new value.
		"timeout": &hcldec.DefaultSpec{
			Primary: &hcldec.ValidateSpec{
				Wrapped: &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
				Func:    validateDuration,
			},
			Default: &hcldec.LiteralSpec{Value: cty.StringVal(DefaultTimeout)},
		},
	},
	Func: validateCheck,
}

// Register adds this package's block types to r.
func Register(r *providers.Registry) {
	r.Verifier("http", config.BlockSchema{Spec: verifySpec}, func(s providers.Settings) (providers.Verifier, error) {
		return New(s)
	})
}

// The checks below never quote the value they reject: once apply knows
// the secrets' values, an attribute may be made from one, and the
// diagnostic's range points at the attribute anyway. They unmark the value
// first, since apply may mark such values and a marked value cannot be read.

func validateURL(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	u, err := url.Parse(v.AsString())
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid URL",
		Detail:   "url is an http or https URL, such as \"https://api.example.com/health\".",
	}}
}

var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func validateMethod(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	for _, m := range methods {
		if v.AsString() == m {
			return nil
		}
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid method",
		Detail:   fmt.Sprintf("method is one of %s, in capitals.", strings.Join(methods, ", ")),
	}}
}

func validateStatus(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	bf := v.AsBigFloat()
	if bf.IsInt() && bf.Cmp(big.NewFloat(100)) >= 0 && bf.Cmp(big.NewFloat(599)) <= 0 {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid expect_status",
		Detail:   "expect_status is a whole HTTP status code from 100 to 599, such as 200 or 204.",
	}}
}

func validateJSONPath(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	path := v.AsString()
	var problem string
	switch {
	case strings.HasPrefix(path, "$") || strings.HasPrefix(path, "."):
		problem = "it starts with \"$\" or \".\""
	case strings.ContainsAny(path, "[]*"):
		problem = "it uses brackets or wildcards"
	default:
		for _, seg := range strings.Split(path, ".") {
			if seg == "" {
				problem = "it has an empty segment"
			}
		}
	}
	if problem == "" {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid json_path",
		Detail:   fmt.Sprintf("This is not a json_path: %s. A json_path is object keys and array indexes joined by dots, such as \"components.postgres\" or \"items.0.id\" (jq's .components.postgres without the leading dot).", problem),
	}}
}

func validateDuration(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	d, err := config.ParseDuration(v.AsString())
	if err == nil && d > 0 {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid duration",
		Detail:   "A duration is one or more whole numbers, each followed by a unit s, m, h or d, and more than zero: such as \"5s\", \"2m\" or \"1m30s\".",
	}}
}

// validateCheck checks the attributes that go together.
func validateCheck(v cty.Value) hcl.Diagnostics {
	v, _ = v.UnmarkDeep()
	var diags hcl.Diagnostics
	if path, want := v.GetAttr("json_path"), v.GetAttr("expect_value"); path.IsNull() && !want.IsNull() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "expect_value without json_path",
			Detail:   `expect_value is compared with the response's value at json_path; add json_path, such as json_path = "status".`,
		})
	}
	interval, timeout := v.GetAttr("interval"), v.GetAttr("timeout")
	if interval.IsKnown() && timeout.IsKnown() {
		i, err1 := config.ParseDuration(interval.AsString())
		t, err2 := config.ParseDuration(timeout.AsString())
		if err1 == nil && err2 == nil && i > t {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "interval longer than timeout",
				Detail:   fmt.Sprintf("The check would try once: interval is %s but timeout is %s. Make interval shorter than timeout.", config.FormatDuration(i), config.FormatDuration(t)),
			})
		}
	}
	return diags
}
