package identity_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/streamgate/streamgate/proxy/identity"
)

func TestSameName(t *testing.T) {
	for _, k := range []string{"token", "Token", "TOKEN", " token", "token ", "token\t", "token[]", "token[a]", "token []"} {
		assert.True(t, identity.SameName(k, "token"), "%q", k)
	}
	for _, k := range []string{"sg.session", "sg session", "SG_Session", "sg[session", "sg%5Fsession", "sg%2esession"} {
		assert.True(t, identity.SameName(k, "sg_session"), "%q", k)
	}
	for _, k := range []string{"", "tokens", "tok", "atoken", "to ken", "[token]"} {
		assert.False(t, identity.SameName(k, "token"), "%q", k)
	}
	for _, line := range []string{"a=1; streamgate[token=x", "streamgate%5Ftoken=x", "STREAMGATE_TOKEN=x", "streamgate.token=x"} {
		assert.True(t, identity.MayHoldName(line, "streamgate_token"), "%q", line)
	}
	assert.False(t, identity.MayHoldName("lang=fr; theme=dark", "streamgate_token"))
}
