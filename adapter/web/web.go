// Package web serves the embedded browser side (static/): the JS shim and widget under /static/,
// and the pages / (the start page), /softphone, /demo/crm, /demo/customer and /admin, all with a strict Content
// Security Policy (no inline script or style, nothing from another origin).
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/account"
)

// CSP is the Content-Security-Policy of every page: scripts, styles, images and connections
// (fetch and WebSocket) only from the adapter itself, audio from the page's own streams, and
// framing by the adapter's own pages only. A page loaded with ?account=<name> may also be framed
// by that account's frame_ancestors (PROTOCOLS.md section 9; see framePolicy).
const CSP = cspBase + "frame-ancestors 'self'"

const cspBase = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; media-src 'self' blob: mediastream:; base-uri 'none'; form-action 'self'; "

// Pages maps each page route to its embedded file.
var Pages = map[string]string{
	"/":              "index.html",
	"/softphone":     "softphone.html",
	"/demo/crm":      "crm.html",
	"/demo/customer": "customer.html",
	"/admin":         "admin.html",
	"/supervisor":    "supervisor.html", // docs/supervision.md
}

// types are the content types of the assets, by suffix (checked in order).
var types = []struct{ suffix, ctype string }{
	{".d.ts", "text/plain; charset=utf-8"},
	{".d.mts", "text/plain; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".html", "text/html; charset=utf-8"},
}

func contentType(name string) string {
	for _, t := range types {
		if strings.HasSuffix(name, t.suffix) {
			return t.ctype
		}
	}
	return ""
}

// asset is one embedded file, read once.
type asset struct {
	body  []byte
	ctype string
	etag  string
	gz    []byte // body gzip-compressed once at start (nil: sent as is); see gzip.go
	gzTag string
}

func newAsset(body []byte, ctype string) asset {
	a := asset{body: body, ctype: ctype, etag: etagOf(body)}
	if a.gz = gzipped(body, ctype); a.gz != nil {
		a.gzTag = a.etag[:len(a.etag)-1] + `-gz"`
	}
	return a
}

// Settings reads an account's settings (account.Directory), for the pages' frame-ancestors.
type Settings interface {
	Settings(ctx context.Context, name string) (account.Settings, error)
}

// Mount registers /static/* and the page routes on r. accts gives the frame_ancestors of the
// account a page names in ?account= (nil: every page is framed by the adapter only). It panics
// if a page file is missing from files (a build mistake, caught by the package's tests).
func Mount(r chi.Router, files fs.FS, accts Settings) {
	assets := map[string]asset{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		assets[p] = newAsset(b, contentType(p))
		return nil
	})
	if err != nil {
		panic("web: reading the embedded files: " + err.Error())
	}
	for p := range assets { // the shim's parts are served as one script (shim.go)
		if path.Dir(p) == ShimDir {
			delete(assets, p)
		}
	}
	if shim, err := AssembleShim(files); err == nil {
		assets["cti.js"] = newAsset(shim, contentType("cti.js"))
	}
	ring := newAsset(Ringtone, "audio/wav")
	r.Get("/static/ring.wav", func(w http.ResponseWriter, req *http.Request) { serve(w, req, ring) })
	r.Get("/static/*", func(w http.ResponseWriter, req *http.Request) {
		name := path.Clean(chi.URLParam(req, "*"))
		a, ok := assets[name]
		if !ok || a.ctype == "" || strings.HasSuffix(name, ".html") {
			http.NotFound(w, req)
			return
		}
		h := w.Header()
		// The shim and the widget are embedded by pages of other origins (a CRM, a shop): a
		// module import needs CORS; nothing here is private.
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		serve(w, req, a)
	})
	for route, file := range Pages {
		a, ok := assets[file]
		if !ok {
			panic("web: page " + route + " needs static/" + file)
		}
		r.Get(route, func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Security-Policy", cspBase+framePolicy(req, accts))
			serve(w, req, a)
		})
	}
}

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

// serve writes an asset with the security headers, gzip-compressed when the client accepts it;
// revalidation by ETag (one per encoding) keeps updates visible.
func serve(w http.ResponseWriter, r *http.Request, a asset) {
	h := w.Header()
	if h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", CSP)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Permissions-Policy", "microphone=(self), camera=(self), display-capture=(self)")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Type", a.ctype)
	body, tag := a.body, a.etag
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, tag = a.gz, a.gzTag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", tag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// framePolicy is the frame-ancestors directive of a page: 'self', plus the frame_ancestors of the
// account named by ?account= when it is a valid, existing account. Anything else (no account,
// a bad name, an unknown account) is 'self' alone: a page never fails for its query.
func framePolicy(r *http.Request, accts Settings) string {
	acct := r.URL.Query().Get("account")
	if accts == nil || acct == "" || !account.ValidName(acct) {
		return "frame-ancestors 'self'"
	}
	s, err := accts.Settings(r.Context(), acct)
	if err != nil || len(s.FrameAncestors) == 0 {
		return "frame-ancestors 'self'"
	}
	return "frame-ancestors 'self' " + strings.Join(s.FrameAncestors, " ")
}
