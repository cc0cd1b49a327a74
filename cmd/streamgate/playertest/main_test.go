package playertest

import (
	"bytes"
	"flag"
	"fmt"
	"mime"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// What TestMain prepares once for every test of the package.
var (
	// gateBin is the streamgate binary built from this tree.
	gateBin string
	// gateHelp is its -help text: a flag gone from it fails the tests
	// that use it (needFlag).
	gateHelp string
	// mediaDir holds the test stream (media.go); empty without ffmpeg.
	mediaDir string
	// pages serves the player pages and the players' dist files, on an
	// origin of its own (another port is another origin to a browser).
	pages *httptest.Server
	// setupErr says why the prepared pieces are missing.
	setupErr = map[string]string{}
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The tests mostly wait on players in the browser, not on the CPU: let
	// more of them run at once than go test's default of GOMAXPROCS (the
	// browser's own budget is browserTests), unless -parallel was given.
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", "8")
	}
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "streamgate-playertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	// STREAMGATE_PLAYERTEST_BIN runs the tests against a binary built
	// elsewhere (another branch, a release); by default this tree's.
	gateBin = os.Getenv("STREAMGATE_PLAYERTEST_BIN")
	if gateBin == "" {
		gateBin = filepath.Join(dir, "streamgate")
		build := exec.Command("go", "build", "-o", gateBin, "github.com/streamgate/streamgate/cmd/streamgate")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building streamgate: %v\n%s", err, out)
			return 1
		}
	}
	var help bytes.Buffer
	cmd := exec.Command(gateBin, "-help")
	cmd.Stdout, cmd.Stderr = &help, &help
	_ = cmd.Run() // -help exits 0 or 2 depending on the flag package; the text is what counts
	gateHelp = help.String()

	for ext, typ := range map[string]string{
		".m3u8": "application/vnd.apple.mpegurl",
		".mpd":  "application/dash+xml",
		".m4s":  "video/iso.segment",
		".mp4":  "video/mp4",
	} {
		_ = mime.AddExtensionType(ext, typ)
	}

	if _, err := exec.LookPath("ffmpeg"); err != nil {
		setupErr["ffmpeg"] = "ffmpeg is not installed (.ci/deps installs it)"
	} else {
		mediaDir = filepath.Join(dir, "media")
		if err := makeMedia(mediaDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}

	if _, err := os.Stat(filepath.Join("node_modules", "hls.js", "package.json")); err != nil {
		setupErr["players"] = "the players' npm packages are not installed: npm ci --prefix cmd/streamgate/playertest (.ci/deps runs it)"
	}
	pages = httptest.NewServer(pagesHandler())
	defer pages.Close()
	defer closeBrowser()

	return m.Run()
}

// needFlag skips a test whose feature has not landed: its flag is missing
// from streamgate's -help.
func needFlag(t *testing.T, name string) {
	t.Helper()
	// Every feature these tests exercise has landed: a flag gone from
	// -help is a regression, not a reason to skip.
	if !hasFlag(name) {
		t.Fatalf("streamgate -help has no %s", name)
	}
}

func hasFlag(name string) bool {
	return strings.Contains(gateHelp, "\n  "+name+" ") || strings.Contains(gateHelp, "\n  "+name+"\n")
}

// needMedia fails a test that needs ffmpeg's stream when ffmpeg is missing;
// -short skips the real players.
func needMedia(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("real players: not in -short")
	}
	if why, ok := setupErr["ffmpeg"]; ok {
		t.Fatal(why)
	}
}
