package deploy_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/streamgate/streamgate/deploy/inject"
)

// TestBaseSidecarIsWhatInjectAdds: the hand-written sidecar of deploy/base
// is the one streamgate inject adds to the same origin, but for the state
// file the base keeps on an emptyDir. Both stay in step.
func TestBaseSidecarIsWhatInjectAdds(t *testing.T) {
	t.Parallel()
	var base *corev1.PodTemplateSpec
	for _, d := range kustomize(t, "base").deployments() {
		base = &d.Spec.Template
	}
	require.NotNil(t, base)
	want := base.Spec.InitContainers[0]
	require.Equal(t, inject.ContainerName, want.Name)

	// The base's origin alone, as a user would hand it to streamgate inject.
	origin := base.DeepCopy()
	origin.Spec.InitContainers = nil
	origin.Spec.TerminationGracePeriodSeconds = nil
	origin.Annotations = nil
	// The base keeps streamgate's own default ports, which its origin (8081)
	// does not use; inject's defaults are reserved high ports.
	in, err := inject.New(inject.Options{Port: "http", Image: want.Image, ProxyPort: 8080, AdminPort: 9090,
		AdminTokenSecret: "streamgate-admin", Args: []string{"-shutdown-timeout=30s"}})
	require.NoError(t, err)
	res, err := in.Inject(&origin.ObjectMeta, &origin.Spec)
	require.NoError(t, err)
	assert.Empty(t, res.Warnings)

	got := origin.Spec.InitContainers[0]
	want.Env = slices.DeleteFunc(slices.Clone(want.Env), func(e corev1.EnvVar) bool { return e.Name == "STREAMGATE_STATE_FILE" })
	want.VolumeMounts = nil
	// The base's token Secret is optional, for a first apply without it; a
	// Secret named to streamgate inject must exist.
	for i, e := range want.Env {
		if e.Name == "STREAMGATE_ADMIN_TOKEN" {
			ref := *e.ValueFrom.SecretKeyRef
			assert.True(t, *ref.Optional)
			ref.Optional = nil
			want.Env[i].ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &ref}
		}
	}
	assert.Equal(t, want, got)
	assert.Equal(t, base.Spec.TerminationGracePeriodSeconds, origin.Spec.TerminationGracePeriodSeconds)
	assert.Equal(t, base.Annotations, origin.Annotations)
}
