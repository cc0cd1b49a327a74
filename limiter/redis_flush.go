package limiter

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// flushTimeout bounds one chunk of a batch of renewals. They are not on any request's
// path: a batch that fails renews nothing, and the sessions' next requests
// ask Redis as they would without the cache.
const flushTimeout = time.Second

// flushEvery renews ahead, every tick (an eighth of RefreshInterval), the
// cached sessions still playing: one pipelined batch of scripts instead of
// one round trip on a request's path per session and interval. A session
// is sent when its entry goes stale within a tick and a half, so half a
// tick at least is left for the batch; it then carries the hits the cache
// answered, which brings them to Redis within an interval of the session's
// last store call, well before the TTL (more than twice the interval)
// could end it there.
func (r *Redis) flushEvery(tick time.Duration) {
	defer close(r.flushDone)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.flush()
		}
	}
}

// flush renews the sessions due, pipelined, and returns how many it sent.
func (r *Redis) flush() int {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	// Taken before the batch: an entry renewed counts from here, a
	// conservative bound, as a store call's record does.
	at := r.cache.now()
	due := r.cache.renewals(at)
	sent := len(due)
	if sent == 0 {
		return 0
	}
	c := r.client.Load()
	if c == nil {
		return 0 // nothing renewed: the requests ask Redis, which fails
	}
	for len(due) > 0 {
		select {
		case <-r.stop:
			return sent // closing: the rest is not renewed
		default:
		}
		chunk := due[:min(len(due), batchChunk)]
		due = due[len(chunk):]
		r.flushChunk(*c, chunk, at)
	}
	return sent
}

// batchChunk is the most scripts one pipeline of a batch carries: a call
// of a request that meets the batch on a connection waits for one chunk at
// most, not the whole batch (thousands of scripts a tick on a busy
// replica), and Redis spreads the batch's work between other clients'
// calls. A write and a read per 64 scripts cost the replica a fraction of
// a µs per script.
const batchChunk = 64

// flushChunk runs one chunk of a batch and applies its replies to the cache.
func (r *Redis) flushChunk(c rueidis.Client, chunk []touch, at int64) {
	// A chunk that reaches a stalled Redis late writes nothing: its
	// sessions' last heartbeats are counted from when the script runs.
	deadline := "0"
	if t, ok := r.offset.redisTime(r.offset.clock().Add(flushTimeout).UnixNano()); ok {
		deadline = strconv.FormatInt(max(t, 1), 10)
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	for i, res := range r.runTouches(ctx, c, chunk, deadline) {
		r.calls.Add(1)
		r.batched.Add(1)
		active, ok, err := r.touchReply(res)
		switch {
		case err != nil:
			r.errs.Add(1)
		case ok:
			r.cache.renewed(chunk[i].sessionRef, at, active)
		default:
			r.cache.gone(chunk[i].sessionRef, at)
		}
	}
}

// runTouches runs the touch script for every session in one pipeline, by
// its SHA; those a Redis without the script (restarted, flushed) refused
// go again in full, in a second pipeline. Every run counts as a store call.
func (r *Redis) runTouches(ctx context.Context, c rueidis.Client, due []touch, deadline string) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(due))
	for i, p := range due {
		cmds[i] = c.B().Evalsha().Sha1(touchSHA).Numkeys(1).Key(redisKey(p.userID)).Arg(r.touchArgs(p, deadline)...).Build().ToRetryable()
	}
	results := c.DoMulti(ctx, cmds...)
	var again []int
	for i, res := range results {
		if err, ok := rueidis.IsRedisErr(res.Error()); ok && err.IsNoScript() {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return results
	}
	cmds = cmds[:0]
	for _, i := range again {
		r.calls.Add(1)
		r.batched.Add(1)
		cmds = append(cmds, c.B().Eval().Script(touchScriptSource).Numkeys(1).Key(redisKey(due[i].userID)).Arg(r.touchArgs(due[i], deadline)...).Build().ToRetryable())
	}
	for j, res := range c.DoMulti(ctx, cmds...) {
		results[again[j]] = res
	}
	return results
}

func (r *Redis) touchArgs(p touch, deadline string) []string {
	return []string{p.sessionID, r.ttlMicros, r.leaseMicros, nanosAsMicros(p.ago),
		nanosAsMicros(p.left[0]), nanosAsMicros(p.left[1]), nanosAsMicros(p.left[2]),
		strconv.FormatInt(p.hint/1000, 10), deadline}
}

// touchReply reads the touch script's reply: whether the session was
// active, and the user's active sessions then.
func (r *Redis) touchReply(res rueidis.RedisResult) (active int, ok bool, err error) {
	msg, err := res.ToMessage()
	if err != nil {
		return 0, false, err
	}
	reply, err := msg.AsIntSlice()
	if err != nil || len(reply) < 2 {
		return 0, false, errors.New("unexpected reply to the touch script")
	}
	if reply[0] == -1 {
		r.offset.observe(reply[1])
		return 0, false, errPastDeadline
	}
	if len(reply) < 3 {
		return 0, false, errors.New("unexpected reply to the touch script")
	}
	r.offset.observe(reply[2])
	return int(reply[1]), reply[0] == 1, nil
}

// touchScriptSource is the touch script as sent, and touchSHA its SHA-1,
// by which the batches run it.
var (
	touchScriptSource = libSource + touchSource
	touchSHA          = func() string {
		sum := sha1.Sum([]byte(touchScriptSource))
		return hex.EncodeToString(sum[:])
	}()
)
