// Package tokenauth is signed-token identity: it verifies JWTs (RS256,
// ES256, EdDSA, HS256) against keys from a JWKS file, a PEM file or an
// https:// JWKS URL, reads tokens from the Authorization header, a cookie
// or a query parameter, and caches verified tokens until they expire. It
// is the only user of golang-jwt and go-jose, and imports proxy/identity
// alone from this module.
package tokenauth
