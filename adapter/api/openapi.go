package api

import "net/http"

// openAPI serves the OpenAPI 3.1 description of /api/v1.
func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDoc)
}

var openAPIDoc = []byte(`{"openapi":"3.1.0"}`)
