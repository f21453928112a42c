// Package sandbox owns the local, in-memory, stateful stand-in for the
// secucard services: OAuth (/oauth/token), REST (/api/v2/...), an event hub for
// push events, fault injection and an admin API (/sandbox/...). Every test
// tier, the examples and the bindings run against it; secucard-sandbox (cmd/)
// ships it as a binary.
//
// It follows spec/secucard-wire.md where the spec is definite and picks a
// tolerant, documented behaviour where the spec says "unknown" (those places
// carry a short comment). Error codes, HTTP statuses of API errors and a few
// exception names are invented; README.md ("Sandbox") lists what the sandbox
// does not reproduce.
//
// Channels translate onto one core: Dispatch takes a channel-independent
// request (the STOMP verbs get/list/add/update/delete/exec) and answers an
// HTTP-like status and a JSON body in the real server's style. The REST handler
// is one such translation; a STOMP endpoint can be another (see Subscribe,
// Dispatch and ValidToken).
package sandbox
