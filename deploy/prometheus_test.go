package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sigsyaml "sigs.k8s.io/yaml"
)

// promtool returns the path of promtool. CI must have it (.ci/deps installs
// Debian's prometheus package); elsewhere its tests are skipped without it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: make deps installs it (Debian package prometheus)")
	}
	return p
}

func TestPromtoolChecksRules(t *testing.T) {
	t.Parallel()
	tool := promtool(t)
	rules, err := sigsyaml.Marshal(alertRules(t))
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "streamgate.rules.yaml")
	require.NoError(t, os.WriteFile(file, rules, 0o600))
	out, err := exec.Command(tool, "check", "rules", file).CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s", out)
	assert.Contains(t, string(out), "SUCCESS: 7 rules found")
}

func TestPromtoolChecksLiveMetrics(t *testing.T) {
	t.Parallel()
	tool := promtool(t)
	scrape := liveScrape(t)
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "promtool's lint findings")
}

// exported returns the sample names of a scrape (histograms give their
// _bucket, _sum and _count).
func exported(scrape string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(scrape, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ H, W, X, Y int } `json:"gridPos"`
		Targets []struct {
			Expr   string `json:"expr"`
			RefID  string `json:"refId"`
			Legend string `json:"legendFormat"`
		} `json:"targets"`
	} `json:"panels"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("monitoring", "dashboards", "streamgate.json"))
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(raw, &d))
	return d
}

// TestDashboardShowsWhatOperatorsNeed: the panels the issue asks for exist
// and each has a Prometheus query.
func TestDashboardShowsWhatOperatorsNeed(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	assert.Equal(t, "streamgate", d.UID)
	var all []string
	ids := map[int]bool{}
	for _, p := range d.Panels {
		assert.False(t, ids[p.ID], "panel id %d twice", p.ID)
		ids[p.ID] = true
		assert.Equal(t, "prometheus", p.Datasource.Type, p.Title)
		assert.Equal(t, "${datasource}", p.Datasource.UID, p.Title)
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, p.Title)
			all = append(all, tg.Expr)
		}
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{
		"rate(streamgate_admissions_total",
		"rate(streamgate_rejections_total",
		"streamgate_active_sessions",
		"histogram_quantile(0.5, sum by (le) (rate(streamgate_decision_duration_seconds_bucket",
		"histogram_quantile(0.99, sum by (le) (rate(streamgate_decision_duration_seconds_bucket",
		"rate(streamgate_store_errors_total",
	} {
		assert.Contains(t, joined, want)
	}
}

// TestQueriesNameOnlyExportedMetrics: every metric a dashboard query or an
// alert reads is on a live /metrics page of the real binary, except the
// kube-state-metrics ones the no-replica-ready alert needs.
func TestQueriesNameOnlyExportedMetrics(t *testing.T) {
	t.Parallel()
	have := exported(liveScrape(t))
	require.True(t, have["streamgate_admissions_total"], "the scrape has streamgate's metrics")

	d := loadDashboard(t)
	checked := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			names := metricNames(tg.Expr)
			require.NotEmpty(t, names, "%s: %s", p.Title, tg.Expr)
			for _, n := range names {
				assert.True(t, have[n], "panel %q reads %s, which streamgate does not export", p.Title, n)
				checked++
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		require.NoError(t, json.Unmarshal(v.Query, &q), v.Name)
		for _, n := range metricNames(q.Query) {
			assert.True(t, have[n], "variable %s reads %s, which streamgate does not export", v.Name, n)
			checked++
		}
	}

	kubeStateMetrics := map[string]bool{"kube_pod_status_ready": true, "kube_pod_init_container_info": true}
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			for _, n := range metricNames(r.Expr) {
				assert.True(t, have[n] || kubeStateMetrics[n], "alert %s reads %s, which streamgate does not export", r.Alert, n)
				checked++
			}
		}
	}
	assert.Greater(t, checked, 20)
}

// TestDashboardQueriesParse: promtool parses every dashboard query, with
// Grafana's variables given values, as the expression of a recording rule.
func TestDashboardQueriesParse(t *testing.T) {
	t.Parallel()
	tool := promtool(t)
	vars := regexp.MustCompile(`\$(__rate_interval|namespace|\{[a-z_]+\})`)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for _, p := range loadDashboard(t).Panels {
		for _, tg := range p.Targets {
			expr := vars.ReplaceAllStringFunc(tg.Expr, func(v string) string {
				if v == "$__rate_interval" {
					return "1m"
				}
				return ".*"
			})
			q, err := json.Marshal(expr)
			require.NoError(t, err)
			rules.WriteString("      - record: dashboard:query\n        expr: " + string(q) + "\n")
		}
	}
	file := filepath.Join(t.TempDir(), "dashboard.rules.yaml")
	require.NoError(t, os.WriteFile(file, []byte(rules.String()), 0o600))
	out, err := exec.Command(tool, "check", "rules", file).CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s\n%s", out, rules.String())
}
