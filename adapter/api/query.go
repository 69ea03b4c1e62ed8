package api

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

// Query parameters are validated against their documented patterns (openapi.go) and refused
// with 400 problem+json naming the parameter: a malformed query string ("cursor=%%%") is never
// silently read as an absent parameter.

// query parses the request's query string strictly.
func query(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &fieldError{field: "(query)", msg: "is not a valid query string: " + err.Error(), query: true}
	}
	return q, nil
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(q url.Values, name string, def, lo, hi int64) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, &fieldError{field: name, msg: "must be an integer from " + strconv.FormatInt(lo, 10) + " to " + strconv.FormatInt(hi, 10), query: true}
	}
	return n, nil
}

// queryTime reads an optional RFC 3339 time.
func queryTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, &fieldError{field: name, msg: "must be an RFC 3339 time", query: true}
	}
	return t, nil
}

// queryUserID reads an optional user id filter.
func queryUserID(q url.Values, name string) (string, error) {
	v, ok := q[name]
	if !ok {
		return "", nil
	}
	if len(v) != 1 || !auth.ValidUserID(v[0]) {
		return "", &fieldError{field: name, msg: "must match ^[A-Za-z0-9._@-]{1,128}$", query: true}
	}
	return v[0], nil
}

// queueName is the queue name rule of schemas/common.json (definitions/queue).
var queueName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// queryQueue reads an optional queue name filter.
func queryQueue(q url.Values, name string) (string, error) {
	v, ok := q[name]
	if !ok {
		return "", nil
	}
	if len(v) != 1 || !queueName.MatchString(v[0]) {
		return "", &fieldError{field: name, msg: "must be a queue name (" + queueName.String() + ")", query: true}
	}
	return v[0], nil
}
