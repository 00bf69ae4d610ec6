package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
)

// testSchemas knows just enough block types to write inventories with.
type testSchemas struct{}

func (testSchemas) Schema(kind config.BlockKind, typ string) (*config.BlockSchema, bool) {
	spec := &hcldec.ObjectSpec{
		"template":            &hcldec.AttrSpec{Name: "template", Type: cty.String},
		"instructions":        &hcldec.AttrSpec{Name: "instructions", Type: cty.String},
		"revoke_instructions": &hcldec.AttrSpec{Name: "revoke_instructions", Type: cty.String},
		"path":                &hcldec.AttrSpec{Name: "path", Type: cty.String},
	}
	switch {
	case kind == config.KindTarget && typ == "env_file":
		note := func(cty.Value) string { return "the old value stops working at once" }
		return &config.BlockSchema{Spec: spec, RotationNote: note}, true
	case kind == config.KindStore && typ == "local",
		kind == config.KindGenerate && (typ == "random" || typ == "template"),
		kind == config.KindVerify && typ == "exec":
		return &config.BlockSchema{Spec: spec}, true
	case kind == config.KindGenerate && typ == "manual":
		return &config.BlockSchema{Spec: spec, Manual: true}, true
	}
	return nil, false
}

func (testSchemas) TypeNames(config.BlockKind) []string { return nil }

const inventory = `
secret "password" {
  frequency = "90d"
  generate "random" {}
  target "env_file" "app" { path = "app.env" }
  verify "exec" {}
}
secret "dsn" {
  frequency = "90d"
  generate "template" { template = "postgres://app:${secret.password.value}@db/app" }
  target "env_file" "app" { path = "app.env" }
}
secret "vendor_key" {
  frequency = "180d"
  generate "manual" {
    instructions        = "Create a key in the vendor console."
    revoke_instructions = "Delete the old key in the vendor console."
  }
}
secret "other" {
  frequency = "30d"
  grace     = "1d"
  depends_on = [secret.vendor_key]
  generate "random" {}
}
`

var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func daysAgo(n int) time.Time { return now.Add(-time.Duration(n) * config.Day) }

