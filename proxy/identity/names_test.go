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
	for _, k := range []string{"sg.session", "sg session", "SG_Session"} {
		assert.True(t, identity.SameName(k, "sg_session"), "%q", k)
	}
	for _, k := range []string{"", "tokens", "tok", "atoken", "to ken", "[token]"} {
		assert.False(t, identity.SameName(k, "token"), "%q", k)
	}
}
