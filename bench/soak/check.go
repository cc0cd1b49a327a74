package main

import (
	"net/http"
	"sort"
	"time"
)

// margin keeps the checker strict: a session counts as held only until
// margin before the latest moment the gate could have expired it.
const margin = 50 * time.Millisecond

// span is a time a session was provably active at the gate.
type span struct{ from, to time.Duration }

// check counts over-admissions the strict way. The gate recorded each
// admitted request somewhere between its send and its receipt, so a session
// is provably active from the receipt of an admitted request until one TTL
// after the send of its latest admitted request, as long as each admitted
// request arrived less than a TTL after the previous one was sent; a DELETE
// or a refusal of it ends that at its send. A request admitted while Limit
// other sessions of its user were provably active for the whole request is
// an over-admission.
func check(log []event, o Options) Result {
	var res Result
	byUser := map[int][]event{}
	for _, ev := range log {
		byUser[ev.user] = append(byUser[ev.user], ev)
		if ev.end {
			continue
		}
		res.Requests++
		switch ev.status {
		case http.StatusOK:
			res.Admitted++
		case http.StatusTooManyRequests:
			res.Refused++
		default:
			res.Failed++
		}
	}
	overSessions := map[string]bool{}
	overUsers := map[int]bool{}
	for user, evs := range byUser {
		sort.Slice(evs, func(i, j int) bool { return evs[i].send < evs[j].send })
		held := spans(evs, o.TTL)
		res.Sessions += len(held)
		for _, ev := range evs {
			if ev.end || ev.status != http.StatusOK {
				continue
			}
			others := 0
			for sess, ss := range held {
				if sess != ev.session && covers(ss, ev.send, ev.recv) {
					others++
				}
			}
			if others >= o.Limit {
				res.OverAdmitted++
				overSessions[ev.session] = true
				overUsers[user] = true
			}
		}
		res.Cuts += cuts(evs, o.TTL)
	}
	res.OverSessions, res.OverUsers = len(overSessions), len(overUsers)
	return res
}

// spans returns, per session, the times it was provably active.
func spans(evs []event, ttl time.Duration) map[string][]span {
	out := map[string][]span{}
	open := map[string]*span{}
	lastSend := map[string]time.Duration{}
	for _, ev := range evs { // by send time
		cur := open[ev.session]
		switch {
		case ev.end || ev.status == http.StatusTooManyRequests:
			if cur != nil {
				cur.to = min(cur.to, ev.send)
				out[ev.session] = append(out[ev.session], *cur)
				delete(open, ev.session)
			}
		case ev.status == http.StatusOK:
			if cur != nil && ev.recv < lastSend[ev.session]+ttl-margin {
				cur.to = max(cur.to, ev.send+ttl-margin)
			} else {
				if cur != nil {
					out[ev.session] = append(out[ev.session], *cur)
				}
				open[ev.session] = &span{from: ev.recv, to: ev.send + ttl - margin}
			}
			lastSend[ev.session] = ev.send
		}
	}
	for sess, cur := range open {
		out[sess] = append(out[sess], *cur)
	}
	return out
}

func covers(ss []span, from, to time.Duration) bool {
	for _, s := range ss {
		if s.from <= from && to <= s.to {
			return true
		}
	}
	return false
}

// cuts counts refusals of a session provably held when the refusal was
// decided: answered less than a TTL after the send of its last admitted
// request, not ended by its device since. A playing device refused.
func cuts(evs []event, ttl time.Duration) int {
	n := 0
	lastOK := map[string]time.Duration{}
	for _, ev := range evs {
		switch {
		case ev.end:
			delete(lastOK, ev.session)
		case ev.status == http.StatusOK:
			lastOK[ev.session] = ev.send
		case ev.status == http.StatusTooManyRequests:
			if t, ok := lastOK[ev.session]; ok && ev.recv-t < ttl-margin {
				n++
			}
		}
	}
	return n
}
