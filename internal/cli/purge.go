package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/glance-manage/glance-manage/glance/purge"
	"github.com/glance-manage/glance-manage/migrate"
)

// purgeCommand is `db purge` or `db purge_images_table` (upstream has no
// db_purge spelling).
func (a *app) purgeCommand(name string, defAge int) *cobra.Command {
	opts := append([]pyOption{{name: "age_in_days", integer: true}, {name: "max_rows", integer: true}, {name: "no-yield", boolean: true}}, throttlePyOptions()...)
	//lint:ignore S1021 the closure refers to c
	var c *cobra.Command
	c = pyCommand(name+" [AGE_IN_DAYS [MAX_ROWS]]", describe(name), func(cmd *cobra.Command, args []string) error {
		p, err := a.parseAction(cmd, args, opts)
		if err != nil {
			return err
		}
		if p.help {
			return cmd.Help()
		}
		if len(p.positional) > 2 {
			return tooMany(name, p.positional, "age_in_days", "max_rows")
		}
		vals := []string{fmt.Sprint(defAge), fmt.Sprint(purge.DefaultMaxRows)}
		for i, param := range []string{"age_in_days", "max_rows"} {
			v, opt := p.values[param]
			if i < len(p.positional) {
				if opt {
					return twice(name, param, i+1)
				}
				v = p.positional[i]
			} else if !opt {
				continue
			}
			vals[i] = v
		}
		age, rows, err := purge.Validate(vals[0], vals[1], time.Now())
		var ae *purge.ArgError
		if errors.As(err, &ae) {
			return exit(exitError, "%s", ae.Msg)
		} else if err != nil {
			return err
		}
		a.thr.fromPy(p)
		return a.withDB(func(ctx context.Context, s *session, _ []string) error {
			return a.purge(ctx, s, name == "purge_images_table", age, rows, p.flags["no-yield"])
		})(cmd, nil)
	}, func(f *pflag.FlagSet) {
		f.Int("age_in_days", defAge, "Purge deleted rows older than age in days")
		f.Int("max_rows", purge.DefaultMaxRows, "Limit number of records to delete. All deleted rows will be purged if equals -1.")
		f.Bool("no-yield", false, "delete each table's rows in one statement, as fast as a bare DELETE, without pausing for writers: only when no Glance service writes to the database")
		var thr throttleFlags
		c := &cobra.Command{}
		thr.register(c, false)
		f.AddFlagSet(c.Flags())
	})
	c.Long = describe(name) + "\n\nRows are deleted in short batches, each its own transaction, so a large purge\ndoes not hold locks for long; an interrupted purge keeps what it deleted and\ncan simply be run again. With --no-yield, when no Glance service runs, each\ntable's rows go in one DELETE, as fast as the bare statement (writers would\nwait for all of it); the same rows go."
	return c
}

// purge runs `db purge` (images false) or `db purge_images_table`.
func (a *app) purge(ctx context.Context, s *session, images bool, age int, maxRows int64, noYield bool) error {
	need := purge.Tables()
	if images {
		need = []string{"images"}
	}
	for _, t := range need {
		ok, err := s.mgr.Dialect.TableExists(ctx, s.mgr.DB, t)
		if err != nil {
			return a.fail(err)
		}
		if !ok {
			return exit(exitError, "ERROR: the database has no %s table: it holds no Glance schema yet. Run `glance-manage db sync` first.", t)
		}
	}
	t, err := a.sessionThrottle(ctx, s)
	if err != nil {
		return err
	}
	o := purge.Options{
		Throttle:  t,
		AgeInDays: age,
		MaxRows:   maxRows,
		NoYield:   noYield,
		Log:       a.purgeLog(),
		Progress:  a.purgeProgress(),
		Fence:     s.fence,
	}
	run := purge.Rows
	if images {
		run = purge.Images
	}
	res, err := run(ctx, s.mgr.DB, s.mgr.Dialect, o)
	var (
		re  *purge.ReferenceError
		ae  *purge.ArgError
		rpe *migrate.ReplicaError
	)
	switch {
	case errors.As(err, &re):
		a.logf("ERROR [glance-manage] %v", re)
		return exit(exitError, "%s", purge.MsgFailed)
	case errors.As(err, &ae):
		return exit(exitError, "%s", ae.Msg)
	case errors.As(err, &rpe):
		return replicaError(rpe)
	case errors.Is(err, context.Canceled):
		return exit(a.exitInterrupted(), "ERROR: interrupted; the rows deleted so far stay deleted (each batch is its own transaction). Run the same command again to continue.")
	case err != nil:
		return a.fail(err)
	}
	for _, tr := range res.Tables {
		if tr.Kept == 0 {
			continue
		}
		var by []string
		for t, n := range tr.KeptBy {
			by = append(by, fmt.Sprintf("%s (%d)", t, n))
		}
		sort.Strings(by)
		hint := ""
		if tr.Table == "images" {
			hint = " Run `glance-manage db purge` first to purge those rows; images whose rows are live stay."
		}
		a.logf("WARNING [glance-manage] Kept %d row(s) of %s deleted before %s: rows of %s still reference them.%s",
			tr.Kept, tr.Table, res.Cutoff.Format("2006-01-02 15:04:05"), strings.Join(by, ", "), hint)
	}
	return nil
}

// purgeProgressAfter is how long a table's purge runs before progress is
// shown, so that the usual small purges print only upstream's lines.
const purgeProgressAfter = 2 * time.Second

// purgeProgress shows a long purge's progress per table: a bar with rate
// (and ETA when the total is known) on a terminal, a plain line every few
// seconds otherwise.
func (a *app) purgeProgress() func(purge.Progress) {
	r := &rowProgress{a: a}
	return func(p purge.Progress) {
		if p.Elapsed < purgeProgressAfter && r.bar == nil {
			return
		}
		r.show("purging "+p.Table, p.Deleted, p.Total, p.Elapsed, p.Finished, func(rate float64, eta string) string {
			line := fmt.Sprintf("INFO  [glance-manage] purging %s: %d rows deleted, %.0f rows/s", p.Table, p.Deleted, rate)
			if p.Total > 0 && !p.Finished {
				line += fmt.Sprintf(" (at most %d, ETA %s)", p.Total, eta)
			}
			if p.Finished {
				line += fmt.Sprintf(", done in %d batches (longest %s)", p.Batches, p.Longest.Round(time.Millisecond))
			}
			return line
		})
	}
}
