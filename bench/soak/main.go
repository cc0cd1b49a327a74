// Command soak is a player simulator for streamgate: it builds the proxy,
// starts a real redis-server and two replicas on loopback (or one replica on
// the memory store), an origin, and users × devices players that start
// sessions, heartbeat every period, end them by DELETE or by going silent,
// and come back. Requests go to the replicas in turn. It then counts the
// over-admissions the strict way (see check) and the playing devices
// refused.
//
//	go run ./bench/soak -duration 60s
//	go run ./bench/soak -duration 60s -refresh-interval 0
//	go run ./bench/soak -duration 60s -store memory
//
// It exits 1 when an over-admission or a cut was seen, 2 on bad flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	o := Options{RefreshInterval: -1}
	flag.DurationVar(&o.Duration, "duration", 60*time.Second, "how long the players play")
	flag.IntVar(&o.Users, "users", 200, "users")
	flag.IntVar(&o.Devices, "devices", 5, "devices per user")
	flag.IntVar(&o.Limit, "max-streams", 3, "streamgate's -max-streams")
	flag.DurationVar(&o.TTL, "session-ttl", 3*time.Second, "streamgate's -session-ttl")
	flag.DurationVar(&o.Period, "period", 300*time.Millisecond, "time between two requests of a playing device")
	refresh := flag.String("refresh-interval", "", "streamgate's -refresh-interval (default: streamgate's)")
	flag.StringVar(&o.Store, "store", "redis", "redis (two replicas on one Redis) or memory (one replica)")
	flag.DurationVar(&o.StoreTimeout, "store-timeout", time.Second, "streamgate's -store-timeout: long, so that a loaded machine's timeouts (decided by -store-failure) do not blur what the store decides")
	flag.StringVar(&o.Binary, "binary", "", "streamgate binary to run (default: built from this module)")
	flag.Parse()
	if *refresh != "" {
		d, err := time.ParseDuration(*refresh)
		if err != nil || d < 0 {
			fmt.Fprintln(os.Stderr, "soak: -refresh-interval: want a duration >= 0")
			os.Exit(2)
		}
		o.RefreshInterval = d
	}
	if o.Store != "redis" && o.Store != "memory" {
		fmt.Fprintln(os.Stderr, "soak: -store: want redis or memory")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	res, err := Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	refreshText := *refresh
	if refreshText == "" {
		refreshText = "default"
	}
	fmt.Printf("soak: store %s, %d users × %d devices, limit %d, TTL %s, a request every %s, refresh interval %s, store timeout %s, %s:\n  %s\n",
		o.Store, o.Users, o.Devices, o.Limit, o.TTL, o.Period, refreshText, o.StoreTimeout, time.Since(start).Round(time.Second), res)
	for _, l := range res.Logs {
		fmt.Println(" ", l)
	}
	if res.OverAdmitted > 0 || res.Cuts > 0 {
		os.Exit(1)
	}
}
