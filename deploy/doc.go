// Package deploy holds no code: its tests build and check the Kubernetes
// manifests, the monitoring rules and dashboard, the Dockerfile and the
// injected sidecar kept in this folder, against the real binary.
package deploy
