package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/streamgate/streamgate/cmd/internal/cli"
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
		return cli.Usage(err)
	case cfg.Version:
		fmt.Fprintf(stdout, "streamgate %s (%s)\n", buildVersion(), runtime.Version())
		return nil
	}
	logger := cli.NewLogger(cfg.LogFormat, cfg.LogLevel, stderr)
	rt := tuneGC(getenv)
	if !cfg.MaxUsersGiven {
		cfg.MaxUsers = rt.maxUsers()
	}
	accessOut, closeAccessOut, err := openAccessLog(cfg.AccessLog, stdout)
	if err != nil {
		return err
	}
	defer closeAccessOut()
	return serve(ctx, cfg, logger, rt, accessOut)
}

// serve makes everything that can fail at start before it logs a line, so
// that a bad flag value found there is the only line on stderr.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger, rt runtimeTuning, accessOut io.Writer) error {
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

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
	)
	identity, closeIdentity, err := newIdentity(cfg, reg, logger)
	if err != nil {
		return err
	}
	defer closeIdentity()
	store, err := newStore(cfg, logger)
	if err != nil {
		return err
	}
	// Closed once: before the last log line when all went well (the memory
	// store writes its state file then), on the way out otherwise.
	closeStore := sync.OnceValue(store.Close)
	defer closeStore()
	stats, _ := store.(limiter.StatsReporter)
	metrics := proxy.NewMetrics(reg, stats)

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
		Store:        store,
		Identity:     identity,
		Limit:        cfg.MaxStreams,
		Metrics:      metrics,
		Logger:       logger,
		Refusals:     refusals,
		MintSessions: cfg.MintSessions,
		Hardening:    hardening(cfg),
	})
	origin := proxy.NewUpstream(proxy.UpstreamOptions{URL: upstream, HeaderTimeout: cfg.UpstreamTimeout, Metrics: metrics, Logger: logger,
		RewritePlaylists: cfg.Identity == config.IdentityJWT || cfg.MintSessions, MintSessions: cfg.MintSessions,
		TokenParam: tokenParam(cfg), SharedCache: cfg.SharedCache})
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
	if sizer, ok := store.(limiter.TableSizer); ok && rt.limit > 0 {
		g.Go(func() error { followTable(gctx, rt.limit, sizer.TableBytes, tableFollowInterval); return nil })
	}
	logger.Info("go runtime", rt.logAttrs(cfg)...)
	logger.Info("streamgate listening",
		"proxy", proxyLn.Addr().String(), "admin", adminLn.Addr().String(),
		"upstream", upstream.Redacted(), "demo", cfg.Demo, "store", storeName(cfg),
		"max_streams", cfg.MaxStreams, "session_ttl", cfg.SessionTTL.String(), "version", buildVersion())

	g.Go(func() error {
		<-gctx.Done()
		shutdown(cfg, logger, health, proxySrv, adminSrv, demoSrv)
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	_ = closeStore() // its errors are logged by the store
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
// in-flight responses finish within -shutdown-timeout, and stops the admin
// listener last so probes and a final scrape still work during the drain.
// The memory store writes its state file when serve closes it.
func shutdown(cfg config.Config, logger *slog.Logger, health *admin.Health, proxySrv, adminSrv, demoSrv *http.Server) {
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
	adminCtx, cancelAdmin := context.WithTimeout(context.Background(), time.Second)
	defer cancelAdmin()
	if err := adminSrv.Shutdown(adminCtx); err != nil {
		_ = adminSrv.Close()
	}
}

func newStore(cfg config.Config, logger *slog.Logger) (limiter.Store, error) {
	if cfg.UsesRedis() {
		return newRedisStore(cfg, logger)
	}
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: cfg.SessionTTL, MaxUsers: cfg.MaxUsers, OnFull: cfg.OnFull,
		Rules: sessionRules(cfg), StateFile: cfg.StateFile, Logger: logger})
	if errors.Is(err, limiter.ErrStateFile) {
		return nil, cli.Usage(fmt.Errorf("invalid value for flag -state-file: %w", err))
	}
	return m, err
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
