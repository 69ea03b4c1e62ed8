package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/static"
)

func TestAcceptsGzip(t *testing.T) {
	for hdr, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip;q=0.5": true, "gzip;q=0": false,
		"br": false, "*": true, "*;q=0": false, "identity, gzip ; q=1.0": true, "xgzip": false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if hdr != "" {
			r.Header.Set("Accept-Encoding", hdr)
		}
		if got := acceptsGzip(r); got != want {
			t.Errorf("Accept-Encoding %q: %v, want %v", hdr, got, want)
		}
	}
}

// TestServedGzip: a client that accepts gzip gets the compressed bytes, which decompress to the
// file, under an ETag of their own; one that does not gets the file as is; both learn the
// response varies by Accept-Encoding, and revalidation works for each encoding.
func TestServedGzip(t *testing.T) {
	r := chi.NewRouter()
	Mount(r, static.Files, nil)
	srv := httptest.NewServer(r)
	defer srv.Close()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	fetch := func(enc, inm string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", srv.URL+"/static/cti.js", nil)
		if enc != "" {
			req.Header.Set("Accept-Encoding", enc)
		}
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	file, _ := AssembleShim(static.Files)
	plain, pb := fetch("", "")
	zipped, zb := fetch("gzip", "")
	if plain.Header.Get("Content-Encoding") != "" || !bytes.Equal(pb, file) {
		t.Errorf("identity: encoding %q, %d bytes, want the %d-byte file", plain.Header.Get("Content-Encoding"), len(pb), len(file))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zb))
	if err != nil || zipped.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip: encoding %q, %v", zipped.Header.Get("Content-Encoding"), err)
	}
	if un, _ := io.ReadAll(zr); !bytes.Equal(un, file) || len(zb) >= len(file)/2 {
		t.Errorf("gzip: %d bytes decompress to %d, want the %d-byte file at under half its size", len(zb), len(un), len(file))
	}
	for _, res := range []*http.Response{plain, zipped} {
		if res.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Vary %q", res.Header.Get("Vary"))
		}
	}
	if plain.Header.Get("ETag") == zipped.Header.Get("ETag") {
		t.Error("one ETag for two encodings")
	}
	if res, _ := fetch("gzip", zipped.Header.Get("ETag")); res.StatusCode != http.StatusNotModified {
		t.Errorf("gzip revalidation: %d", res.StatusCode)
	}
	if res, _ := fetch("", plain.Header.Get("ETag")); res.StatusCode != http.StatusNotModified {
		t.Errorf("identity revalidation: %d", res.StatusCode)
	}
}
