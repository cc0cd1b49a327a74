package admin

// OpenAPIDocument returns the OpenAPI 3.1 document of the admin API and the
// player-facing control endpoints, as served at /openapi.json.
func OpenAPIDocument() []byte {
	b, _ := assets.ReadFile("openapi.json")
	return b
}
