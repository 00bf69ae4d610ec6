package config

import (
	"strconv"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// BlockKind is where a provider-decoded block sits in an inventory.
type BlockKind int

const (
	KindProvider BlockKind = iota
	KindStore
	KindGenerate
	KindTarget
	KindVerify
)

func (k BlockKind) String() string {
	switch k {
	case KindProvider:
		return "provider"
	case KindStore:
		return "store"
	case KindGenerate:
		return "generate"
	case KindTarget:
		return "target"
	case KindVerify:
		return "verify"
	}
	return "BlockKind(" + strconv.Itoa(int(k)) + ")"
}

// BlockSchema is what config needs to know about one block type.
type BlockSchema struct {
	// Spec decodes the block's body.
	Spec hcldec.Spec
	// Provider names the provider block whose settings this type uses
	// ("aws" for aws_secretsmanager), or "".
	Provider string
	// Manual marks a generator whose values only a person can make.
	Manual bool
	// Fields, on a generate type, names the fields of the structured value
	// it makes (an access key id and its secret): templates read
	// secret.NAME.value.FIELD, targets and checks choose one with
	// field = "FIELD", and stores keep the value as a JSON object. Empty
	// for a plain string value.
	Fields []string
	// Authenticates marks a target that checks logins with the value (a
	// database role, a Redis user) rather than holding a copy: apply sets
	// it before it delivers copies, and rolls it back last.
	Authenticates bool
	// RotationNote, when set, says in words what a rotation through a block
	// of this type does that an operator should know before approving it
	// ("the old password stops working at once"); "" when nothing.
	RotationNote func(cfg cty.Value) string
	// Writes, when set, lists the places a block of this type writes its
	// secret's value to, read from the block's decoded configuration. While
	// validating, attributes may be unknown (an unset env()) or null: it
	// returns only the places it knows in full, and nothing from a marked
	// value (see KnownString). A Key of "" stands for the secret's name, for
	// a block whose key defaults to it. config normalises each File and
	// stores the result on Block.Destinations; two blocks that write one
	// place are an error.
	Writes func(cfg cty.Value) []Destination
	// NotImplemented marks a type whose schema is known but whose provider
	// is not built yet: it validates, and plan reports it as an error.
	NotImplemented bool
	// Public lists the settings (attribute names) whose values may be
	// shown, in a plan, a diagnostic or a provider's error, even when env()
	// or file() returned them in an untrusted inventory: places and names,
	// such as a URL, a region, a path, an app. The values of other settings
	// from env() or file() are sensitive there (see Untrusted).
	Public []string
	// ApplyOnly lists the settings only apply uses: plan evaluates them
	// without calling env() or file(), which read nothing and are unknown
	// there, and validate checks their shape the same way (see ModePlan).
	// Observation must not need them. A verify block is apply-only as a
	// whole, whatever this says.
	ApplyOnly []string
}

// Destination is one place a block writes a value.
type Destination struct {
	// File is a path the block writes, relative to the inventory directory
	// or absolute; "" when the place is not a file.
	File string
	// Resource names a place that is not a file: "fly app web", "redis 127.0.0.1:6379".
	Resource string
	// Key is what within File or Resource holds the value: an env var, an app secret, an ACL user.
	Key string
}

// KnownString reads a string attribute of a decoded configuration for a
// Writes function: its value, "" when the attribute is null or absent, and
// false when it is not known yet, not a string, or marked Sensitive (a
// place named by a secret's value is never reported).
func KnownString(cfg cty.Value, name string) (string, bool) {
	if cfg == cty.NilVal || cfg.IsMarked() || !cfg.IsKnown() {
		return "", false
	}
	if cfg.IsNull() || !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute(name) {
		return "", true
	}
	v := cfg.GetAttr(name)
	switch {
	case v.ContainsMarked() || !v.IsKnown() || !v.Type().Equals(cty.String):
		return "", false
	case v.IsNull():
		return "", true
	}
	return v.AsString(), true
}

// Schemas looks up the schema for each block type. The providers registry
// implements it.
type Schemas interface {
	// Schema returns the schema of a block type, or false if there is none.
	Schema(kind BlockKind, typeName string) (*BlockSchema, bool)
	// TypeNames lists the valid types of a kind, sorted, for diagnostics.
	TypeNames(kind BlockKind) []string
}

// StateSchemas looks up the schema of each state backend type, for the
// rotplan block's state "TYPE" {} block. The state backends' registry
// implements it.
type StateSchemas interface {
	StateSchema(typeName string) (hcldec.Spec, bool)
	StateTypeNames() []string
}
