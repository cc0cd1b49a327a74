package proxytest

import (
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumPath finds the browser of the browser tests: STREAMGATE_CHROMIUM,
// else Debian's chromium on the PATH. Missing, it fails the test: make test
// installs it (.ci/deps); what names the tests that need it.
func ChromiumPath(t testing.TB, what string) string {
	t.Helper()
	if p := os.Getenv("STREAMGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: make deps installs it, for " + what)
	return ""
}

// ChromiumOptions are the flags headless chromium needs on these machines:
// no sandbox (root), no GPU, and none of the background connections that a
// closed network refuses many at a time.
func ChromiumOptions(path, userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(userDataDir),
	}
}
