package onepassword

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	op "github.com/1password/onepassword-sdk-go"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/providers"
)

// reference is a parsed secret reference, op://VAULT/ITEM[/SECTION]/FIELD.
// Each part is a name or an ID; names match case-insensitively, as in
// 1Password's own references.
type reference struct {
	raw     string
	vault   string
	item    string
	section string // "" when the reference names none
	field   string
}

// key names the field within its item in rotplan's tags: SECTION/FIELD or
// FIELD, as the reference spells it.
func (r reference) key() string {
	if r.section != "" {
		return r.section + "/" + r.field
	}
	return r.field
}

// String is the reference, for errors. It names a place, never a value.
func (r reference) String() string { return r.raw }

// Titles of the fields rotplan adds beside the current one. They keep to
// the characters a secret reference allows, so op://VAULT/ITEM/FIELD-previous
// resolves too (a Fly app's previous signing key, say).
const (
	pendingSuffix  = "-pending"
	previousSuffix = "-previous"
)

// rotplanSection is the section rotplan adds for the fields it creates when
// the reference names no section or the current field is a built-in one
// without a section: custom fields need one.
const rotplanSection = "rotplan"

// newItemCategory is the category of an item rotplan creates for a secret
// whose item does not exist: a secure note has no built-in fields that could
// clash with the ones rotplan adds.
const newItemCategory = op.ItemCategorySecureNote

// parseReference reads the reference attribute of a store block.
func parseReference(cfg cty.Value) (reference, error) {
	if cfg.IsNull() {
		return reference{}, errors.New("the store block is empty")
	}
	cfg, _ = cfg.UnmarkDeep()
	if !cfg.IsKnown() || !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute("reference") {
		return reference{}, errors.New("the store block has no reference")
	}
	v := cfg.GetAttr("reference")
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(cty.String) {
		return reference{}, errors.New("the store block's reference is not a known string")
	}
	raw := v.AsString()
	rest, ok := strings.CutPrefix(raw, "op://")
	parts := strings.Split(rest, "/")
	if !ok || strings.Contains(rest, "?") || len(parts) < 3 || len(parts) > 4 {
		return reference{}, fmt.Errorf("%s is not a secret reference op://VAULT/ITEM[/SECTION]/FIELD", raw)
	}
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return reference{}, fmt.Errorf("%s has an empty part", raw)
		}
	}
	r := reference{raw: raw, vault: parts[0], item: parts[1], field: parts[len(parts)-1]}
	if len(parts) == 4 {
		r.section = parts[2]
	}
	return r, nil
}

// names reports whether an object with this id and title is the one name
// refers to.
func names(name, id, title string) bool {
	return id == name || strings.EqualFold(title, name)
}

// errAmbiguous: a name matches more than one vault, item or field.
var errAmbiguous = errors.New("matches more than one; refer to it by its ID")

// matchVault finds the vault a reference names; ok is false when none does.
func matchVault(vaults []op.VaultOverview, name string) (v op.VaultOverview, ok bool, err error) {
	var found []op.VaultOverview
	for _, c := range vaults {
		if c.ID == name {
			return c, true, nil
		}
		if names(name, c.ID, c.Title) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return op.VaultOverview{}, false, nil
	case 1:
		return found[0], true, nil
	}
	return op.VaultOverview{}, false, fmt.Errorf("vault %q %w", name, errAmbiguous)
}

// matchItem finds the active item a reference names; ok is false when none
// does.
func matchItem(items []op.ItemOverview, name string) (it op.ItemOverview, ok bool, err error) {
	var found []op.ItemOverview
	for _, c := range items {
		if c.State == op.ItemStateArchived {
			continue
		}
		if c.ID == name {
			return c, true, nil
		}
		if names(name, c.ID, c.Title) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return op.ItemOverview{}, false, nil
	case 1:
		return found[0], true, nil
	}
	return op.ItemOverview{}, false, fmt.Errorf("item %q %w", name, errAmbiguous)
}

// fields locates one secret's three fields in an item: the current one the
// reference names and the pending and previous ones rotplan keeps beside
// it. An index is -1 when the field is absent.
type fields struct {
	current, pending, previous int
}

// locate finds r's fields in item. A reference with a section looks in the
// sections it names; one without looks in every section, as 1Password does.
func locate(item *op.Item, r reference) (fields, error) {
	var f fields
	var err error
	if f.current, err = findField(item, r.section, r.field); err != nil {
		return f, err
	}
	if f.pending, err = findField(item, r.section, r.field+pendingSuffix); err != nil {
		return f, err
	}
	f.previous, err = findField(item, r.section, r.field+previousSuffix)
	return f, err
}

