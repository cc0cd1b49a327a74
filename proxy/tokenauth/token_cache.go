package tokenauth

import (
	"hash/maphash"
	"strings"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/identity"
)

// tokenCacheShards splits the verified-token cache so that players of
// unrelated users rarely wait on one lock.
const tokenCacheShards = 16

// tokenCache remembers tokens whose signature and claims were verified, until
// their exp, so that a session's every segment request costs a map lookup
// rather than a signature check. It is bounded: the least recently used
// token goes first, and merely costs one more verification later. Only
// tokens that verified are kept, so forged tokens cannot fill it.
type tokenCache struct {
	seed   maphash.Seed
	shards limiter.Sharded[string, verifiedToken, struct{}]
}

// verifiedToken is what a token said, and until when it may be believed.
type verifiedToken struct {
	id identity.Identity
	// exp is the token's exp in Unix nanoseconds.
	exp int64
}

// newTokenCache holds up to size tokens; size < 1 returns nil, a cache that
// keeps nothing.
func newTokenCache(size int) *tokenCache {
	if size < 1 {
		return nil
	}
	per := max((size+tokenCacheShards-1)/tokenCacheShards, 1)
	shards, _ := limiter.NewSharded[string, verifiedToken, struct{}](tokenCacheShards, per, nil) // errors only on size < 1
	return &tokenCache{seed: maphash.MakeSeed(), shards: *shards}
}

func (c *tokenCache) shard(token string) *limiter.Shard[string, verifiedToken, struct{}] {
	return c.shards.For(maphash.String(c.seed, token))
}

// get returns the identity of a token verified before and not expired at now.
func (c *tokenCache) get(token string, now int64) (identity.Identity, bool) {
	if c == nil {
		return identity.Identity{}, false
	}
	sh := c.shard(token)
	sh.Lock()
	v, ok := sh.LRU.Get(token)
	if ok && now >= v.exp {
		sh.LRU.Remove(token)
		ok = false
	}
	sh.Unlock()
	return v.id, ok
}

// add remembers a verified token. The key is copied, so that the cache never
// pins the memory of the request it came in.
func (c *tokenCache) add(token string, id identity.Identity, exp int64) {
	if c == nil {
		return
	}
	sh := c.shard(token)
	sh.Lock()
	sh.LRU.Add(strings.Clone(token), verifiedToken{id: id, exp: exp})
	sh.Unlock()
}
