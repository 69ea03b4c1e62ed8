// Package metrics holds the adapter's Prometheus collectors on a registry of its own (never the
// global one), so that tests can build many servers in one process.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the adapter's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	Connections        *prometheus.GaugeVec     // open connections by protocol (vox, bridge, rtc, ...)
	EventsAppended     prometheus.Counter       // events made durable
	EventsDelivered    prometheus.Counter       // event deliveries to subscribers
	SubscribersDropped prometheus.Counter       // subscribers dropped for falling behind
	CommandLatency     *prometheus.HistogramVec // command handling time by protocol and command
	ActiveCalls        prometheus.Gauge         // calls not yet ended
	HTTPRequests       *prometheus.CounterVec   // REST requests by route pattern and status class
}

// New registers every collector, plus the Go runtime and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cti_connections", Help: "Open client connections by protocol.",
		}, []string{"protocol"}),
		EventsAppended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cti_events_appended_total", Help: "Events appended to the durable per-account logs.",
		}),
		EventsDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cti_events_delivered_total", Help: "Events delivered to live subscribers.",
		}),
		SubscribersDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cti_subscribers_dropped_total", Help: "Subscribers disconnected because they fell behind.",
		}),
		CommandLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cti_command_duration_seconds",
			Help:    "Time to handle a command, from decode to reply.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"protocol", "command"}),
		ActiveCalls: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cti_active_calls", Help: "Calls that have not ended.",
		}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cti_http_requests_total", Help: "REST requests by route and status code class.",
		}, []string{"route", "code"}),
	}
	r.MustRegister(m.Connections, m.EventsAppended, m.EventsDelivered, m.SubscribersDropped,
		m.CommandLatency, m.ActiveCalls, m.HTTPRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
