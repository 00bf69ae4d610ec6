package fly

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Target is the fly target: the app secrets of Fly apps, through the
// Machines API with one provider block's token.
type Target struct {
	api    string // the base URL, as configured
	token  sensitive.Value
	client *client
	logger hclog.Logger

	// startTimeout bounds the wait for each restarted Machine.
	startTimeout time.Duration
	// now tells when a lease was last refreshed; tests set the fake's clock.
	now func() time.Time
}

var _ providers.Target = (*Target)(nil)

// New returns a fly target with the api_token and api_url of s.Provider,
// the decoded provider "fly" block.
func New(s providers.Settings) (*Target, error) {
	token, err := providerAttr(s.Provider, "api_token")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(token) == "" {
		return nil, errors.New(`fly: the provider "fly" block's api_token is empty; set it, for example api_token = env("FLY_API_TOKEN")`)
	}
	api, err := providerAttr(s.Provider, "api_url")
	if err != nil {
		return nil, err
	}
	if api == "" {
		api = DefaultAPIURL
	}
	base, err := url.Parse(api)
	if err != nil || base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("fly: api_url %q is not an http or https URL", api)
	}
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Target{api: api, token: sensitive.New(token), client: newClient(base, token, logger), logger: logger, startTimeout: startTimeout, now: time.Now}, nil
}

// Locate reads a decoded target "fly" block: the app, the key of the
// current value and the key of the previous value, "" when the block has
// none.
func Locate(config cty.Value) (app, key, previousKey string, err error) {
	if app, err = providers.StringAttr(config, "app"); err != nil {
		return "", "", "", err
	}
	if key, err = providers.StringAttr(config, "key"); err != nil {
		return "", "", "", err
	}
	if previousKey, err = providers.StringAttr(config, "previous_key"); err != nil {
		return "", "", "", err
	}
	switch {
	case app == "" || key == "":
		return "", "", "", errors.New("fly block needs app and key")
	case key == previousKey:
		return "", "", "", fmt.Errorf("key and previous_key are both %s; give previous_key a name of its own", key)
	}
	return app, key, previousKey, nil
}

// Observe reports whether each item's app holds the store's current value
// under key, listing each app's secrets once. A missing key holds nothing;
// otherwise Fly's digest is compared with the current value, or else with
// the record rotplan kept in the store when it wrote the key (see
// digest.go), and a digest neither tells about holds an unknown value.
// With no current value (a secret about to be created), a key that is
// there holds other.
func (t *Target) Observe(ctx context.Context, req providers.ObserveRequest) (*providers.ObserveResponse, error) {
	resp := &providers.ObserveResponse{Results: make([]providers.Observation, len(req.Items))}
	apps, groups := groupByApp(len(req.Items), func(i int) (cty.Value, string, string) {
		return req.Items[i].Config, req.Items[i].Secret, req.Items[i].Target
	}, func(i int, err error) { resp.Results[i].Err = err })

	for _, app := range apps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		group := groups[app]
		known := map[string][]sensitive.Value{}
		var scrub []sensitive.Value
		for _, l := range group {
			cur := req.Items[l.index].Current
			known[l.key] = append(known[l.key], cur)
			scrub = append(scrub, cur)
		}
		d, err := t.list(ctx, app, known, scrub)
		if err != nil {
			for _, l := range group {
				resp.Results[l.index].Err = err
			}
			continue
		}
		unknowns := 0
		for _, l := range group {
			it := req.Items[l.index]
			switch d.judge(l.key, it.Current, it.Recorded) {
			case absent:
				resp.Results[l.index].Holds = providers.HoldsNothing
			case matches:
				resp.Results[l.index].Holds = providers.HoldsCurrent
			case differs:
				resp.Results[l.index].Holds = providers.HoldsOther
			default:
				resp.Results[l.index].Holds = providers.HoldsUnknown
				unknowns++
			}
		}
		if unknowns > 0 {
			t.logger.Warn("fly: cannot compare Fly's digests with the store's values; reporting them as unknown", "app", app, "secrets", unknowns)
		}
	}
	return resp, nil
}

// list reads one app's listing as of the last update this process made to
// it, proving its digest form from the values known to belong to it.
func (t *Target) list(ctx context.Context, app string, known map[string][]sensitive.Value, scrub []sensitive.Value) (*digests, error) {
	listed, err := t.client.list(ctx, app, versionOf(t.api, app), append(scrub, t.token))
	if err != nil {
		return nil, err
	}
	return newDigests(t.api, app, listed, known), nil
}

// versions holds the secrets version of each app (by API base URL) after
// the last update this process made to it. Fly's secrets are read
// eventually consistently; a listing asked for at least that version sees
// the update, as flyctl does with its "minvers".
var versions = struct {
	sync.Mutex
	m map[[2]string]uint64
}{m: map[[2]string]uint64{}}

func versionOf(api, app string) uint64 {
	versions.Lock()
	defer versions.Unlock()
	return versions.m[[2]string{api, app}]
}

func sawVersion(api, app string, v uint64) {
	versions.Lock()
	defer versions.Unlock()
	if k := [2]string{api, app}; v > versions.m[k] {
		versions.m[k] = v
	}
}

// located is one item with its keys in an app.
type located struct {
	index            int
	key, previousKey string
}

// groupByApp locates n items and groups them by app, in the order apps are
// first named; an item whose block cannot be read is reported to fail.
func groupByApp(n int, item func(i int) (config cty.Value, secret, target string), fail func(i int, err error)) ([]string, map[string][]located) {
	var apps []string
	groups := map[string][]located{}
	for i := 0; i < n; i++ {
		config, secret, target := item(i)
		app, key, previousKey, err := Locate(config)
		if err != nil {
			fail(i, fmt.Errorf("fly: secret %q %s: %w", secret, target, err))
			continue
		}
		if _, seen := groups[app]; !seen {
			apps = append(apps, app)
		}
		groups[app] = append(groups[app], located{index: i, key: key, previousKey: previousKey})
	}
	return apps, groups
}

// Deploys reads the deploy attribute of a decoded target "fly" block: true
// (the default) when the app's Machines are to be deployed after its
// secrets change, false when the secrets are only staged.
func Deploys(config cty.Value) (bool, error) {
	if config == cty.NilVal || config.IsNull() {
		return true, nil
	}
	config, _ = config.UnmarkDeep()
	if !config.IsKnown() {
		return false, errors.New("fly block is not known yet")
	}
	if !config.Type().IsObjectType() || !config.Type().HasAttribute("deploy") {
		return true, nil
	}
	v := config.GetAttr("deploy")
	switch {
	case v.IsNull():
		return true, nil
	case !v.IsKnown():
		return false, errors.New("deploy is not known until the secrets it refers to are read")
	case !v.Type().Equals(cty.Bool):
		return false, errors.New("deploy must be true or false")
	}
	return v.True(), nil
}

// providerAttr reads a setting of the provider "fly" block, which never
// quotes the token in an error.
func providerAttr(p cty.Value, name string) (string, error) {
	if p == cty.NilVal || p.IsNull() {
		return "", errors.New(`fly: the inventory has no provider "fly" block; add one with api_token = env("FLY_API_TOKEN")`)
	}
	v, err := providers.StringAttr(p, name)
	if err != nil {
		return "", fmt.Errorf(`fly: provider "fly": %w`, err)
	}
	return v, nil
}
