package iam

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

const sigv4Algorithm = "AWS4-HMAC-SHA256"

// authenticate verifies a request's Signature Version 4 signature and
// returns the Active key that made it. Called under s.mu.
func (s *Server) authenticate(r *http.Request, body []byte, service string) (*key, *apiError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return nil, &apiError{http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"}
	}
	incomplete := &apiError{http.StatusBadRequest, "IncompleteSignature", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."}
	rest, ok := strings.CutPrefix(auth, sigv4Algorithm+" ")
	if !ok {
		return nil, incomplete
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			params[name] = value
		}
	}
	credential, signedHeaders, signature := params["Credential"], params["SignedHeaders"], params["Signature"]
	scopeParts := strings.Split(credential, "/")
	if len(scopeParts) != 5 || signedHeaders == "" || signature == "" || scopeParts[4] != "aws4_request" {
		return nil, incomplete
	}
	keyID, date, region, scopeService := scopeParts[0], scopeParts[1], scopeParts[2], scopeParts[3]
	k := s.keys[keyID]
	if k == nil || k.status != Active {
		return nil, &apiError{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	mismatch := &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	if len(amzDate) != len("20060102T150405Z") || amzDate[:8] != date {
		return nil, incomplete
	}
	if scopeService != service {
		return nil, &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: '" + service + "'."}
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return nil, mismatch
	}

	names := strings.Split(signedHeaders, ";")
	if !strings.Contains(";"+signedHeaders+";", ";host;") {
		return nil, incomplete
	}
	var canonicalHeaders strings.Builder
	for _, name := range names {
		var value string
		switch name {
		case "host":
			value = r.Host
		case "content-length":
			value = r.Header.Get("Content-Length")
			if value == "" {
				value = strconv.FormatInt(r.ContentLength, 10)
			}
		default:
			value = strings.Join(r.Header.Values(name), ",")
		}
		canonicalHeaders.WriteString(name + ":" + strings.Join(strings.Fields(value), " ") + "\n")
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canonical := strings.Join([]string{
		r.Method,
		path,
		canonicalQuery(r.URL.Query()),
		canonicalHeaders.String(),
		signedHeaders,
		payloadHash,
	}, "\n")
	creq := sha256.Sum256([]byte(canonical))
	scope := strings.Join(scopeParts[1:], "/")
	stringToSign := sigv4Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creq[:])
	signingKey := hmacSHA256([]byte("AWS4"+k.secret), date)
	signingKey = hmacSHA256(signingKey, region)
	signingKey = hmacSHA256(signingKey, scopeService)
	signingKey = hmacSHA256(signingKey, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(signingKey, stringToSign))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return nil, mismatch
	}
	return k, nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalQuery is the query string in SigV4's canonical form: names and
// values URI-encoded, sorted by name then value.
func canonicalQuery(q url.Values) string {
	var parts []string
	for _, name := range sortedKeys(q) {
		values := append([]string(nil), q[name]...)
		sort.Strings(values)
		for _, v := range values {
			parts = append(parts, uriEncode(name)+"="+uriEncode(v))
		}
	}
	return strings.Join(parts, "&")
}

// uriEncode encodes every byte but the unreserved characters, as SigV4
// asks.
func uriEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
