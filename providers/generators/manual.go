package generators

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/providers"
)

// ErrOperatorInput is what Manual.Generate returns (wrapped): rotplan cannot
// make the value, a person must supply it.
var ErrOperatorInput = errors.New("this value is made by a person: supply it with -value-file or at the prompt")

// Manual stands for a value only a person can make, in a vendor's console:
//
//	generate "manual" {
//	  instructions        = "Create a key at https://console.anthropic.com/settings/keys"
//	  revoke_instructions = "Delete the old key on the same page"
//	}
//
// Its schema is marked Manual, so the executor asks the operator (or reads
// -value-file) instead of calling Generate, and prints the instructions.
type Manual struct{}

var _ providers.Generator = (*Manual)(nil)

var (
	manualInstructions = attribute{name: "instructions", typ: cty.String, required: true, check: notBlank}
	manualRevoke       = attribute{name: "revoke_instructions", typ: cty.String, check: notBlank}
	manualSpec         = hcldec.ObjectSpec{
		manualInstructions.name: manualInstructions.spec(),
		manualRevoke.name:       manualRevoke.spec(),
	}
)

// Generate implements providers.Generator: it always fails with
// ErrOperatorInput.
func (*Manual) Generate(context.Context, providers.GenerateRequest) (*providers.GenerateResponse, error) {
	return nil, fmt.Errorf("manual: %w", ErrOperatorInput)
}