// findField returns the index of the field named name, -1 if there is none.
// A reference without a section that matches fields in several sections
// takes the one in no section, as 1Password's own references do
// (op://VAULT/ITEM/FIELD is "a field without a section", the secret
// reference syntax page of 1Password's developer documentation); it is
// ambiguous only when none, or more than one, is outside a section.
func findField(item *op.Item, section, name string) (int, error) {
	var found []int
	for i, fl := range item.Fields {
		if !names(name, fl.ID, fl.Title) {
			continue
		}
		if section != "" && !inSection(item, fl, section) {
			continue
		}
		found = append(found, i)
	}
	switch {
	case len(found) == 0:
		return -1, nil
	case len(found) == 1:
		return found[0], nil
	case section == "":
		var unsectioned []int
		for _, i := range found {
			if id := item.Fields[i].SectionID; id == nil || *id == "" {
				unsectioned = append(unsectioned, i)
			}
		}
		if len(unsectioned) == 1 {
			return unsectioned[0], nil
		}
	}
	return -1, fmt.Errorf("field %q %w", name, errAmbiguous)
}

func inSection(item *op.Item, fl op.ItemField, section string) bool {
	if fl.SectionID == nil {
		return false
	}
	for _, s := range item.Sections {
		if s.ID == *fl.SectionID && names(section, s.ID, s.Title) {
			return true
		}
	}
	return false
}

// value returns the value of field i, "" when it is absent. An empty field
// holds no value.
func value(item *op.Item, i int) string {
	if i < 0 {
		return ""
	}
	return item.Fields[i].Value
}

// sectionFor returns the ID of the section where rotplan adds a field for
// r: the current field's section when it has one, else the section the
// reference names, else rotplan's own; a section that does not exist yet
// is added to item.
func sectionFor(item *op.Item, r reference, f fields) string {
	if f.current >= 0 {
		if id := item.Fields[f.current].SectionID; id != nil && *id != "" {
			return *id
		}
	}
	title := r.section
	if title == "" {
		title = rotplanSection
	}
	for _, s := range item.Sections {
		if names(title, s.ID, s.Title) {
			return s.ID
		}
	}
	id := newID()
	if title == rotplanSection {
		id = rotplanSection
	}
	item.Sections = append(item.Sections, op.ItemSection{ID: id, Title: title})
	return id
}

// addField appends a concealed field to item.
func addField(item *op.Item, sectionID, title, v string) {
	item.Fields = append(item.Fields, op.ItemField{
		ID:        newID(),
		Title:     title,
		SectionID: &sectionID,
		FieldType: op.ItemFieldTypeConcealed,
		Value:     v,
	})
}

// removeField drops the field with this id, and rotplan's section if that
// leaves it empty.
func removeField(item *op.Item, id string) {
	for i, fl := range item.Fields {
		if fl.ID == id {
			item.Fields = append(item.Fields[:i:i], item.Fields[i+1:]...)
			break
		}
	}
	for _, fl := range item.Fields {
		if fl.SectionID != nil && *fl.SectionID == rotplanSection {
			return
		}
	}
	for i, s := range item.Sections {
		if s.ID == rotplanSection {
			item.Sections = append(item.Sections[:i:i], item.Sections[i+1:]...)
			return
		}
	}
}

// newID returns a random field or section ID in the shape 1Password uses
// (26 lowercase base32 characters).
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:26]
}

// rotplan's metadata lives in the item's tags, because tags are what
// Items().List returns besides titles and timestamps: plan reads every
// secret's state with one list per vault. One tag per slot, nested under
// "rotplan/" so the 1Password apps fold them into one tag tree:
//
//	rotplan/KEY/current=ROTATION@RFC3339       the rotation that made the current value, and when (rotated-at)
//	rotplan/KEY/pending=ROTATION@RFC3339       the rotation that staged the pending value, and when
//	rotplan/KEY/retire-after=RFC3339           when the previous value's grace ends
//	rotplan/KEY/rotated-at=RFC3339             the age of a current value rotplan did not write
//	rotplan/KEY/failed=ROTATION                the pending value of ROTATION failed its checks and is being rolled back
//
// rotated-at is written by the first stage of a secret that has no current
// tag, with the item's updated-at that plan dated the value from until
// then: staging changes the item, and so does discarding when the rotation
// rolls back, and the secret must stay as due as it was. Promote replaces
// it with the current tag. failed marks the pending value only while the
// pending tag names the same rotation; discard drops both.
//
// KEY is the reference's SECTION/FIELD or FIELD, matched case-insensitively,
// so one item can hold several secrets.
const tagPrefix = "rotplan/"

const (
	tagCurrent     = "current"
	tagPending     = "pending"
	tagRetireAfter = "retire-after"
	tagRotatedAt   = "rotated-at"
	tagFailed      = "failed"
	// tagRecord starts the kind of a tag that keeps what a target asked
	// to record: rotplan/KEY/record:ADDRESS=RECORD.
	tagRecord = "record:"
)

// stamp is a rotation id with a time.
type stamp struct {
	rotation string
	at       time.Time
}

// meta is what the tags say about one key.
type meta struct {
	current     *stamp
	pending     *stamp
	retireAfter time.Time         // zero when there is no tag
	rotatedAt   time.Time         // zero when there is no tag
	failed      string            // the rotation whose pending value failed; "" when there is no tag
	records     map[string]string // what targets asked to record, by target address
}

// pendingFailed reports whether the pending tag's rotation is marked failed.
func (m meta) pendingFailed() bool {
	return m.pending != nil && m.failed == m.pending.rotation
}

