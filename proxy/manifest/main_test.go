package manifest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: a
// connection, a transport or a store that was not closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
