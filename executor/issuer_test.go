package executor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
)

// An access key minted by its system (generate "issued", a fake of an IAM
// user's keys): a structured value {key_id, secret}. The copy target takes
// the secret field only; a derived secret reads the key id.
const issuedSecret = `
secret "key" {
  frequency = "90d"
  store "fake" {}
  generate "issued" {}
  target "copy" "app" {
    field = "secret"
  }
  verify "fake" {}
}
secret "key_ref" {
  frequency = "90d"
  store "fake" {}
  generate "template" { template = "id=${secret.key.value.key_id}" }
  target "copy" "ref" {}
}
`

// seedKey gives the fake issuer a live key k-0 that the store holds as
// current.
func seedKey(w *world) {
	w.keys["key"] = []mintedKey{{id: "k-0", secret: "s-0", created: time.Now().Add(-100 * 24 * time.Hour)}}
	w.slot("key").current = sensitive.FromFields(map[string]sensitive.Value{"key_id": sensitive.New("k-0"), "secret": sensitive.New("s-0")})
	w.targets["key target.copy.app"] = &held{value: sensitive.New("s-0")}
	w.seed("key_ref", "id=k-0", "target.copy.ref")
}

func TestApplyIssuerRotates(t *testing.T) {
	w := newWorld(t)
	seedKey(w)
	f := newFixture(t, w, issuedSecret)

	r := f.apply(t, context.Background(), planner.Options{})
	if (r != Result{Rotated: 2}) {
		t.Errorf("result %+v, want both rotated", r)
	}
	wantCalls(t, w.log("mint", "stage", "promote", "revoke", "sweep"), "mint key", "stage key", "stage key_ref", "promote key", "promote key_ref")
	if got := w.liveKeys("key"); got != "k-0 k-1" {
		t.Errorf("live keys %q, want the old and the new one (the old one retires after grace)", got)
	}
	if h := w.holds("key", "target.copy.app"); h.value.Reveal() != "s-1" || h.previous.Reveal() != "s-0" {
		t.Errorf("the copy holds %q (previous %q), want the new key's secret field alone", h.value.Reveal(), h.previous.Reveal())
	}
	if got := w.slot("key_ref").current.Reveal(); got != "id=k-1" {
		t.Errorf("the derived secret is %q, want it made from the new key's id", got)
	}
}

// A minted key whose check fails is revoked once no target and no store
// holds it.
func TestApplyIssuerRollbackRevokes(t *testing.T) {
	w := newWorld(t)
	seedKey(w)
	w.failures["verify key"] = errors.New("InvalidClientTokenId")
	f := newFixture(t, w, issuedSecret)

	r := f.apply(t, context.Background(), planner.Options{Targets: []string{"key"}})
	if (r != Result{RolledBack: 1, Skipped: 1}) {
		t.Errorf("result %+v, want the key rolled back and what is made from it skipped", r)
	}
	wantCalls(t, w.log("mint", "discard key", "revoke"), "mint key", "discard key", "revoke key k-1")
	if got := w.liveKeys("key"); got != "k-0" {
		t.Errorf("live keys %q after the rollback, want the old one only", got)
	}
	if len(f.st.Rotations) != 0 {
		t.Errorf("journal %v", f.journal())
	}
}

// An apply killed while the issuer minted, or after it minted and before
// the store took the key, leaves a key nobody else knows of: the journal
// names the rotation, and the next apply revokes that key before it mints
// anew. The key the store holds is kept.
func TestApplyIssuerSweepsAfterCrash(t *testing.T) {
	for _, journaled := range []string{"minting", "generated"} {
		t.Run(journaled, func(t *testing.T) {
			w := newWorld(t)
			seedKey(w)
			started := time.Now().Add(-time.Minute)
			w.keys["key"] = append(w.keys["key"], mintedKey{id: "k-orphan", secret: "s-orphan", created: started.Add(time.Second)})
			f := newFixture(t, w, issuedSecret)
			j := &state.Rotation{ID: "r-killed", Secret: "key", Action: "rotate", State: journaled, Started: started}
			if journaled == "generated" {
				j.Issued = "k-orphan"
			}
			f.st.Rotations["key"] = j

			r := f.apply(t, context.Background(), planner.Options{Targets: []string{"key"}})
			if r.Rotated != 2 {
				t.Errorf("result %+v", r)
			}
			wantCalls(t, w.log("sweep", "mint"), "sweep key", "mint key")
			if got := w.liveKeys("key"); strings.Contains(got, "k-orphan") || !strings.HasPrefix(got, "k-0 ") {
				t.Errorf("live keys %q: want the orphan revoked and the current key kept", got)
			}
		})
	}
}

// A retire revokes the previous key at its issuer before the store lets
// it go.
func TestApplyIssuerRetireRevokes(t *testing.T) {
	w := newWorld(t)
	seedKey(w)
	w.keys["key"] = append(w.keys["key"], mintedKey{id: "k-prev", secret: "s-prev", created: time.Now().Add(-200 * 24 * time.Hour)})
	sl := w.slot("key")
	sl.previous, sl.retireAfter = sensitive.FromFields(map[string]sensitive.Value{"key_id": sensitive.New("k-prev"), "secret": sensitive.New("s-prev")}), time.Now().Add(-time.Hour)
	f := newFixture(t, w, strings.Replace(issuedSecret, `frequency = "90d"`, `frequency = "365d"`, 1))

	r := f.apply(t, context.Background(), planner.Options{Targets: []string{"key"}})
	if r.Retired != 1 {
		t.Errorf("result %+v, want one retired", r)
	}
	wantCalls(t, w.log("retire", "revoke"), "retire copy key", "revoke key k-prev", "retire-previous key")
	if got := w.liveKeys("key"); got != "k-0" {
		t.Errorf("live keys %q after the retire", got)
	}
}
