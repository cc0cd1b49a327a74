package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/admin"
	"github.com/streamgate/streamgate/proxy/demo"
)

// run is the whole program. It returns when ctx is cancelled (SIGTERM or
// SIGINT in main) and the drain is over, or when serving fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		if cmd, ok := commands[args[0]]; ok {
			return cmd(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
		}
	}
	cfg, err := config.Parse("streamgate", args, getenv, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case err != nil:
		return usageError{err}
	case cfg.Version:
		fmt.Fprintf(stdout, "streamgate %s (%s)\n", buildVersion(), runtime.Version())
		return nil
	}
	if cfg.StateFile != "" {
		if err := limiter.CheckStateFile(cfg.StateFile); err != nil {
			return usageError{fmt.Errorf("invalid value for flag -state-file: cannot be written: %w", err)}
		}
	}
	accessOut, closeAccessOut, err := openAccessLog(cfg.AccessLog, stdout)
	if err != nil {
		return err
	}
	defer closeAccessOut()
	logger := newLogger(cfg, stderr)
	tuneGC(getenv, logger)
	return serve(ctx, cfg, logger, accessOut)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, accessOut io.Writer) error {
	proxyLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("proxy listener -listen %s: %w", cfg.Listen, err)
	}
	defer proxyLn.Close()
	adminLn, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		return fmt.Errorf("admin listener -admin-listen %s: %w", cfg.AdminListen, err)
	}
	defer adminLn.Close()

	store, err := newStore(cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
	)
	stats, _ := store.(limiter.StatsReporter)
	metrics := proxy.NewMetrics(reg, stats)
	identity, closeIdentity, err := newIdentity(cfg, reg, logger)
	if err != nil {
		return err
	}
	defer closeIdentity()

	// Everything that can fail at start has been made; from here on, every
	// server runs in the group and stops in shutdown.
	g, gctx := errgroup.WithContext(ctx)
	upstream := cfg.Upstream
	var demoSrv *http.Server
	if cfg.Demo {
		origin, err := demo.New(demo.Options{})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("demo origin: %w", err)
		}
		demoSrv = proxy.NewServer(origin, logger)
		g.Go(func() error { return serveUntilShutdown(demoSrv, ln) })
		upstream = &url.URL{Scheme: "http", Host: ln.Addr().String()}
	}
	health := admin.NewHealth(store, cfg.StoreTimeout)
	refusals := limiter.NewRefusals(limiter.RefusalsOptions{})
	top, _ := store.(limiter.TopLister)
	monitor := admin.NewMonitor(admin.MonitorOptions{Metrics: metrics, Stats: stats, Refusals: refusals, Top: top})

	gate := proxy.Gate(proxy.GateOptions{
		Store:         store,
		Identity:      identity,
		Limit:         cfg.MaxStreams,
		FailurePolicy: cfg.StoreFailure,
		Metrics:       metrics,
		Logger:        logger,
		Refusals:      refusals,
		MintSessions:  cfg.MintSessions,
		Hardening:     hardening(cfg),
	})
	origin := proxy.NewUpstream(proxy.UpstreamOptions{URL: upstream, HeaderTimeout: cfg.UpstreamTimeout, Metrics: metrics, Logger: logger,
		RewritePlaylists: cfg.Identity == config.IdentityJWT || cfg.MintSessions, MintSessions: cfg.MintSessions,
		SharedCache: cfg.SharedCache})
	proxyHandler, closeAccessLog := withAccessLog(proxy.Handler(logger, gate, origin, proxy.CORS(corsOptions(cfg))), accessOut, reg, logger)
	// After shutdown has drained the proxy listener, so its last lines are written.
	defer closeAccessLog()
	proxySrv := proxy.NewServer(proxyHandler, logger)
	adminSrv := proxy.NewServer(proxy.Recover(logger)(admin.NewAdmin(admin.AdminOptions{
		Store: store, Gatherer: reg, Token: cfg.AdminToken, Limit: cfg.MaxStreams, Health: health, Logger: logger,
		Version: buildVersion(), StoreKind: storeName(cfg), SessionTTL: cfg.SessionTTL, Settings: settings(cfg),
		Stats: stats, Monitor: monitor,
	})), logger)

	g.Go(func() error { return serveUntilShutdown(proxySrv, proxyLn) })
	g.Go(func() error { return serveUntilShutdown(adminSrv, adminLn) })
	g.Go(func() error { monitor.Run(gctx); return nil })
	logger.Info("streamgate listening",
		"proxy", proxyLn.Addr().String(), "admin", adminLn.Addr().String(),
		"upstream", upstream.Redacted(), "demo", cfg.Demo, "store", storeName(cfg),
		"max_streams", cfg.MaxStreams, "session_ttl", cfg.SessionTTL.String(), "version", buildVersion())

	g.Go(func() error {
		<-gctx.Done()
		shutdown(cfg, logger, health, proxySrv, adminSrv, demoSrv, store)
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	logger.Info("streamgate stopped")
	return nil
}

// corsOptions are -cors-origins and the request headers a page may send:
// the identity and limit headers as configured.
func corsOptions(cfg config.Config) proxy.CORSOptions {
	headers := []string{cfg.UserHeader, cfg.SessionHeader}
	if cfg.LimitHeader != "" {
		headers = append(headers, cfg.LimitHeader)
	}
	return proxy.CORSOptions{Origins: cfg.CORSOriginList(), RequestHeaders: headers}
}

// serveUntilShutdown serves until Shutdown or Close, which is not an error.
func serveUntilShutdown(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// shutdown turns readiness off, stops accepting players at once, lets
// in-flight responses finish within -shutdown-timeout, saves the state file,
// and stops the admin listener last so probes and a final scrape still work
// during the drain.
func shutdown(cfg config.Config, logger *slog.Logger, health *admin.Health, proxySrv, adminSrv, demoSrv *http.Server, store limiter.Store) {
	health.Drain()
	logger.Info("draining", "timeout", cfg.ShutdownTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := proxySrv.Shutdown(ctx); err != nil {
		logger.Warn("drain timed out; closing remaining connections", "err", err)
		_ = proxySrv.Close()
	}
	if demoSrv != nil {
		_ = demoSrv.Close()
	}
	if cfg.StateFile != "" {
		saveState(cfg.StateFile, store, logger)
	}
	adminCtx, cancelAdmin := context.WithTimeout(context.Background(), time.Second)
	defer cancelAdmin()
	if err := adminSrv.Shutdown(adminCtx); err != nil {
		_ = adminSrv.Close()
	}
}

func saveState(path string, store limiter.Store, logger *slog.Logger) {
	m, ok := store.(*limiter.Memory)
	if !ok {
		return
	}
	n, err := m.SaveStateFile(path)
	if err != nil {
		logger.Error("state file not written", "path", path, "err", err)
		return
	}
	logger.Info("state file written", "path", path, "users", n)
}

func newStore(cfg config.Config, logger *slog.Logger) (limiter.Store, error) {
	if cfg.UsesRedis() {
		return newRedisStore(cfg, logger)
	}
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: cfg.SessionTTL, MaxUsers: cfg.MaxUsers, OnFull: limiter.OnFull(cfg.OnFull),
		Rules: sessionRules(cfg)})
	if err != nil {
		return nil, err
	}
	if cfg.StateFile != "" {
		n, err := m.LoadStateFile(cfg.StateFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			logger.Info("no state file yet; starting empty", "path", cfg.StateFile)
		case err != nil:
			logger.Warn("state file not fully restored", "path", cfg.StateFile, "users", n, "err", err)
		default:
			logger.Info("state file restored", "path", cfg.StateFile, "users", n)
		}
	}
	return m, nil
}

func storeName(cfg config.Config) string {
	if !cfg.UsesRedis() {
		return "memory"
	}
	if u, err := url.Parse(cfg.Store); err == nil {
		return u.Redacted()
	}
	return "redis"
}

func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "streamgate_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "goversion"})
	g.WithLabelValues(buildVersion(), runtime.Version()).Set(1)
	return g
}

// settings are the flags in force as the console shows them, secrets masked.
func settings(cfg config.Config) []admin.Setting {
	var out []admin.Setting
	for _, s := range cfg.Settings() {
		out = append(out, admin.Setting{Name: s.Flag, Value: s.Value, Default: s.Default, Help: s.Help})
	}
	return out
}
