package limiter

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHugeSpan(t *testing.T) {
	const h = hugePage
	for _, c := range []struct {
		name          string
		p, n          uintptr
		beg, end      uintptr
		adviseAnyPage bool
	}{
		{name: "aligned", p: 4 * h, n: 2 * h, beg: 4 * h, end: 6 * h, adviseAnyPage: true},
		{name: "borders", p: 4*h + 8192, n: 2 * h, beg: 4 * h, end: 7 * h, adviseAnyPage: true},
		{name: "less than a page", p: 4*h + 8192, n: h, beg: 4 * h, end: 6 * h, adviseAnyPage: true},
		{name: "ends on a border", p: 4*h + 8192, n: h - 8192, beg: 4 * h, end: 5 * h, adviseAnyPage: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			beg, end := hugeSpan(c.p, c.n)
			assert.Equal(t, [2]uintptr{c.beg, c.end}, [2]uintptr{beg, end})
			assert.Equal(t, c.adviseAnyPage, beg < end)
		})
	}
}
