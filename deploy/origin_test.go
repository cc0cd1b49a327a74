package deploy_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestExampleOriginBehindStreamgate runs the base's nginx configuration and
// video, laid out as the pod's volumes lay them out, behind the real
// streamgate binary, on loopback: playlists and segments come through with
// their types, Range works, and the fourth session is refused.
func TestExampleOriginBehindStreamgate(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs nginx and streamgate")
	}
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatal("nginx is not installed: make deps installs it")
	}

	b := kustomize(t, "base")
	var origin *appsv1.Deployment
	for _, d := range b.deployments() {
		origin = d
	}
	require.NotNil(t, origin)
	configMaps := map[string]*corev1.ConfigMap{}
	for _, c := range all[*corev1.ConfigMap](b) {
		configMaps[c.Name] = c
	}

	// The volumes of the origin container, as the kubelet would mount them.
	dir := t.TempDir()
	mounts := map[string]string{}
	for _, m := range origin.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	root := map[string]string{} // mount path in the pod → directory here
	for _, v := range origin.Spec.Template.Spec.Volumes {
		local := filepath.Join(dir, v.Name)
		require.NoError(t, os.MkdirAll(local, 0o755))
		root[mounts[v.Name]] = local
		if v.ConfigMap == nil {
			continue
		}
		cm := configMaps[v.ConfigMap.Name]
		require.NotNil(t, cm, v.ConfigMap.Name)
		files := map[string]string{}
		for k := range cm.Data {
			files[k] = k
		}
		for k := range cm.BinaryData {
			files[k] = k
		}
		if len(v.ConfigMap.Items) > 0 {
			files = map[string]string{}
			for _, it := range v.ConfigMap.Items {
				files[it.Path] = it.Key
			}
		}
		for path, key := range files {
			content := []byte(cm.Data[key])
			if b, ok := cm.BinaryData[key]; ok {
				content = b
			}
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(local, path)), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(local, path), content, 0o644))
		}
	}

	// The pod's fixed ports become free loopback ports here; the paths, this
	// test's directories.
	conf, err := os.ReadFile(filepath.Join(root["/etc/nginx/conf.d"], "default.conf"))
	require.NoError(t, err)
	originPort, healthPort := freePort(t), freePort(t)
	site := strings.NewReplacer(
		"listen 127.0.0.1:8081;", fmt.Sprintf("listen 127.0.0.1:%d;", originPort),
		"listen 8082;", fmt.Sprintf("listen 127.0.0.1:%d;", healthPort),
		"root /usr/share/nginx/hls;", "root "+root["/usr/share/nginx/hls"]+";",
	).Replace(string(conf))
	require.NotEqual(t, string(conf), site)
	tmp := root["/tmp"]
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path %[1]s/client;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, tmp, site)
	mainFile := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(mainFile, []byte(main), 0o644))

	cmd := exec.Command(nginx, "-p", dir, "-e", "stderr", "-c", mainFile)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	health := fmt.Sprintf("http://127.0.0.1:%d/healthz", healthPort)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(health)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "ok\n", string(body))
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("nginx exited: %v\n%s", err, logs.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "nginx never answered its health port:\n%s", logs.String())
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/master.m3u8", healthPort))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the health port serves no video")

	in := startStreamgate(t, fmt.Sprintf("-upstream=http://127.0.0.1:%d", originPort))
	fetch := func(path, session string, header ...string) (*http.Response, []byte) {
		req, err := http.NewRequest(http.MethodGet, in.proxy+path, nil)
		require.NoError(t, err)
		req.Header.Set("X-User-Id", "alice")
		req.Header.Set("X-Session-Id", session)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, body
	}

	resp, body := fetch("/master.m3u8", "phone")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, "application/vnd.apple.mpegurl", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(body), "360p/index.m3u8")
	resp, body = fetch("/360p/index.m3u8", "phone")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "seg-2.ts\n#EXT-X-ENDLIST")
	resp, body = fetch("/360p/seg-2.ts", "phone")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "video/mp2t", resp.Header.Get("Content-Type"))
	assert.Len(t, body, 1880)
	assert.Equal(t, byte(0x47), body[0], "MPEG-TS sync byte")
	resp, body = fetch("/360p/seg-0.ts", "phone", "Range", "bytes=188-375")
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Len(t, body, 188)

	for _, s := range []string{"tv", "laptop"} {
		resp, _ = fetch("/master.m3u8", s)
		assert.Equal(t, http.StatusOK, resp.StatusCode, s)
	}
	resp, _ = fetch("/master.m3u8", "tablet")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the fourth stream")
}
