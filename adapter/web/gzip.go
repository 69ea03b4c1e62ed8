package web

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
)

// gzipped compresses an asset once, when the server starts. It returns nil when compression
// would not pay (small or already-compressed bodies), so such assets are always sent as they are.
func gzipped(body []byte, ctype string) []byte {
	if len(body) < 1024 || !strings.HasPrefix(ctype, "text/") {
		return nil
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // a constant level: cannot fail
	zw.Write(body)
	zw.Close()
	if b.Len() >= len(body)*9/10 {
		return nil
	}
	return b.Bytes()
}

// acceptsGzip reports whether a request's Accept-Encoding allows gzip (a "gzip" or "*" token
// whose q is not 0; "gzip;q=0" refuses it).
func acceptsGzip(r *http.Request) bool {
	for _, field := range r.Header.Values("Accept-Encoding") {
		for _, tok := range strings.Split(field, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(tok), ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "gzip" && name != "*" {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(v, 64); err == nil {
						q = f
					}
				}
			}
			return q > 0
		}
	}
	return false
}
