package generators

import (
	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/providers"
)

// Register adds this package's generator types to r.
func Register(r *providers.Registry) {
	r.Generator("random", config.BlockSchema{Spec: randomSpec}, func(providers.Settings) (providers.Generator, error) {
		return &Random{}, nil
	})
	r.Generator("password", config.BlockSchema{Spec: passwordSpec}, func(providers.Settings) (providers.Generator, error) {
		return &Password{}, nil
	})
	r.Generator("rsa", config.BlockSchema{Spec: rsaSpec}, func(providers.Settings) (providers.Generator, error) {
		return &RSA{}, nil
	})
	r.Generator("ecdsa", config.BlockSchema{Spec: ecdsaSpec}, func(providers.Settings) (providers.Generator, error) {
		return &ECDSA{}, nil
	})
	r.Generator("ed25519", config.BlockSchema{Spec: ed25519Spec}, func(providers.Settings) (providers.Generator, error) {
		return &Ed25519{}, nil
	})
	r.Generator("template", config.BlockSchema{Spec: templateSpec, ApplyOnly: []string{"template"}}, func(providers.Settings) (providers.Generator, error) {
		return &Template{}, nil
	})
	r.Generator("manual", config.BlockSchema{Spec: manualSpec, Manual: true}, func(providers.Settings) (providers.Generator, error) {
		return &Manual{}, nil
	})
}
