package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when run leaves a goroutine behind after it
// returns: a server, a store sweeper or a connection not closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
