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
	// Authenticates marks a target that checks logins with the value (a
	// database role, a Redis user) rather than holding a copy: apply sets
	// it before it delivers copies, and rolls it back last.
	Authenticates bool
	// RotationNote, when set, says in words what a rotation through a block
	// of this type does that an operator should know before approving it
	// ("the old password stops working at once"); "" when nothing.
	RotationNote func(cfg cty.Value) string
	// NotImplemented marks a type whose schema is known but whose provider
	// is not built yet: it validates, and plan reports it as an error.
	NotImplemented bool
}

// Schemas looks up the schema for each block type. The providers registry
// implements it.
type Schemas interface {
	// Schema returns the schema of a block type, or false if there is none.
	Schema(kind BlockKind, typeName string) (*BlockSchema, bool)
	// TypeNames lists the valid types of a kind, sorted, for diagnostics.
	TypeNames(kind BlockKind) []string
}
