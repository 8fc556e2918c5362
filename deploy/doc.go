// Package deploy holds no code: its tests check the deployment files against
// the apiguard binary they deploy.
//
//   - kubernetes/: every manifest decodes strictly into the k8s.io/api types
//     (an unknown or misspelt field fails), the pods are hardened (non-root,
//     read-only root file system, no privilege escalation, no capabilities,
//     resource requests and limits, a PodDisruptionBudget each), and probes,
//     ports, environment variable names, the mounted gateway rules and the
//     Secret references match what `apiguard serve` and `apiguard gateway`
//     really serve and read: the tests build ../cmd/apiguard, read the
//     settings from its -h output, and start serve and gateway with the
//     manifests' environment on loopback.
//   - ../Containerfile (image_test.go): scripts/image.sh builds the image in a
//     private podman store, and the test checks its entrypoint, user, port,
//     labels, contents and size, then runs the very binary it holds outside
//     the image. Containers cannot be started on the machines the tests run
//     on (they may not set resource limits), so the image itself is never
//     run. APIGUARD_SKIP_IMAGE=1 skips this test (scripts/test.sh --quick).
//
// It is a module of its own so that k8s.io/api is never a dependency of
// apiguard itself.
package deploy
