package migrate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Load. A LoadThrottle holds the batches back while the server is busier
// than the operator allows (gh-ost's and pt-online-schema-change's
// --max-load): Threads_running=25 on MySQL/MariaDB, active=25 on
// PostgreSQL.

// ErrBadLoad: a --max-load value that cannot be read.
var ErrBadLoad = errors.New("migrate: invalid maximum load")

// LoadLimit is one metric and the most it may be.
type LoadLimit struct {
	Metric string // "" for the dialect's default metric
	Max    float64
}

// ParseLoad reads limits written as gh-ost writes them: comma-separated
// METRIC=N (Threads_running=25,Threads_connected=500), or a bare N for
// the backend's default metric.
func ParseLoad(s string) ([]LoadLimit, error) {
	var out []LoadLimit
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		metric, val, ok := strings.Cut(part, "=")
		if !ok {
			metric, val = "", part
		}
		metric = strings.TrimSpace(metric)
		n, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || n < 0 || (ok && metric == "") {
			return nil, fmt.Errorf("%w %q: write METRIC=N[,METRIC=N...], e.g. Threads_running=25", ErrBadLoad, part)
		}
		out = append(out, LoadLimit{Metric: metric, Max: n})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w %q: write METRIC=N[,METRIC=N...], e.g. Threads_running=25", ErrBadLoad, s)
	}
	return out, nil
}

// LoadOptions configure NewLoadThrottle.
type LoadOptions struct {
	Limits  []LoadLimit
	Dialect dialect.Dialect // must implement dialect.Load
	DB      dialect.Querier // the server to watch (the primary)
	// Report and Notify: as LagOptions'.
	Report time.Duration
	Notify func(ThrottleWait)
}

// NewLoadThrottle returns a Throttler whose Wait returns once every
// metric is at most its limit. The server is asked at most twice a
// second. Each metric is read once here, so that a name the server does
// not know is refused before any batch (an error wrapping
// dialect.ErrUnknownMetric).
func NewLoadThrottle(ctx context.Context, o LoadOptions) (Throttler, error) {
	ld, ok := o.Dialect.(dialect.Load)
	if !ok {
		return nil, fmt.Errorf("migrate: the %s backend reports no load", o.Dialect.Name())
	}
	limits := append([]LoadLimit(nil), o.Limits...)
	for i := range limits {
		if limits[i].Metric == "" {
			limits[i].Metric = ld.DefaultLoadMetric()
		}
		if _, err := ld.LoadMetric(ctx, o.DB, limits[i].Metric); err != nil {
			return nil, err
		}
	}
	check := func(ctx context.Context) ([]Over, error) {
		var over []Over
		for _, l := range limits {
			v, err := ld.LoadMetric(ctx, o.DB, l.Metric)
			if err != nil {
				return nil, fmt.Errorf("migrate: reading the load (%s): %w", l.Metric, err)
			}
			if v > l.Max {
				over = append(over, Over{What: l.Metric, Value: strconv.FormatFloat(v, 'f', -1, 64), Limit: strconv.FormatFloat(l.Max, 'f', -1, 64)})
			}
		}
		return over, nil
	}
	return newGate("load", check, 500*time.Millisecond, o.Report, o.Notify), nil
}
