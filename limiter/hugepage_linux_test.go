package limiter

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestArenaChunkBordersAreAdvised: a chunk of the arena that spans a huge
// page starts on one and is advised whole, its last, partial huge page
// included, which the kernel shows as the hg flag of the mappings its ends
// lie in. It
// needs a kernel built with transparent huge pages, as every mainstream
// distribution's is; without them madvise refuses, and the failure says so.
func TestArenaChunkBordersAreAdvised(t *testing.T) {
	a := userArena{heap: testHeap(t)}
	var x shardUsers
	a.made = 8 * (hugePage/userSize + 1) // the next chunk holds a huge page and a bit
	a.alloc(&x)
	require.GreaterOrEqual(t, len(a.chunk)*userSize, hugePage)
	first := uintptr(unsafe.Pointer(&a.chunk[0]))
	last := first + uintptr(len(a.chunk)*userSize) - 1
	assert.Zero(t, first%hugePage, "the chunk starts on a huge page")
	const why = "(a kernel without transparent huge pages refuses MADV_HUGEPAGE)"
	assert.True(t, advisedHuge(t, first), "the chunk's first byte's mapping is advised "+why)
	assert.True(t, advisedHuge(t, last), "the chunk's last byte's mapping is advised "+why)
}

// advisedHuge says whether the mapping holding addr has MADV_HUGEPAGE.
func advisedHuge(t *testing.T, addr uintptr) bool {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := mappingRange(line); ok {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.Contains(line+" ", " hg ")
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("no mapping holds %#x", addr)
	return false
}

// mappingRange parses the first line of a mapping in smaps ("lo-hi perms ...").
func mappingRange(line string) (lo, hi uintptr, ok bool) {
	r, _, _ := strings.Cut(line, " ")
	l, h, found := strings.Cut(r, "-")
	if !found {
		return 0, 0, false
	}
	a, err1 := strconv.ParseUint(l, 16, 64)
	b, err2 := strconv.ParseUint(h, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(a), uintptr(b), true
}
