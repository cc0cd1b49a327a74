package admin

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// AdminPatterns lists the admin listener's route patterns, for the test that
// holds them to openapi.json.
func AdminPatterns() []string {
	a := &admin{AdminOptions: AdminOptions{Gatherer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)}}
	var out []string
	for _, rt := range a.routes() {
		out = append(out, rt.pattern)
	}
	return out
}
