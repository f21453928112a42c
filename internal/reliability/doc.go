// Package reliability holds the tests that measure the client as a whole
// against the sandbox: the fault matrix (matrix_test.go, `make faults`, also
// part of `go test`) and the soak (soak_test.go, build tag soak,
// `make soak`). It has no code of its own.
//
// Both assert the same invariants, the promises a till relies on:
//   - no logical operation executes twice on the server (counted there:
//     requests seen, and the objects themselves);
//   - every error is typed, and a call's error says its outcome;
//   - retryable and outcome are honest: "not_sent" means the server saw
//     nothing, "rejected" that it executed nothing, a success that it
//     executed once, and a host that repeats what the error says repeats
//     with the idempotency key and never executes twice;
//   - no push event is delivered twice, and every lost event is signalled
//     (a connection, dropped or resync event).
package reliability
