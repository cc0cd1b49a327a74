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
	in, err := inject.New(inject.Options{Port: "http", Image: want.Image, Args: []string{"-shutdown-timeout=30s"}})
	require.NoError(t, err)
	res, err := in.Inject(&origin.ObjectMeta, &origin.Spec)
	require.NoError(t, err)
	assert.Empty(t, res.Warnings)

	got := origin.Spec.InitContainers[0]
	want.Env = slices.DeleteFunc(slices.Clone(want.Env), func(e corev1.EnvVar) bool { return e.Name == "STREAMGATE_STATE_FILE" })
	want.VolumeMounts = nil
	assert.Equal(t, want, got)
	assert.Equal(t, base.Spec.TerminationGracePeriodSeconds, origin.Spec.TerminationGracePeriodSeconds)
	assert.Equal(t, base.Annotations, origin.Annotations)
}
