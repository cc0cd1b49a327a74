package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure one soak run.
type Options struct {
	Duration time.Duration
	Users    int
	Devices  int           // per user
	Limit    int           // -max-streams
	TTL      time.Duration // -session-ttl
	Period   time.Duration // between two requests of one device
	// RefreshInterval is -refresh-interval; negative leaves streamgate's default.
	RefreshInterval time.Duration
	// Store is "redis" (two replicas on one Redis) or "memory" (one replica).
	Store string
	// RedisURL is set by Run for the redis store.
	RedisURL string
	// Binary is a streamgate binary to run; empty builds one.
	Binary string
	// StoreTimeout is -store-timeout; 0 leaves streamgate's default.
	StoreTimeout time.Duration
}

// Result is what a run measured.
type Result struct {
	Requests, Admitted, Refused, Failed int
	Sessions                            int
	// OverAdmitted counts admitted requests (and distinct sessions, users)
	// while Limit other sessions of the user were provably held for the whole
	// request.
	OverAdmitted, OverSessions, OverUsers int
	// Cuts counts refusals of a session that had been admitted less than a
	// TTL before and never ended by its device.
	Cuts int
	// Degraded and StoreErrors are the replicas' own counters: decisions
	// taken by -store-failure, and failed store calls.
	Degraded, StoreErrors float64
	// Logs are the last lines the replicas logged (warnings and errors).
	Logs []string
}

func (r Result) String() string {
	return fmt.Sprintf("%d requests: %d admitted, %d refused (429), %d failed; %d sessions; "+
		"over-admissions: %d requests, %d sessions, %d users; cuts: %d",
		r.Requests, r.Admitted, r.Refused, r.Failed, r.Sessions, r.OverAdmitted, r.OverSessions, r.OverUsers, r.Cuts) +
		fmt.Sprintf("; degraded decisions: %.0f, store errors: %.0f", r.Degraded, r.StoreErrors)
}

// Run starts the origin, the store and the replicas, drives the players for
// o.Duration and checks what they were told.
func Run(ctx context.Context, o Options) (Result, error) {
	dir, err := os.MkdirTemp("", "streamgate-soak-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	bin := o.Binary
	if bin == "" {
		if bin, err = buildStreamgate(dir); err != nil {
			return Result{}, err
		}
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		_, _ = io.WriteString(w, "segment")
	}))
	defer origin.Close()

	replicas := 1
	if o.Store == "redis" {
		rp, addr, err := startRedis(dir)
		if err != nil {
			return Result{}, err
		}
		defer rp.Stop()
		o.RedisURL = "redis://" + addr
		replicas = 2
	}
	var urls []string
	var reps []*replica
	for i := range replicas {
		r, err := startReplica(dir, bin, "streamgate"+strconv.Itoa(i), origin.URL, o)
		if err != nil {
			return Result{}, err
		}
		defer r.Stop()
		urls = append(urls, r.url)
		reps = append(reps, r)
	}

	log := drive(ctx, o, urls)
	res := check(log, o)
	for _, r := range reps {
		res.Degraded += r.counter("streamgate_degraded_decisions_total")
		res.StoreErrors += r.counter("streamgate_store_errors_total")
		if t := r.Tail(); t != "" {
			res.Logs = append(res.Logs, r.Name+": "+t)
		}
	}
	return res, nil
}

// event is one request as its device saw it.
type event struct {
	user, device int
	session      string
	end          bool // a DELETE
	send, recv   time.Duration
	status       int // 0: no answer
}

// drive runs the players: each device starts a session, plays it for a
// while with a request every Period, ends it by DELETE or by going silent,
// pauses, and starts another. Requests go to the replicas in turn.
func drive(ctx context.Context, o Options, urls []string) []event {
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	tr := &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	epoch := time.Now()
	var next atomic.Uint64
	var mu sync.Mutex
	var log []event
	var wg sync.WaitGroup
	for u := range o.Users {
		for d := range o.Devices {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(u), uint64(d)))
				var mine []event
				play(ctx, o, rng, u, d, func(session string, end bool) int {
					url := urls[next.Add(1)%uint64(len(urls))]
					ev := event{user: u, device: d, session: session, end: end}
					method, path := http.MethodGet, "/seg.ts"
					if end {
						method, path = http.MethodDelete, "/_streamgate/session"
					}
					req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), method, url+path, nil)
					req.Header.Set("X-User-Id", "user"+strconv.Itoa(u))
					req.Header.Set("X-Session-Id", session)
					ev.send = time.Since(epoch)
					resp, err := client.Do(req)
					ev.recv = time.Since(epoch)
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
						ev.status = resp.StatusCode
					}
					mine = append(mine, ev)
					return ev.status
				})
				mu.Lock()
				log = append(log, mine...)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return log
}

// play is one device's life; do sends one request and returns its status.
func play(ctx context.Context, o Options, rng *rand.Rand, u, d int, do func(session string, end bool) int) {
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	// Devices start spread over one period.
	if !wait(time.Duration(rng.Int64N(int64(o.Period)))) {
		return
	}
	for n := 0; ; n++ {
		session := fmt.Sprintf("u%dd%ds%d", u, d, n)
		// Waiting: ask every period until admitted.
		for do(session, false) != http.StatusOK {
			if !wait(o.Period) {
				return
			}
		}
		// Playing for 1 to 3 TTLs.
		until := time.Now().Add(o.TTL + time.Duration(rng.Int64N(int64(2*o.TTL))))
		cut := false
		for time.Now().Before(until) {
			if !wait(o.Period) {
				return
			}
			if do(session, false) == http.StatusTooManyRequests {
				cut = true
				break
			}
		}
		if !cut && rng.IntN(2) == 0 {
			do(session, true) // ends by DELETE; the other half go silent
		}
		// A pause before the next session: up to one TTL.
		if !wait(time.Duration(rng.Int64N(int64(o.TTL)))) {
			return
		}
	}
}
