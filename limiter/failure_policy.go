package limiter

// String is the policy's name, as -store-failure takes it and the
// streamgate_degraded_decisions_total{policy} label shows it.
func (p FailurePolicy) String() string { return string(p) }
