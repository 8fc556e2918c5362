// Package interop checks apiguard against OpenID providers nobody here
// wrote, started on loopback by the tests themselves.
//
// It is a module of its own so that the providers (and everything they
// pull in) are never dependencies of apiguard.
//
// # Providers
//
//   - ./zitadel: the zitadel/oidc v3 example OP, in process.
//   - ./hydra: Ory Hydra v2, built once from the module proxy and run as a
//     child process (see hydra's TestMain for the build cache).
//   - ./panva: panva's oidc-provider (npm, pinned by a lock file) run with
//     node: introspection refuses its refresh tokens.
package interop
