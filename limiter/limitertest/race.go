package limitertest

import (
	"sync"
	"sync/atomic"
)

// Race starts callers goroutines that call won at the same moment, waits
// for all of them, and returns how many returned true.
func Race(callers int, won func(i int) bool) int {
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		wins  atomic.Int64
	)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if won(i) {
				wins.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	return int(wins.Load())
}
