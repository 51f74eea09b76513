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
			if e.Revision != nil {
				a.logf("%s", retryLine(e))
				break
			}
			a.logf("INFO  [glance-manage] data migration %s failed: %s; attempt %d in %s", e.SQL, oneLine(e.Err), e.Attempt+1, e.Wait.Round(time.Millisecond))
		case migrate.TotalOrder:
			// Galera ran the DDL in total order: every node held its
			// other writes back meanwhile.
			a.logf("INFO  [glance-manage] galera: cluster-wide stall of %s (DDL in total order, no node committed other writes): %s", e.Took.Round(time.Millisecond), shortSQL(e.SQL))
		case migrate.OpSkipped:
			a.logf("INFO  [glance-manage] %s: already done, skipped", e.Op.Describe())
		}
		return nil
	}
}

// shortSQL is stmt on one line, cut to 120 characters.
func shortSQL(stmt string) string {
	s := strings.Join(strings.Fields(stmt), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
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
func (a *app) dataProgress() func(migrate.DataProgress) { return a.rowsDone("data migration %s") }

// copyProgress shows the progress of a table's shadow copy (an online
// change of column on MariaDB), like dataProgress.
func (a *app) copyProgress() func(migrate.DataProgress) { return a.rowsDone("%s into a shadow table") }

// rowsDone reports migrate.DataProgress as rowProgress lines; what names
// the work, with %s for DataProgress.Migration.
func (a *app) rowsDone(what string) func(migrate.DataProgress) {
	r := &rowProgress{a: a}
	return func(p migrate.DataProgress) {
		r.show(p.Migration, p.Done, p.Total, p.Elapsed, p.Finished, func(rate float64, eta string) string {
			state := "progress"
			if p.Finished {
				state = "done"
			}
			return fmt.Sprintf("INFO  [glance-manage] %s %s: %d/%d rows, %.0f rows/s, ETA %s", fmt.Sprintf(what, p.Migration), state, p.Done, p.Total, rate, eta)
		})
	}
}

// rowProgress draws the progress of work counted in rows (data
// migrations, purges): a bar with rate and ETA on a terminal; elsewhere a
// plain line every few seconds and one at the end.
type rowProgress struct {
	a    *app
	bar  *progressbar.ProgressBar
	last time.Time
}

// show reports done of total rows (total 0 or less: not known) after
// elapsed.
// Off a terminal, line makes the line to print from the rate in rows per
// second and the ETA ("-" when unknown).
func (r *rowProgress) show(desc string, done, total int64, elapsed time.Duration, finished bool, line func(rate float64, eta string) string) {
	if r.a.env.Terminal {
		if r.bar == nil {
			r.bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(r.a.errw),
				progressbar.OptionSetDescription(desc),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("rows"),
				progressbar.OptionSetPredictTime(total > 0),
				progressbar.OptionThrottle(100*time.Millisecond))
		}
		_ = r.bar.Set64(done)
		if finished {
			_ = r.bar.Finish()
			fmt.Fprintln(r.a.errw)
			r.bar = nil
		}
		if !r.a.logging() {
			return
		}
		// The bar stays on the terminal; the log gets the plain lines.
	}
	if !finished && time.Since(r.last) < 5*time.Second {
		return
	}
	r.last = time.Now()
	rate := float64(done) / max(elapsed.Seconds(), 1e-3)
	eta := "-"
	if rate > 0 && total > done {
		eta = (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
	}
	if r.a.env.Terminal {
		r.a.logOnly(line(rate, eta))
		return
	}
	r.a.logf("%s", line(rate, eta))
}
