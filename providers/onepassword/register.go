package onepassword

import "github.com/rotplan/rotplan/providers"

// Register adds this package's block types to r.
func Register(r *providers.Registry) {}
