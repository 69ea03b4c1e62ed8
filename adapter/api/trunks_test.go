package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cti-adapter/cti-adapter/adapter/auth"
)

func (e *cmdEnv) do(t *testing.T, method, path, token, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	a := answer{status: res.StatusCode, header: res.Header}
	_ = json.NewDecoder(res.Body).Decode(&a.body)
	return a
}

// Trunks over REST: admin only, password write-only, numbers unique across accounts (409),
// schema violations 422, delete 204 then 404.
func TestTrunksREST(t *testing.T) {
	e := newCmdEnv(t)
	admin := e.token(t, "acme", auth.RoleAdmin, "root")
	other := e.token(t, "globex", auth.RoleAdmin, "root")
	integ := e.token(t, "acme", auth.RoleIntegrator, "crm")
	body := `{"host":"127.0.0.1:5070","numbers":["+15550100"],"username":"acme","password":"hunter2"}`
	e.do(t, "PUT", "/api/v1/trunks/carrier", integ, body).is(t, 403, "forbidden")
	a := e.do(t, "PUT", "/api/v1/trunks/carrier", admin, body)
	a.is(t, 201, "")
	if _, ok := a.body["password"]; ok || a.body["transport"] != "udp" || a.body["max_calls"] != float64(100) {
		t.Fatalf("PUT answer %v: password shown or defaults missing", a.body)
	}
	e.do(t, "PUT", "/api/v1/trunks/carrier", admin, body).is(t, 200, "")
	e.do(t, "PUT", "/api/v1/trunks/pbx", other, `{"host":"10.1.1.1","numbers":["+15550100"]}`).is(t, 409, "conflict")
	e.do(t, "PUT", "/api/v1/trunks/bad", admin, `{"host":"x","numbers":["12-34"]}`).is(t, 422, "invalid_message")
	e.do(t, "PUT", "/api/v1/trunks/bad%20name", admin, body).is(t, 422, "invalid_message")
	e.do(t, "PUT", "/api/v1/trunks/reg", admin, `{"host":"10.1.1.2","numbers":["+15550109"],"register":true}`).is(t, 422, "invalid_message")
	if reg := e.do(t, "PUT", "/api/v1/trunks/reg", admin, `{"host":"10.1.1.2","numbers":["+15550109"],"register":true,"username":"u","password":"p"}`); reg.status != 201 || reg.body["registered"] != false {
		t.Fatalf("PUT register:true without a SIP edge: %d %v (want 201, registered false)", reg.status, reg.body)
	}
	e.do(t, "DELETE", "/api/v1/trunks/reg", admin, "").is(t, 204, "")
	list := e.do(t, "GET", "/api/v1/trunks", admin, "")
	list.is(t, 200, "")
	raw, _ := json.Marshal(list.body)
	if !strings.Contains(string(raw), `"name":"carrier"`) || strings.Contains(string(raw), "hunter2") {
		t.Fatalf("GET trunks: %s", raw)
	}
	if got := e.do(t, "GET", "/api/v1/trunks", other, ""); len(got.body["trunks"].([]any)) != 0 {
		t.Fatalf("another account sees acme's trunk: %v", got.body)
	}
	if tr, err := e.store.TrunkByNumber(t.Context(), "+15550100"); err != nil || tr.Password != "hunter2" {
		t.Fatalf("stored trunk %+v, %v", tr, err)
	}
	e.do(t, "DELETE", "/api/v1/trunks/carrier", admin, "").is(t, 204, "")
	e.do(t, "DELETE", "/api/v1/trunks/carrier", admin, "").is(t, 404, "not_found")
}
