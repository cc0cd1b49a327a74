package config

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHelpListsEveryFlag holds -help to the flag set itself, so a flag added
// later is checked too: each is listed with its variable and, when it has
// one, its default.
func TestHelpListsEveryFlag(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, err := Parse("streamgate", []string{"-help"}, func(string) string { return "" }, &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	help := out.String()

	c := Default()
	n := 0
	c.flagSet("streamgate").VisitAll(func(f *flag.Flag) {
		n++
		i := strings.Index(help, "\n  -"+f.Name+" ")
		if i < 0 {
			i = strings.Index(help, "\n  -"+f.Name+"\n")
		}
		if !assert.GreaterOrEqual(t, i, 0, "-%s is listed", f.Name) {
			return
		}
		entry := help[i+1:]
		if end := strings.Index(entry[1:], "\n  -"); end >= 0 {
			entry = entry[:end+1]
		}
		assert.Contains(t, entry, "["+EnvName(f.Name)+"]", "-%s names its variable", f.Name)
		if f.DefValue != "" && f.DefValue != "false" {
			assert.True(t, strings.Contains(entry, "(default "+f.DefValue+")") || strings.Contains(entry, `(default "`+f.DefValue+`")`),
				"-%s shows its default %q: %s", f.Name, f.DefValue, entry)
		}
	})
	assert.GreaterOrEqual(t, n, 18, "every flag of SPEC")
}

// TestEveryFlagHasAVariable sets each flag through its variable to the
// value the flag already has, which must be accepted.
func TestEveryFlagHasAVariable(t *testing.T) {
	t.Parallel()
	c := Default()
	c.flagSet("streamgate").VisitAll(func(f *flag.Flag) {
		if f.DefValue == "" {
			return
		}
		fs := (&Config{}).flagSet("streamgate")
		err := applyEnv(fs, func(name string) string {
			if name == EnvName(f.Name) {
				return f.DefValue
			}
			return ""
		})
		assert.NoError(t, err, "%s=%s", EnvName(f.Name), f.DefValue)
		assert.Equal(t, f.DefValue, fs.Lookup(f.Name).Value.String(), EnvName(f.Name))
	})
}