func load(t *testing.T) *config.Inventory {
	t.Helper()
	inv, diags := config.Load(".", map[string][]byte{"main.hcl": []byte(inventory)}, config.Options{Schemas: testSchemas{}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return inv
}

// fresh returns observations in which every secret is current and in sync.
func fresh() *Observations {
	obs := &Observations{Secrets: map[string]*SecretObservation{}}
	for _, name := range []string{"password", "dsn", "vendor_key", "other"} {
		obs.Secrets[name] = &SecretObservation{Exists: true, CurrentCreatedAt: daysAgo(10)}
	}
	for _, name := range []string{"password", "dsn"} {
		obs.Secrets[name].Targets = []TargetObservation{{Address: "target.env_file.app", Holds: HoldsCurrent}}
	}
	return obs
}

func TestMake(t *testing.T) {
	type want struct {
		status Status
		action Action
		reason string // a substring of the reason
	}
	tests := map[string]struct {
		observe func(*Observations)
		opts    Options
		want    map[string]want
		// check, when set, looks further at the changes by secret.
		check func(t *testing.T, got map[string]*Change)
	}{
		"all fresh": {
			want: map[string]want{
				"password": {StatusOK, NoOp, "rotated 10 days ago on 2026-11-21, every 90d: next due 2027-02-19"},
				"dsn":      {StatusOK, NoOp, ""},
			},
		},
		"missing": {
			observe: func(o *Observations) { o.Secrets["other"] = &SecretObservation{} },
			want:    map[string]want{"other": {StatusMissing, Create, "the store holds no value yet"}},
		},
		"due, and what derives from it rotates after it": {
			observe: func(o *Observations) { o.Secrets["password"].CurrentCreatedAt = daysAgo(97) },
			want: map[string]want{
				"password": {StatusDue, Rotate, "rotated 97 days ago on 2026-08-26, every 90d: due since 2026-11-24"},
				"dsn":      {StatusDue, Rotate, "derived from secret.password"},
			},
		},
		"rotated-at metadata wins over the value's age": {
			observe: func(o *Observations) {
				o.Secrets["password"].CurrentCreatedAt = daysAgo(200)
				o.Secrets["password"].RotatedAt = daysAgo(5)
			},
			want: map[string]want{"password": {StatusOK, NoOp, "rotated 5 days ago"}},
		},
		"due exactly at frequency": {
			observe: func(o *Observations) { o.Secrets["other"].CurrentCreatedAt = daysAgo(30) },
			want:    map[string]want{"other": {StatusDue, Rotate, "due since 2026-12-01"}},
		},
		"due soon": {
			observe: func(o *Observations) { o.Secrets["password"].CurrentCreatedAt = daysAgo(80) },
			want: map[string]want{
				"password": {StatusDueSoon, NoOp, "due on 2026-12-11, in 10 days"},
				"dsn":      {StatusOK, NoOp, ""},
			},
		},
		"just before notice": {
			observe: func(o *Observations) { o.Secrets["password"].CurrentCreatedAt = daysAgo(75) },
			want:    map[string]want{"password": {StatusOK, NoOp, ""}},
		},
		"drifted": {
			observe: func(o *Observations) { o.Secrets["dsn"].Targets[0].Holds = HoldsOther },
			want:    map[string]want{"dsn": {StatusDrifted, Sync, "target.env_file.app holds a different value"}},
		},
		"target empty": {
			observe: func(o *Observations) { o.Secrets["dsn"].Targets[0].Holds = HoldsNothing },
			want:    map[string]want{"dsn": {StatusDrifted, Sync, "holds no value"}},
		},
		"retiring": {
			observe: func(o *Observations) {
				o.Secrets["other"].Previous = &PreviousVersion{RetireAfter: daysAgo(1)}
			},
			want: map[string]want{"other": {StatusRetiring, Retire, "grace of 1d ended on 2026-11-30"}},
		},
		"previous still in grace": {
			observe: func(o *Observations) {
				o.Secrets["other"].Previous = &PreviousVersion{RetireAfter: now.Add(time.Hour)}
			},
			want: map[string]want{"other": {StatusOK, NoOp, ""}},
		},
		"manual and due": {
			observe: func(o *Observations) { o.Secrets["vendor_key"].CurrentCreatedAt = daysAgo(181) },
			want:    map[string]want{"vendor_key": {StatusManual, Rotate, "a person must create the new value"}},
		},
		"interrupted rotation resumes": {
			observe: func(o *Observations) {
				o.Secrets["password"].Pending = &PendingVersion{CreatedAt: daysAgo(1), Resumable: true}
			},
			want: map[string]want{"password": {StatusInProgress, Resume, "interrupted; apply resumes it"}},
		},
		"someone else's rotation blocks": {
			observe: func(o *Observations) {
				o.Secrets["password"].CurrentCreatedAt = daysAgo(100)
				o.Secrets["password"].Pending = &PendingVersion{CreatedAt: daysAgo(1)}
			},
			want: map[string]want{
				"password": {StatusInProgress, NoOp, "another rotation is under way"},
				"dsn":      {StatusOK, NoOp, ""},
			},
		},
		"store error, others still planned": {
			observe: func(o *Observations) { o.Secrets["password"].Err = "store local: permission denied" },
			want: map[string]want{
				"password": {StatusError, NoOp, "permission denied"},
				"other":    {StatusOK, NoOp, ""},
			},
		},
		"target error": {
			observe: func(o *Observations) { o.Secrets["dsn"].Targets[0].Err = "cannot read app.env" },
			want:    map[string]want{"dsn": {StatusError, NoOp, "target.env_file.app: cannot read app.env"}},
		},
		"managed elsewhere": {
			observe: func(o *Observations) {
				o.Secrets["other"].CurrentCreatedAt = daysAgo(100)
				o.Secrets["other"].ManagedBy = "AWS Secrets Manager rotation"
			},
			want: map[string]want{"other": {StatusOK, NoOp, "managed by AWS Secrets Manager rotation"}},
		},
		"rotated after the evaluation time": {
			observe: func(o *Observations) { o.Secrets["other"].CurrentCreatedAt = now.Add(3 * config.Day) },
			want:    map[string]want{"other": {StatusOK, NoOp, "rotated 0 seconds ago on 2026-12-04"}},
		},
		"due with an overdue retire: both, the retire first": {
			observe: func(o *Observations) {
				o.Secrets["other"].CurrentCreatedAt = daysAgo(31)
				o.Secrets["other"].Previous = &PreviousVersion{RetireAfter: daysAgo(30)}
			},
			want: map[string]want{"other": {StatusDue, Rotate, "due since 2026-11-30"}},
			check: func(t *testing.T, got map[string]*Change) {
				c := got["other"]
				if !c.RetireFirst || !strings.Contains(c.RetireReason, "grace of 1d ended on 2026-11-01") {
					t.Errorf("RetireFirst = %t, RetireReason = %q; want the overdue retire first", c.RetireFirst, c.RetireReason)
				}
			},
		},
		"manual, due, with an overdue retire: the operator confirms the revocation first": {
			observe: func(o *Observations) {
				o.Secrets["vendor_key"].CurrentCreatedAt = daysAgo(181)
				o.Secrets["vendor_key"].Previous = &PreviousVersion{RetireAfter: daysAgo(150)}
			},
			want: map[string]want{"vendor_key": {StatusManual, Rotate, "a person must create the new value"}},
			check: func(t *testing.T, got map[string]*Change) {
				c := got["vendor_key"]
				if !c.RetireFirst || !strings.Contains(c.RetireReason, "the operator confirms it is revoked first") || c.RevokeInstructions != "Delete the old key in the vendor console." {
					t.Errorf("RetireFirst = %t, RetireReason = %q, RevokeInstructions = %q", c.RetireFirst, c.RetireReason, c.RevokeInstructions)
				}
			},
		},
		"replace during grace retires the previous value early": {
			opts: Options{Replace: []string{"other"}},
			observe: func(o *Observations) {
				o.Secrets["other"].Previous = &PreviousVersion{RetireAfter: now.Add(2 * time.Hour)}
			},
			want: map[string]want{"other": {StatusDue, Rotate, "-replace"}},
			check: func(t *testing.T, got map[string]*Change) {
				if c := got["other"]; !c.RetireFirst || !strings.Contains(c.RetireReason, "runs until 2026-12-01 02:00 UTC; the rotation needs its slot, so it is retired early") {
					t.Errorf("RetireFirst = %t, RetireReason = %q", c.RetireFirst, c.RetireReason)
				}
			},
		},
		"a derived secret that was retiring rotates, retiring first": {
			observe: func(o *Observations) {
				o.Secrets["password"].CurrentCreatedAt = daysAgo(97)
				o.Secrets["dsn"].Previous = &PreviousVersion{RetireAfter: daysAgo(1)}
			},
			want: map[string]want{"dsn": {StatusDue, Rotate, "derived from secret.password"}},
			check: func(t *testing.T, got map[string]*Change) {
				if !got["dsn"].RetireFirst {
					t.Error("the derived secret's previous value would be dropped without a retire")
				}
			},
		},
		"manual retire waits for the operator": {
			observe: func(o *Observations) {
				o.Secrets["vendor_key"].Previous = &PreviousVersion{RetireAfter: daysAgo(1)}
			},
			want: map[string]want{"vendor_key": {StatusRetiring, Retire, "retire: waiting for the operator's confirmation that it is revoked"}},
		},
		"a target accepting credentials rotplan did not make": {
			observe: func(o *Observations) { o.Secrets["dsn"].Targets[0].Unknown = 2 },
			want:    map[string]want{"dsn": {StatusDrifted, Retire, "target.env_file.app accepts 2 credentials that rotplan did not make; retire removes it"}},
			check: func(t *testing.T, got map[string]*Change) {
				if tc := got["dsn"].Targets[0]; tc.Action != Retire || tc.Unknown != 2 {
					t.Errorf("target change %+v, want a retire of 2 unknown credentials", tc)
				}
			},
		},
		"a rotation notes credentials rotplan did not make": {
			observe: func(o *Observations) {
				o.Secrets["dsn"].CurrentCreatedAt = daysAgo(100)
				o.Secrets["dsn"].Targets[0].Unknown = 1
			},
			want: map[string]want{"dsn": {StatusDue, Rotate, "rotated 100 days ago"}},
			check: func(t *testing.T, got map[string]*Change) {
				if notes := strings.Join(got["dsn"].Notes, "\n"); !strings.Contains(notes, "target.env_file.app already accepts 1 credential that rotplan did not make") {
					t.Errorf("notes %q do not mention the unknown credential", notes)
				}
			},
		},
		"a failed rotation whose rollback did not finish": {
			observe: func(o *Observations) {
				o.Secrets["password"].Pending = &PendingVersion{CreatedAt: daysAgo(1), Resumable: true, Failed: true}
			},
			want: map[string]want{"password": {StatusInProgress, Rollback, "rolling back: a check of the value staged on 2026-11-30 failed"}},
		},
		"an apply holding the lock is carrying on the rotation": {
			observe: func(o *Observations) {
				o.RunningApply = &RunningApply{Holder: "lock 3f9a, held by alice on ops-1 (pid 4242)", Since: now.Add(-time.Minute)}
				o.Secrets["password"].Pending = &PendingVersion{CreatedAt: now, Resumable: true}
			},
			want: map[string]want{"password": {StatusInProgress, NoOp, "an apply is running and rotating it: lock 3f9a, held by alice on ops-1 (pid 4242), since 2026-11-30T23:59:00Z"}},
		},
		"replace forces a rotation and its derived secrets": {
			opts: Options{Replace: []string{"password"}},
			want: map[string]want{
				"password": {StatusDue, Rotate, "replacement requested with -replace"},
				"dsn":      {StatusDue, Rotate, "derived from secret.password"},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obs := fresh()
			if tc.observe != nil {
				tc.observe(obs)
			}
			plan, err := Make(load(t), obs, now, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]*Change{}
			for _, c := range plan.Changes {
				got[c.Secret] = c
			}
			if tc.check != nil {
				tc.check(t, got)
			}
			if name == "rotated after the evaluation time" && len(got["other"].Warnings) != 1 {
				t.Errorf("a rotated-at after the evaluation time gave warnings %q, want one", got["other"].Warnings)
			}
			for secret, w := range tc.want {
				c := got[secret]
				if c == nil {
					t.Fatalf("secret.%s is not in the plan", secret)
				}
				if c.Status != w.status || c.Action != w.action || !strings.Contains(c.Reason, w.reason) {
					t.Errorf("secret.%s = %s/%s %q, want %s/%s containing %q", secret, c.Status, c.Action, c.Reason, w.status, w.action, w.reason)
				}
			}
		})
	}
}

func TestMakeOrderAndTargets(t *testing.T) {
	inv := load(t)
	tests := map[string]struct {
		observe func(*Observations)
		opts    Options
		want    []string
	}{
		"every secret, each after what it needs": {
			want: []string{"password", "dsn", "vendor_key", "other"},
		},
		"a target brings what it needs": {
			opts: Options{Targets: []string{"other"}},
			want: []string{"vendor_key", "other"},
		},
		"a target leaves derived secrets out while nothing rotates": {
			opts: Options{Targets: []string{"password"}},
			want: []string{"password"},
		},
		"a rotating target brings the secrets derived from it": {
			observe: func(o *Observations) { o.Secrets["password"].CurrentCreatedAt = daysAgo(100) },
			opts:    Options{Targets: []string{"password"}},
			want:    []string{"password", "dsn"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obs := fresh()
			if tc.observe != nil {
				tc.observe(obs)
			}
			plan, err := Make(inv, obs, now, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range plan.Changes {
				got = append(got, c.Secret)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("plan covers %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := Make(inv, fresh(), now, Options{Targets: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "secret.nope is not declared") {
		t.Errorf("unknown target: err = %v", err)
	}
}

func TestMakeNotes(t *testing.T) {
	obs := fresh()
	obs.Secrets["password"].CurrentCreatedAt = daysAgo(100)
	obs.Secrets["dsn"].Targets[0].Holds = HoldsOther
	plan, err := Make(load(t), obs, now, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Changes {
		want := 0
		if c.Secret == "password" || c.Secret == "dsn" { // rotations deliver to the target
			want = 1
		}
		if len(c.Notes) != want {
			t.Errorf("secret.%s (%s) has notes %q, want %d", c.Secret, c.Action, c.Notes, want)
		}
	}
}

func TestMakeCounts(t *testing.T) {
	obs := fresh()
	obs.Secrets["password"].CurrentCreatedAt = daysAgo(100)
	obs.Secrets["other"].Previous = &PreviousVersion{RetireAfter: daysAgo(1)}
	plan, err := Make(load(t), obs, now, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := plan.Count()
	want := Counts{Rotate: 2, Retire: 1, Unchanged: 1}
	if got != want {
		t.Errorf("Count() = %+v, want %+v", got, want)
	}

	// A rotation that retires first counts as both.
	obs.Secrets["other"].CurrentCreatedAt = daysAgo(40)
	plan, err = Make(load(t), obs, now, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got = plan.Count()
	want = Counts{Rotate: 3, Retire: 1, Unchanged: 1}
	if got != want {
		t.Errorf("Count() = %+v, want %+v", got, want)
	}
	if !plan.HasChanges() || plan.HasErrors() {
		t.Errorf("HasChanges = %v, HasErrors = %v", plan.HasChanges(), plan.HasErrors())
	}
}
