package fly

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"sync"

	"github.com/rotplan/rotplan/internal/sensitive"
)

// How drift is found without reading a value back.
//
// Fly lists a digest beside each secret's name. Fly's documentation shows
// it as the MD5 of the value in lower-case hex: fly.io/docs/apps/secrets
// (superfly/docs apps/secrets.html.markerb) lists MY_SECRET=romance as
// b9e37b7b239ee4aefc75352fe3fa6dc6 and
// DATABASE_URL=postgres://example.com/mydb as
// cdbe3268a82bfe993921b9cae2a526af, and the older fly.io/docs/secrets
// lists asdf and jklm as 912ec803b2ce49e4a541068d495ab570 and
// 9f1ff160c43185d5ecf784f371570801: each is md5(value). Neither fly-go
// nor flyctl computes a digest; they only print the API's.
//
// That documented form is trusted: a 32-hex digest that is the MD5 of the
// store's value means the app holds it, any other 32-hex digest means it
// holds something else. The Machines API may show a different form (lists
// with 16-hex digests are seen in the wild, of an algorithm nobody
// documents). For a digest not in the documented form, rotplan tries the
// hashes it knows (MD5 and SHA-256, cut to the digest's length, at least 16
// hex characters, so a match by chance is a 1 in 2^64 event): a match
// proves the value is held, and proves that form for the other digests of
// the same length, in the same listing and, for this process, at the same
// API. A digest rotplan cannot reproduce in a proven form tells nothing: the
// target is reported as holding an unknown value rather than guessed at.
//
// Every update is checked the way the issue asks, by reading a digest back
// after a write, at no extra cost: the update's answer carries the new
// digests. One that none of the hashes reproduces from the value just
// written disproves its form for the rest of the process (even the
// documented one), with a warning, so drift there becomes unknown rather
// than a false "drifted" on every plan.
//
// That documented form is old sample output: current Fly lists short hex
// digests of an algorithm it has not published, which no hash rotplan knows
// reproduces, so the rules above alone would leave every key unknown: plan
// would never see drift, and every deliver would write and restart again.
// So rotplan keeps plan stateless and keeps Fly's own word instead: when it
// writes a key, it asks the secret's store to keep a record of the digest
// Fly answered (WriteResult.Record; the store keeps it beside rotated-at),
// and later compares the digest Fly lists with that record. The record is
// recordOf: an HMAC-SHA256, keyed by the value written, of the app, the key
// and Fly's digest, so it says nothing of the value to whoever may read the
// store's metadata, and it matches only the value it was made with: a key
// whose digest changed since rotplan wrote it, or whose store value changed
// since, reads as holding another value. A digest in a form rotplan can
// compute still decides first.
//
// These digests are computed in memory to compare with Fly's and are never
// logged or printed; what the store keeps is the keyed record above.

// verdict is what comparing a digest with a value tells.
type verdict int

const (
	absent  verdict = iota // the app has no such secret
	matches                // the secret holds the value
	differs                // the secret holds another value
	unknown                // the digest cannot be compared
)

// hashes are the hex digests rotplan can compute, by name.
var hashes = []struct {
	name string
	sum  func([]byte) string
}{
	{"md5", func(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }},
	{"sha256", func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }},
}

// form is a way of making a digest: one of hashes, cut to n hex characters.
type form struct {
	hash int
	n    int
}

// documented is the form Fly's documentation shows: full MD5.
var documented = form{hash: 0, n: 32}

// minDigest is the shortest digest a match is believed from.
const minDigest = 16

// learned holds, for each API base URL, the forms proven in this process
// (from listings, and from the digests an update answered with) and the
// digest lengths disproven: an update answered with a digest of that length
// that none of the hashes reproduces from the value just written.
var learned = struct {
	sync.Mutex
	forms     map[string]map[form]bool
	disproven map[string]map[int]bool
}{forms: map[string]map[form]bool{}, disproven: map[string]map[int]bool{}}

// learnedForms returns the forms to trust at api: the documented one and
// those proven, less any of a disproven length.
func learnedForms(api string) map[form]bool {
	learned.Lock()
	defer learned.Unlock()
	forms := map[form]bool{}
	for _, f := range append([]form{documented}, keys(learned.forms[api])...) {
		if !learned.disproven[api][f.n] {
			forms[f] = true
		}
	}
	return forms
}

