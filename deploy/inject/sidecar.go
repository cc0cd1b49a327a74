package inject

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/streamgate/streamgate/config"
)

// nonrootUID is the nonroot user of the distroless image streamgate ships in.
const nonrootUID = 65532

// sidecar is the streamgate container for an origin on upstreamPort: a
// native sidecar (an init container that keeps running), probed on the admin
// port, with the restricted security profile, and a preStop sleep (the image
// has no shell, so the kubelet's own sleep action).
func (in *Injector) sidecar(upstreamPort int32) corev1.Container {
	c := corev1.Container{
		Name:          ContainerName,
		Image:         in.image,
		Args:          in.sidecarArgs(upstreamPort),
		RestartPolicy: new(corev1.ContainerRestartPolicyAlways),
		Ports: []corev1.ContainerPort{
			{Name: ProxyPortName, ContainerPort: in.opts.ProxyPort, Protocol: corev1.ProtocolTCP},
			{Name: AdminPortName, ContainerPort: in.opts.AdminPort, Protocol: corev1.ProtocolTCP},
		},
		// No GOMEMLIMIT: streamgate sets it to 90% of the container's
		// memory limit, read from its cgroup, leaving room for stacks and
		// buffers; the downward API could only give the whole limit.
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: in.cpuReq, corev1.ResourceMemory: in.memReq},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: in.memLimit},
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:     httpGet("/healthz"),
			PeriodSeconds:    10,
			TimeoutSeconds:   2,
			FailureThreshold: 3,
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     httpGet("/readyz"),
			PeriodSeconds:    5,
			TimeoutSeconds:   2,
			FailureThreshold: 2,
		},
		Lifecycle: &corev1.Lifecycle{
			PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: in.preStopSeconds}},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             new(true),
			RunAsUser:                new(int64(nonrootUID)),
			RunAsGroup:               new(int64(nonrootUID)),
			ReadOnlyRootFilesystem:   new(true),
			AllowPrivilegeEscalation: new(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	if in.tokenSecretName != "" {
		c.Env = append(c.Env, secretEnv(config.EnvName("admin-token"), in.tokenSecretName, in.tokenSecretKey))
	}
	if in.secretName != "" {
		c.Env = append(c.Env, secretEnv(config.EnvName("store"), in.secretName, in.secretKey))
	}
	return c
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{
		Name: name,
		ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret},
			Key:                  key,
		}},
	}
}

func httpGet(path string) corev1.ProbeHandler {
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(AdminPortName)}}
}
