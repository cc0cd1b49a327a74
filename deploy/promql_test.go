package deploy_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
)

// promqlWords are the PromQL functions, aggregations and keywords: every
// other bare identifier of an expression is a metric name.
var promqlWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`
		abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes
		clamp clamp_max clamp_min cos cosh count_over_time days_in_month day_of_month day_of_week
		day_of_year deg delta deriv exp floor histogram_avg histogram_count histogram_fraction
		histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta
		increase irate label_join label_replace last_over_time ln log10 log2 mad_over_time
		max_over_time min_over_time minute month pi predict_linear present_over_time
		quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
		sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh
		time timestamp vector year
		sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio
		by without on ignoring group_left group_right bool and or unless offset atan2
		label_values query_result inf nan`) {
		promqlWords[w] = true
	}
}

// metricNames returns the metric names an expression selects, or that a
// Grafana label_values(metric, label) query reads. It skips
// strings, label matchers ({…}), ranges ([…]), grouping label lists
// (by (…), on (…), …), numbers, durations and Grafana variables.
func metricNames(expr string) []string {
	if inner, ok := strings.CutPrefix(strings.TrimSpace(expr), "label_values("); ok {
		if i := strings.LastIndex(inner, ","); i >= 0 {
			expr = inner[:i]
		}
	}
	var names []string
	grouping := false // the next parenthesis holds label names
	for i := 0; i < len(expr); {
		c := rune(expr[i])
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && rune(expr[j]) != c {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '{':
			i = skipTo(expr, i, '}')
		case c == '[':
			i = skipTo(expr, i, ']')
		case c == '(' && grouping:
			i = skipTo(expr, i, ')')
			grouping = false
		case c == '$':
			i++
			for i < len(expr) && isIdent(rune(expr[i])) {
				i++
			}
		case unicode.IsDigit(c) || (c == '.' && i+1 < len(expr) && unicode.IsDigit(rune(expr[i+1]))):
			for i < len(expr) && (isIdent(rune(expr[i])) || expr[i] == '.' || ((expr[i] == '+' || expr[i] == '-') && (expr[i-1] == 'e' || expr[i-1] == 'E'))) {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(rune(expr[j])) {
				j++
			}
			word := expr[i:j]
			switch {
			case word == "by" || word == "without" || word == "on" || word == "ignoring" || word == "group_left" || word == "group_right":
				grouping = true
			case promqlWords[word]:
			default:
				names = append(names, word)
			}
			i = j
		default:
			if !unicode.IsSpace(c) {
				grouping = false
			}
			i++
		}
	}
	return names
}

func skipTo(s string, i int, end byte) int {
	for i < len(s) && s[i] != end {
		if s[i] == '"' {
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
		}
		i++
	}
	return i + 1
}

func isIdentStart(c rune) bool { return c == '_' || c == ':' || unicode.IsLetter(c) }
func isIdent(c rune) bool      { return isIdentStart(c) || unicode.IsDigit(c) }

func TestMetricNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, expr string
		want       []string
	}{
		{name: "rate", expr: `sum by (result) (rate(streamgate_admissions_total{namespace=~"$namespace"}[$__rate_interval]))`, want: []string{"streamgate_admissions_total"}},
		{name: "quantile", expr: `histogram_quantile(0.99, sum by (le) (rate(streamgate_decision_duration_seconds_bucket[5m])))`, want: []string{"streamgate_decision_duration_seconds_bucket"}},
		{name: "binary with grouping", expr: `a_total / on (pod) group_left (node) b{x="by (y) z"} > 1e-3 and c offset 5m`, want: []string{"a_total", "b", "c"}},
		{name: "unless and count", expr: "count by (namespace) (kube_pod_init_container_info{container=\"streamgate\"})\nunless\ncount(up == 1)", want: []string{"kube_pod_init_container_info", "up"}},
		{name: "grafana variable query", expr: `label_values(streamgate_admissions_total{job="x"}, namespace)`, want: []string{"streamgate_admissions_total"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, metricNames(tc.expr))
		})
	}
}