func learn(api string, f form) {
	learned.Lock()
	defer learned.Unlock()
	if learned.forms[api] == nil {
		learned.forms[api] = map[form]bool{}
	}
	learned.forms[api][f] = true
}

func disprove(api string, n int) {
	learned.Lock()
	defer learned.Unlock()
	if learned.disproven[api] == nil {
		learned.disproven[api] = map[int]bool{}
	}
	learned.disproven[api][n] = true
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// digests compares the digests one app's listing holds with values.
type digests struct {
	app   string
	held  map[string]string // secret name → digest, lower case
	forms map[form]bool     // forms proven for this listing
}

// newDigests reads a listing. known pairs secret names with the values
// they should hold, to prove the listing's digest form from those that do.
func newDigests(api, app string, listed []appSecret, known map[string][]sensitive.Value) *digests {
	d := &digests{app: app, held: make(map[string]string, len(listed)), forms: learnedForms(api)}
	for _, s := range listed {
		d.held[s.Name] = strings.ToLower(strings.TrimSpace(s.Digest))
	}
	for name, values := range known {
		for _, v := range values {
			if f, ok := formOf(d.held[name], v); ok && !d.forms[f] {
				d.forms[f] = true
				learn(api, f)
			}
		}
	}
	return d
}

// has reports whether the app has a secret called name.
func (d *digests) has(name string) bool {
	_, ok := d.held[name]
	return ok
}

// compare tells what the secret called name holds, compared with v.
func (d *digests) compare(name string, v sensitive.Value) verdict {
	digest, ok := d.held[name]
	switch {
	case !ok:
		return absent
	case v.IsEmpty():
		return differs
	}
	if _, ok := formOf(digest, v); ok {
		return matches
	}
	if !isHex(digest) {
		return unknown
	}
	for f := range d.forms {
		if f.n == len(digest) {
			return differs
		}
	}
	return unknown
}

// formOf returns the form in which digest is v's digest, if any.
func formOf(digest string, v sensitive.Value) (form, bool) {
	if len(digest) < minDigest || v.IsEmpty() || !isHex(digest) {
		return form{}, false
	}
	for i, h := range hashes {
		sum := h.sum(v.Bytes())
		if len(digest) <= len(sum) && subtle.ConstantTimeCompare([]byte(sum[:len(digest)]), []byte(digest)) == 1 {
			return form{hash: i, n: len(digest)}, true
		}
	}
	return form{}, false
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// recordPrefix marks a record of this form, so a later form can be told
// from it.
const recordPrefix = "fly1:"

// recordOf is what rotplan keeps in the secret's store for key in app once
// Fly listed digest for it holding v: see the comment at the top of this
// file.
func recordOf(app, key, digest string, v sensitive.Value) string {
	if digest == "" || v.IsEmpty() {
		return ""
	}
	mac := hmac.New(sha256.New, v.Bytes())
	mac.Write([]byte("rotplan fly digest\x00" + app + "\x00" + key + "\x00" + strings.ToLower(strings.TrimSpace(digest))))
	return recordPrefix + hex.EncodeToString(mac.Sum(nil))[:32]
}

// byRecord tells what the secret called name holds, compared with v, by the
// record rotplan kept when it last wrote it: unknown without a record.
func (d *digests) byRecord(name string, v sensitive.Value, recorded string) verdict {
	digest, ok := d.held[name]
	switch {
	case !ok:
		return absent
	case recorded == "" || v.IsEmpty() || !strings.HasPrefix(recorded, recordPrefix):
		return unknown
	case subtle.ConstantTimeCompare([]byte(recordOf(d.app, name, digest, v)), []byte(recorded)) == 1:
		return matches
	}
	return differs
}

// judge is compare, then byRecord where compare cannot tell.
func (d *digests) judge(name string, v sensitive.Value, recorded string) verdict {
	if got := d.compare(name, v); got != unknown {
		return got
	}
	return d.byRecord(name, v, recorded)
}
