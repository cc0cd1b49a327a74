package limiter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// admitted is what an admission's reply says of the session's media, for the
// refresh cache: its hint and how long each track is still buffered.
type admitted struct {
	hint int64
	left [numTracks]int64
}

// micros is a duration as a script argument.
func micros(d time.Duration) string { return strconv.FormatInt(max(d, 0).Microseconds(), 10) }

func nanosAsMicros(ns int64) string { return strconv.FormatInt(max(ns, 0)/1000, 10) }

func scriptPolicy(r Rules) string {
	switch {
	case r.Shadow:
		return "shadow"
	case r.OnLimit == EvictOldest:
		return "evict"
	}
	return "refuse"
}

// errPastDeadline is the script's answer when it ran after the admission's
// deadline, so wrote nothing: to the caller it is a store that did not
// answer in time.
var errPastDeadline = errors.New("the admission reached redis after its deadline and was not recorded")

// decision reads the admission script's reply.
func (r *Redis) decision(msg rueidis.RedisMessage, limit int) (Decision, admitted, error) {
	var ad admitted
	reply, err := msg.ToArray()
	if err != nil || len(reply) < 2 {
		return Decision{}, ad, fmt.Errorf("unexpected reply to the admission script: %v", msg)
	}
	nums := make([]int64, 0, 4)
	for i := 0; i < min(len(reply), 3); i++ {
		n, err := reply[i].AsInt64()
		if err != nil {
			return Decision{}, ad, err
		}
		nums = append(nums, n)
	}
	if nums[0] == -1 {
		r.offset.observe(nums[1])
		return Decision{}, ad, fmt.Errorf("%w: %w", errPastDeadline, context.DeadlineExceeded)
	}
	if len(reply) < 4 {
		return Decision{}, ad, fmt.Errorf("unexpected reply to the admission script: %v", msg)
	}
	if d, ok := reply[3].AsInt64(); ok == nil {
		nums = append(nums, d)
	} else {
		nums = append(nums, 0) // the reason of an Ended reply
	}
	now := nums[2]
	r.offset.observe(now)
	d := Decision{Result: Result(nums[0]), Active: int(nums[1]), Limit: limit}
	switch d.Result {
	case Refreshed, Started:
		if len(reply) < 10 {
			return Decision{}, ad, fmt.Errorf("unexpected reply to the admission script: %v", msg)
		}
		d.WouldReject = nums[3] == 1
		if d.Evicted, err = reply[4].ToString(); err != nil {
			return Decision{}, ad, err
		}
		var ints [4]int64
		for i := range ints {
			if ints[i], err = reply[5+i].AsInt64(); err != nil {
				return Decision{}, ad, err
			}
		}
		ad.hint = ints[0] * 1000
		d.SegmentHint = time.Duration(ad.hint)
		for t := range ad.left {
			ad.left[t] = ints[1+t] * 1000
		}
		shared, err := reply[9].AsInt64()
		d.Shared = shared == 1
		return d, ad, err
	case Ended:
		reason, err := reply[3].ToString()
		if err != nil {
			return Decision{}, ad, err
		}
		d.EndReason = reasonOf(reason)
		return d, ad, nil
	case Rejected:
	default:
		return Decision{}, ad, fmt.Errorf("unexpected reply to the admission script: %v", msg)
	}
	d.Lapsed = nums[3] == 1
	if len(reply) < 5 {
		return Decision{}, ad, fmt.Errorf("unexpected reply to the admission script: %v", msg)
	}
	shared, err := reply[4].AsInt64()
	if err != nil {
		return Decision{}, ad, err
	}
	d.Shared = shared == 1
	pairs, err := replyStrings(reply[5:])
	if err != nil {
		return Decision{}, ad, err
	}
	d.Sessions, d.RetryAfter, err = sessionsFrom(pairs, now, r.ttl)
	return d, ad, err
}
