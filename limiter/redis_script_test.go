package limiter

import (
	"context"
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter/redistest"
)

// TestAdmitScriptDeadline runs the admission script with a deadline that
// has passed in Redis's time: it answers {-1, now} and writes nothing.
func TestAdmitScriptDeadline(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	ctx := context.Background()
	args := func(deadline string) []string {
		return []string{"s1", "3", "60000000", "0:", "0", "0", "refuse", "0", "0", "0", "0", deadline, "600000000", "0", "0", "0", "", "0", "10000000"}
	}
	script := rueidis.NewLuaScript(libSource + admitSource)

	reply, err := script.Exec(ctx, c, []string{"streamgate:{d}"}, args("1")).ToArray()
	require.NoError(t, err)
	code, err := reply[0].AsInt64()
	require.NoError(t, err)
	assert.Equal(t, int64(-1), code)
	n, err := c.Do(ctx, c.B().Exists().Key("streamgate:{d}").Build()).AsInt64()
	require.NoError(t, err)
	assert.Zero(t, n, "nothing written past the deadline")

	reply, err = script.Exec(ctx, c, []string{"streamgate:{d}"}, args("0")).ToArray()
	require.NoError(t, err)
	code, err = reply[0].AsInt64()
	require.NoError(t, err)
	assert.Equal(t, int64(Started), code, "no deadline")
}
