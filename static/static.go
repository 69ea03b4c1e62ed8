// Package static holds the browser side of the adapter, embedded in the binary: the JS shim
// (cti.js, kept as parts in shim/ and served as one script; its module entry cti.mjs and their
// types cti.d.ts and cti.d.mts), the customer web-call widget
// (webcall.js), the standalone softphone, the demo CRM page, the demo customer page and the admin
// page with their scripts and styles. Nothing here loads a third-party resource, and no page has
// inline script or style (adapter/web serves them with a strict CSP). docs/js.md describes them.
package static

import "embed"

// Files are the static assets, served under /static/ and by the page routes (adapter/web).
//
//go:embed *.js *.mjs *.css *.html *.d.ts *.d.mts shim/*.js
var Files embed.FS
