package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/glance-manage/glance-manage/migrate"
)

// observer logs each revision as alembic does ("Running upgrade a -> b,
// message") and, with --debug, every statement.
func (a *app) observer() func(migrate.Event) error {
	return func(e migrate.Event) error {
		switch e.Kind {
		case migrate.RevisionStart:
			line := fmt.Sprintf("INFO  [alembic.runtime.migration] Running upgrade %s -> %s", e.Revision.Down, e.Revision.ID)
			if e.Revision.Message != "" {
				line += ", " + e.Revision.Message
			}
			a.logf("%s", line)
		case migrate.Statement:
			if a.debug {
				a.logf("DEBUG [glance-manage] %s", e.SQL)
			}
		case migrate.BaselineStart:
			revs := strings.Split(e.From, ",")
			a.logf("INFO  [glance-manage] empty database: creating the schema of %s directly (the result of the %d revisions %s .. %s)", e.Revision.ID, len(revs), revs[0], revs[len(revs)-1])
		case migrate.Retry:
			// A revision (or a data-migration batch) hit a lock wait
			// timeout, a deadlock or a busy database and was rolled
			// back; it runs again after the backoff.
			what := "data migration " + e.SQL
			if e.Revision != nil {
				what = "revision " + e.Revision.ID
			}
			a.logf("INFO  [glance-manage] %s failed: %s; attempt %d in %s", what, oneLine(e.Err), e.Attempt+1, e.Wait.Round(time.Millisecond))
		case migrate.OpSkipped:
			a.logf("INFO  [glance-manage] %s: already done, skipped", e.Op.Describe())
		}
		return nil
	}
}

// oneLine is err's text on one line.
func oneLine(err error) string {
	if err == nil {
		return "unknown error"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// dataProgress shows data-migration progress: a bar with rate and ETA on
// a terminal, a plain line every few seconds otherwise.
func (a *app) dataProgress() func(migrate.DataProgress) {
	var bar *progressbar.ProgressBar
	var last time.Time
	return func(p migrate.DataProgress) {
		if a.env.Terminal {
			if bar == nil {
				bar = progressbar.NewOptions64(p.Total,
					progressbar.OptionSetWriter(a.errw),
					progressbar.OptionSetDescription(p.Migration),
					progressbar.OptionShowCount(),
					progressbar.OptionShowIts(),
					progressbar.OptionSetItsString("rows"),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionThrottle(100*time.Millisecond))
			}
			_ = bar.Set64(p.Done)
			if p.Finished {
				_ = bar.Finish()
				fmt.Fprintln(a.errw)
				bar = nil
			}
			return
		}
		if !p.Finished && time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		rate := float64(p.Done) / max(p.Elapsed.Seconds(), 1e-3)
		eta := "-"
		if rate > 0 && p.Total > p.Done {
			eta = (time.Duration(float64(p.Total-p.Done)/rate) * time.Second).Round(time.Second).String()
		}
		state := "progress"
		if p.Finished {
			state = "done"
		}
		a.logf("INFO  [glance-manage] data migration %s %s: %d/%d rows, %.0f rows/s, ETA %s", p.Migration, state, p.Done, p.Total, rate, eta)
	}
}
