// Package k8scheck holds no code: its test validates the Kubernetes Job that
// sweep.Kubernetes writes ('gridgpu sweep --emit k8s') against the batch/v1
// API types of k8s.io/api, the types a cluster's API server decodes it into.
// It is a package of its own so that only this test builds those types.
package k8scheck
