package httpapi

import (
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics holds the HTTP instruments; one registry per server keeps tests
// independent of each other.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, pool *pgxpool.Pool) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tongquan_http_requests_total",
			Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tongquan_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pool != nil {
		reg.MustRegister(newPoolCollector(pool))
	}
	return m
}

func (m *metrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := routeLabel(c)
		m.requests.WithLabelValues(route, c.Request.Method, statusLabel(c.Writer.Status())).Inc()
		m.duration.WithLabelValues(route, c.Request.Method).Observe(time.Since(start).Seconds())
	}
}

// poolCollector exports pgxpool statistics at scrape time.
type poolCollector struct {
	pool                                    *pgxpool.Pool
	total, idle, acquired, maxConns         *prometheus.Desc
	acquireCount, acquireWait, emptyAcquire *prometheus.Desc
	canceledAcquire                         *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("tongquan_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		pool:            pool,
		total:           d("conns", "Connections open in the pool."),
		idle:            d("idle_conns", "Idle connections."),
		acquired:        d("acquired_conns", "Connections in use."),
		maxConns:        d("max_conns", "Pool size limit."),
		acquireCount:    d("acquires_total", "Successful acquires."),
		acquireWait:     d("acquire_wait_seconds_total", "Time spent waiting for a connection."),
		emptyAcquire:    d("empty_acquires_total", "Acquires that had to wait for a connection."),
		canceledAcquire: d("canceled_acquires_total", "Acquires canceled by their context."),
	}
}

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.total, p.idle, p.acquired, p.maxConns, p.acquireCount, p.acquireWait, p.emptyAcquire, p.canceledAcquire} {
		ch <- d
	}
}

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.pool.Stat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	c := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(p.total, float64(s.TotalConns()))
	g(p.idle, float64(s.IdleConns()))
	g(p.acquired, float64(s.AcquiredConns()))
	g(p.maxConns, float64(s.MaxConns()))
	c(p.acquireCount, float64(s.AcquireCount()))
	c(p.acquireWait, s.AcquireDuration().Seconds())
	c(p.emptyAcquire, float64(s.EmptyAcquireCount()))
	c(p.canceledAcquire, float64(s.CanceledAcquireCount()))
}
