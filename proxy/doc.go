// Package proxy is streamgate's HTTP surface on the player side: the gate
// (identify, ask the store, answer 429 or pass), CORS for web players on
// other origins, the reverse proxy to the origin, the server limits, panic
// recovery, the RFC 9457 problem answers and the gate's Prometheus metrics.
//
// Each other concern has a subpackage of its own:
//
//   - proxy/identity: who a request belongs to: Identity, Error, the
//     Identifier interface, valid ids, per-user limits, header identity.
//   - proxy/tokenauth: signed-token identity: JWT verification, JWKS files
//     and URLs, where tokens come from, the verified-token cache. The only
//     user of golang-jwt and go-jose.
//   - proxy/manifest: manifest rewriting (HLS playlists, DASH MPDs) for
//     players whose token came in the query or whose session the gate minted.
//   - proxy/admin: the admin listener: API, console, monitor, admin client,
//     web/ and openapi.json.
//   - proxy/demo: the demo origin.
//   - proxy/proxytest: what the HTTP tests of these packages share (test
//     code only).
//
// Imports run one way: cmd → proxy/admin → proxy → proxy/identity,
// proxy/manifest → limiter; proxy/tokenauth → proxy/identity, limiter.
package proxy
