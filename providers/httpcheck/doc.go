// Package httpcheck is verify "http": after a value is delivered, it calls a
// URL until the response has the expected status (and, with json_path, the
// expected JSON value) or the timeout passes, trying every interval. A
// check may send the value being proved, through the secret's own reference
// in a header or body (a bearer token, an API key), so a failure reports
// the status code and whether json_path matched, never a header value or a
// body.
//
// Verifier sends each attempt with net/http, giving up on one after
// DefaultAttemptTimeout, and does not follow redirects (a redirect is a
// status like any other; following it could carry the headers to another
// host). The URL shows in errors and logs as scheme://host/path only, since
// its query may carry a token, and any text of the value, a header, the
// body sent, the query or the URL's user is replaced by (sensitive) there.
//
// It must import nothing of rotplan except providers, config and
// internal/sensitive.
package httpcheck