// parseTags reads the tags of key from an item's tags.
func parseTags(tags []string, key string) (meta, error) {
	var m meta
	for _, t := range tags {
		k, kind, val, ok := splitTag(t)
		if !ok || !strings.EqualFold(k, key) {
			continue
		}
		var err error
		switch kind {
		case tagCurrent:
			m.current, err = parseStamp(val)
		case tagPending:
			m.pending, err = parseStamp(val)
		case tagRetireAfter:
			m.retireAfter, err = time.Parse(time.RFC3339, val)
		case tagRotatedAt:
			m.rotatedAt, err = time.Parse(time.RFC3339, val)
		case tagFailed:
			if m.failed = val; val == "" {
				err = errors.New("want ROTATION")
			}
		default:
			if addr, ok := strings.CutPrefix(kind, tagRecord); ok && addr != "" {
				if m.records == nil {
					m.records = map[string]string{}
				}
				m.records[addr] = val
			}
			continue // otherwise a later rotplan's tag: leave it be
		}
		if err != nil {
			return meta{}, fmt.Errorf("tag %q: %w", t, err)
		}
	}
	return m, nil
}

// splitTag splits rotplan/KEY/KIND=VALUE.
func splitTag(t string) (key, kind, val string, ok bool) {
	rest, ok := strings.CutPrefix(t, tagPrefix)
	if !ok {
		return "", "", "", false
	}
	i := strings.LastIndex(rest, "/")
	if i < 0 {
		return "", "", "", false
	}
	kind, val, ok = strings.Cut(rest[i+1:], "=")
	return rest[:i], kind, val, ok
}

func parseStamp(s string) (*stamp, error) {
	rot, at, ok := strings.Cut(s, "@")
	if !ok || rot == "" {
		return nil, errors.New("want ROTATION@TIME")
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return nil, err
	}
	return &stamp{rotation: rot, at: t}, nil
}

func formatStamp(rotation string, at time.Time) string {
	return rotation + "@" + formatTime(at)
}

func formatTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// setTag replaces key's tag of this kind in item.
func setTag(item *op.Item, key, kind, val string) {
	dropTag(item, key, kind)
	item.Tags = append(item.Tags, tagPrefix+key+"/"+kind+"="+val)
}

// dropTag removes key's tags of this kind from item and reports whether
// there were any.
func dropTag(item *op.Item, key, kind string) bool {
	kept := item.Tags[:0:0]
	for _, t := range item.Tags {
		if k, kd, _, ok := splitTag(t); ok && kd == kind && strings.EqualFold(k, key) {
			continue
		}
		kept = append(kept, t)
	}
	dropped := len(kept) != len(item.Tags)
	item.Tags = kept
	return dropped
}

// fromTags describes a secret by its tags alone. It is used when the tags
// record a current value, which only rotplan's promote writes: from then on
// every change rotplan makes to the secret keeps its tags in step.
func fromTags(m meta) *providers.StoredSecret {
	st := &providers.StoredSecret{
		Current:   &providers.Version{ID: m.current.rotation, CreatedAt: m.current.at, Rotation: m.current.rotation},
		RotatedAt: m.current.at,
		Records:   m.records,
	}
	if m.pending != nil {
		st.Pending = &providers.Version{ID: m.pending.rotation, CreatedAt: m.pending.at, Rotation: m.pending.rotation, Failed: m.pendingFailed()}
	}
	if !m.retireAfter.IsZero() {
		st.Previous = &providers.Version{RetireAfter: m.retireAfter}
	}
	return st
}

// fromItem describes a secret by its item's fields, with the tags for what
// rotplan knows of them; nil when no slot holds a value. A pending field
// without rotplan's tag was not staged by rotplan; a current value without
// a current tag is rotated at the time its rotated-at tag records, or else
// dates from the item's last change.
func fromItem(item *op.Item, f fields, m meta) *providers.StoredSecret {
	var st providers.StoredSecret
	if value(item, f.current) != "" {
		st.Current = &providers.Version{CreatedAt: item.UpdatedAt}
		if m.current != nil {
			st.Current = &providers.Version{ID: m.current.rotation, CreatedAt: m.current.at, Rotation: m.current.rotation}
			st.RotatedAt = m.current.at
		} else if !m.rotatedAt.IsZero() {
			st.RotatedAt = m.rotatedAt
		}
	}
	if value(item, f.pending) != "" {
		st.Pending = &providers.Version{CreatedAt: item.UpdatedAt}
		if m.pending != nil {
			st.Pending = &providers.Version{ID: m.pending.rotation, CreatedAt: m.pending.at, Rotation: m.pending.rotation, Failed: m.pendingFailed()}
		}
	}
	if value(item, f.previous) != "" {
		// Without rotplan's tag the grace is unknown: the previous value
		// is due to retire since the item last changed.
		st.Previous = &providers.Version{RetireAfter: item.UpdatedAt}
		if !m.retireAfter.IsZero() {
			st.Previous.RetireAfter = m.retireAfter
		}
	}
	if st.Current == nil && st.Pending == nil && st.Previous == nil {
		return nil
	}
	st.Records = m.records
	return &st
}
