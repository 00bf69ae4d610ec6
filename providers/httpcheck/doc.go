// Package httpcheck is verify "http": after a value is delivered, it calls a
// URL until the response has the expected status (and, with json_path, the
// expected JSON value) or the timeout passes, trying every interval. A
// check may send the value being proved, through the secret's own reference
// in a header or body (a bearer token, an API key), so a failure reports
// the status code and whether json_path matched, never a header value or a
// body.
//
// For now the package declares its block types by schema only, so that
// inventories using them validate; plan reports them as not implemented.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package httpcheck
