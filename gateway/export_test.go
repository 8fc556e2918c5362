package gateway

// Internal test helpers the external tests (package gateway_test) use too.

// ClosedAddr is closedAddr: a loopback address nothing listens on.
var ClosedAddr = closedAddr
