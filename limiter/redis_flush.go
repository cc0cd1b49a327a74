package limiter

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"slices"
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

// batchChunk is the most sessions one pipeline of a batch carries (four
// runs of the touch script on a single Redis): a call of a request that
// meets the batch on a connection waits for one chunk at most, not the
// whole batch (thousands of sessions a tick on a busy replica), and Redis
// spreads the batch's work between other clients' calls.
const batchChunk = 64

// touchesPerScript is the most sessions one run of the touch script renews.
// Redis serves no other client while a script runs: sixteen sessions, about
// eighty commands inside Redis, keep a run to tens of µs, and cut the
// script calls of a batch, each with its own parsing and reply, sixteenfold.
const touchesPerScript = 16

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
	groups := touchGroups(chunk, c.Mode() == rueidis.ClientModeCluster)
	for i, res := range r.runTouches(ctx, c, groups, deadline) {
		r.calls.Add(1)
		r.batched.Add(1)
		replies, err := r.touchReplies(res, len(groups[i]))
		if err != nil {
			r.errs.Add(1)
			continue
		}
		// The hits' ages were taken at at; the mirror applies them now.
		late := r.cache.now() - at
		m := r.reseed.mirror.Load()
		for j, p := range groups[i] {
			switch replies[2*j] {
			case 1:
				r.cache.renewed(p.sessionRef, at, at-p.ago+int64(r.ttl), int(replies[2*j+1]))
				p.ago += late
				if m != nil && !(*m).renewed(p) {
					// The replica's table lost it (its LRU let the user go):
					// the session's next request asks Redis, and Guard
					// remembers it again.
					r.cache.forget(p.userID, p.sessionID)
				}
			case 0:
				r.cache.gone(p.sessionRef, at)
			default:
				// This session's renewal failed inside the script (a record
				// it cannot read): it stays pending, alone.
				r.errs.Add(1)
			}
		}
	}
}

// touchGroups splits a chunk into the sessions each run of the touch script
// renews. In a cluster one script may only touch keys of one slot, so the
// sessions are grouped by slot first: few share one, and a cluster's batch
// saves less than a single Redis's.
func touchGroups(chunk []touch, cluster bool) [][]touch {
	if !cluster {
		return slices.Collect(slices.Chunk(chunk, touchesPerScript))
	}
	var bySlot [][]touch
	index := make(map[uint16]int, len(chunk))
	for _, p := range chunk {
		slot := hashSlot(redisKey(p.userID))
		i, ok := index[slot]
		if !ok {
			i = len(bySlot)
			index[slot] = i
			bySlot = append(bySlot, nil)
		}
		bySlot[i] = append(bySlot[i], p)
	}
	var groups [][]touch
	for _, g := range bySlot {
		groups = slices.AppendSeq(groups, slices.Chunk(g, touchesPerScript))
	}
	return groups
}

// runTouches runs the touch script once per group, in one pipeline, by its
// SHA; the runs a Redis without the script (restarted, flushed) refused go
// again in full, in a second pipeline. Every run counts as a store call.
func (r *Redis) runTouches(ctx context.Context, c rueidis.Client, groups [][]touch, deadline string) []rueidis.RedisResult {
	keys := make([][]string, len(groups))
	args := make([][]string, len(groups))
	cmds := make(rueidis.Commands, len(groups))
	for i, g := range groups {
		keys[i], args[i] = r.touchArgs(g, deadline)
		cmds[i] = c.B().Evalsha().Sha1(touchSHA).Numkeys(int64(len(g))).Key(keys[i]...).Arg(args[i]...).Build().ToRetryable()
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
		cmds = append(cmds, c.B().Eval().Script(touchScriptSource).Numkeys(int64(len(groups[i]))).Key(keys[i]...).Arg(args[i]...).Build().ToRetryable())
	}
	for j, res := range c.DoMulti(ctx, cmds...) {
		results[again[j]] = res
	}
	return results
}

// touchArgs are the keys and arguments of one run of the touch script.
func (r *Redis) touchArgs(g []touch, deadline string) (keys, args []string) {
	keys = make([]string, len(g))
	args = make([]string, 0, 3+6*len(g))
	args = append(args, r.ttlMicros, r.leaseMicros, deadline)
	for i, p := range g {
		keys[i] = redisKey(p.userID)
		args = append(args, p.sessionID, nanosAsMicros(p.ago),
			nanosAsMicros(p.left[0]), nanosAsMicros(p.left[1]), nanosAsMicros(p.left[2]),
			strconv.FormatInt(p.hint/1000, 10))
	}
	return keys, args
}

// touchReplies reads a run's reply for n sessions: per session, 1 when it
// was active and is renewed, and the user's active sessions then.
func (r *Redis) touchReplies(res rueidis.RedisResult, n int) ([]int64, error) {
	msg, err := res.ToMessage()
	if err != nil {
		return nil, err
	}
	reply, err := msg.AsIntSlice()
	if err != nil || len(reply) < 2 {
		return nil, errors.New("unexpected reply to the touch script")
	}
	r.offset.observe(reply[1])
	if reply[0] == -1 {
		return nil, errPastDeadline
	}
	if reply[0] != 1 || len(reply) != 2+2*n {
		return nil, errors.New("unexpected reply to the touch script")
	}
	return reply[2:], nil
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
