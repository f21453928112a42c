package auth

// CallMany lets the external (sandbox) tests share the concurrency helper.
var CallMany = callMany
