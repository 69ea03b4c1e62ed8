package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/cti-adapter/cti-adapter/adapter/account"
	"github.com/cti-adapter/cti-adapter/adapter/auth"
	"github.com/cti-adapter/cti-adapter/adapter/conns"
	"github.com/cti-adapter/cti-adapter/adapter/core"
	"github.com/cti-adapter/cti-adapter/adapter/event"
	"github.com/cti-adapter/cti-adapter/adapter/hub"
	"github.com/cti-adapter/cti-adapter/adapter/metrics"
	"github.com/cti-adapter/cti-adapter/adapter/origin"
	"github.com/cti-adapter/cti-adapter/adapter/prompt"
	"github.com/cti-adapter/cti-adapter/adapter/recording"
	"github.com/cti-adapter/cti-adapter/adapter/store"
	"github.com/cti-adapter/cti-adapter/schemas"
)

// MaxBody is the largest request body accepted (PROTOCOLS.md section 3).
const MaxBody = 64 << 10

// Deps are the API's collaborators.
type Deps struct {
	Log      *slog.Logger
	Store    store.Backend
	Auth     *auth.Service
	Accounts *account.Directory
	Hub      *hub.Hub
	Core     *core.Core // the commands of the REST twins (commands.go)
	Schemas  *schemas.Registry
	Metrics  *metrics.Metrics
	// Budget is the per-account budget shared by every surface (nil: none).
	Budget *conns.Budget
	// ConfigWrites is each account's budget of configuration writes (users, settings, tokens,
	// trunks, prompts), taken on top of Budget (ratelimit.go; nil: none).
	ConfigWrites *conns.Budget
	// Registrar is told of trunk changes and shows REGISTER state (nil: no SIP edge).
	Registrar TrunkRegistrar
	// Recordings is the call recordings directory (nil: none listed or served).
	Recordings *recording.Store
	// Prompts generates and lists the account's IVR prompts (prompts.go; nil: none generated).
	Prompts *prompt.Library
	// PublicURL is the adapter's external base URL (for ws_url); empty derives it from the request.
	PublicURL string
}

// API serves /api/v1.
type API struct {
	Deps
	origins *origin.OriginIndex // the origins any account lists, for preflights
}

// New returns the REST API.
func New(d Deps) *API {
	return &API{Deps: d, origins: origin.NewOriginIndex(d.Store, time.Now)}
}

// Routes returns the /api/v1 router (mount it at /api/v1). Every answer, unknown routes and
// wrong methods included, is JSON or problem+json with X-Content-Type-Options: nosniff.
func (a *API) Routes() chi.Router {
	r := chi.NewRouter()
	r.Use(noSniff, origin.APIPreflight(a.origins))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, problem(http.StatusNotFound, "not_found", "no route "+r.URL.Path+" in /api/v1 (see /api/v1/openapi.json)"))
	})
	r.MethodNotAllowed(a.methodNotAllowed(r))
	r.Get("/openapi.json", a.openAPI)
	r.Group(func(r chi.Router) {
		r.Use(a.Auth.Middleware(func(w http.ResponseWriter, r *http.Request, err error) { fail(a.Log, w, r, err) }))
		r.Use(origin.APIActual(a.Accounts, func(r *http.Request) string { return claims(r).Account }))
		r.Use(a.count)
		r.Use(a.budget)
		staff := roles(auth.RoleAdmin, auth.RoleIntegrator)
		admin := roles(auth.RoleAdmin)
		config := chi.Chain(admin, a.configWrite) // a configuration write (ratelimit.go)
		desk := roles(auth.RoleAdmin, auth.RoleIntegrator, auth.RoleAgent, auth.RoleSupervisor)
		read := roles(auth.RoleAdmin, auth.RoleIntegrator, auth.RoleSupervisor) // supervisors read (monitor.go)

		r.With(read).Get("/users", a.listUsers)
		r.With(read).Get("/users/{user_id}", a.getUser)
		r.With(config...).Put("/users/{user_id}", a.putUser)
		r.With(config...).Delete("/users/{user_id}", a.deleteUser)

		r.With(desk).Get("/settings", a.getSettings)
		r.With(config...).Put("/settings", a.putSettings)

		r.With(append(config, noStore)...).Post("/tokens", a.postToken)
		r.With(config...).Delete("/tokens/{token_id}", a.deleteToken)
		r.With(admin).Get("/tokens", a.listTokens)
		trunkRoutes(a, r.With(admin))
		promptRoutes(a, r.With(admin))     // prompts.go
		liveRoutes(a, r.With(desk))        // live.go
		dispositionRoutes(a, r.With(desk)) // disposition.go

		r.With(desk).Get("/calls", a.listCalls) // an agent lists only its own calls (calls.go)
		r.With(read).Get("/calls/{call_id}", a.getCall)
		chatRoutes(a, r.With(read)) // chats.go

		r.With(read).Get("/events", a.listEvents)
		a.commandRoutes(r.With(staff))
		a.consultRoutes(r.With(staff)) // consult.go
		monitorRoutes(a, r.With(roles(auth.RoleSupervisor)))
		recordingRoutes(a, r.With(staff)) // recordings.go
	})
	return r
}

// roles lets only the given roles through.
func roles(allowed ...auth.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := auth.ClaimsFrom(r.Context())
			for _, role := range allowed {
				if c != nil && c.Role == role {
					next.ServeHTTP(w, r)
					return
				}
			}
			writeProblem(w, r, problem(http.StatusForbidden, "forbidden", "a "+roleName(c)+" token may not "+r.Method+" "+r.URL.Path))
		})
	}
}

func roleName(c *auth.Claims) string {
	if c == nil {
		return "missing"
	}
	return string(c.Role)
}

// count records each request by route pattern and status class.
func (a *API) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if a.Metrics != nil {
			route := chi.RouteContext(r.Context()).RoutePattern()
			a.Metrics.HTTPRequests.WithLabelValues(route, strconv.Itoa(sw.status/100)+"xx").Inc()
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// readBody reads a JSON body of at most MaxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "application/merge-patch+json") {
			return nil, errUnsupportedMedia
		}
	}
	if r.ContentLength > MaxBody {
		return nil, errBodyTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errBodyTooLarge
	}
	return body, err
}

// decode reads, validates against schema and unmarshals the body into v.
func (a *API) decode(w http.ResponseWriter, r *http.Request, schema string, v any) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	return a.Schemas.Decode(schema, body, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func claims(r *http.Request) *auth.Claims { return auth.ClaimsFrom(r.Context()) }

func ts(t time.Time) string { return t.UTC().Format(event.TimeFormat) }

func tsPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := ts(*t)
	return &s
}

// settingsChanged tells every connected client of the account about new settings.
func (a *API) settingsChanged(ctx context.Context, acct string, s account.Settings) error {
	_, err := a.Hub.Publish(ctx, acct, event.SettingsChanged, map[string]any{"settings": s})
	return err
}
