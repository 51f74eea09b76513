package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Waits an operator sees and bounds: SQLite's own write lock
// (--busy-timeout), online DDL behind a table lock (--ddl-wait), and a
// server that goes away mid-run.

// parseWait parses a duration option: a Go duration or a number of
// seconds; negative means without limit (-1 is returned).
func parseWait(flag, v string) (time.Duration, bool, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 {
			return -1, true, nil
		}
		return time.Duration(n * float64(time.Second)), true, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, false, exit(exitUsage, "glance-manage: error: %s %q is not a duration (e.g. 30s, 5m, 0 to not wait, -1 to wait without limit)", flag, v)
	}
	if d < 0 {
		return -1, true, nil
	}
	return d, true, nil
}

// openOptions are dburl's options for --busy-timeout and the notice of
// a wait for SQLite's write lock.
func (a *app) openOptions() ([]dburl.OpenOption, error) {
	d, set, err := parseWait("--busy-timeout", a.busyTimeout)
	if err != nil {
		return nil, err
	}
	opts := []dburl.OpenOption{dburl.WithSQLiteBusyNotice(a.busyNotice)}
	if set {
		if d < 0 {
			d = math.MaxInt32 * time.Millisecond // SQLite counts milliseconds in an int
		}
		opts = append(opts, dburl.WithSQLiteBusyTimeout(d))
	}
	return opts, nil
}

// busyNotice says, while it waits, that a statement waits for another
// connection's lock on the SQLite file.
func (a *app) busyNotice(w dburl.BusyWait) {
	if w.Writing() {
		a.logf("WARNING: waiting for the write lock of the SQLite database %s: %s holds it, in a transaction that has not ended. Waiting up to %s (--busy-timeout).",
			w.Path, holders(w.Holders, true), w.Limit)
		return
	}
	a.logf("WARNING: waiting to commit to the SQLite database %s: %s is reading it. Waiting up to %s (--busy-timeout).",
		w.Path, holders(w.Holders, false), w.Limit)
}

// holders names the processes of an SQLite lock for people.
func holders(hs []dburl.LockHolder, writers bool) string {
	var names []string
	for _, h := range hs {
		if !writers || h.Write {
			names = append(names, h.String())
		}
	}
	if len(names) == 0 {
		return "another connection"
	}
	return "another connection (" + strings.Join(names, "; ") + ")"
}

// ddlLimit is --ddl-wait as migrate.Options.LockWait.
func (a *app) ddlLimit() (time.Duration, error) {
	d, set, err := parseWait("--ddl-wait", a.ddlWait)
	switch {
	case err != nil || !set:
		return 0, err
	case d == 0:
		return -1, nil // one attempt
	case d < 0:
		return math.MaxInt64, nil
	}
	return d, nil
}

// retryLine is the line for a retry of an online revision (one per
// retry): the revision, the statement, what it waited for, the attempt
// about to run and when, and the bound.
func retryLine(e migrate.Event) string {
	stmt := statementKind(e.SQL)
	if stmt == "" && e.Op != nil {
		stmt = e.Op.Describe()
	}
	if stmt == "" {
		stmt = "a statement"
	}
	what := "could not get " + or(e.WaitedFor, "a lock")
	if e.Table != "" {
		what += " on " + e.Table
	}
	what += " in time (another session holds one)"
	if e.WaitedFor == "a deadlock" {
		what = "ran into a deadlock with another session"
	}
	msg := fmt.Sprintf("WARNING: revision %s: %s %s: attempt %d in %s", e.Revision.ID, stmt, what, e.Attempt+1, e.Wait.Round(time.Millisecond))
	if e.Limit > 0 {
		msg += fmt.Sprintf("; trying for at most %s (--ddl-wait), %s so far", e.Limit, e.Tried.Round(100*time.Millisecond))
	}
	return msg + "."
}

// statementKind shortens a statement to its verb, object and name
// ("ALTER TABLE images", "CREATE INDEX visibility_image_idx"); what is
// not SQL (a copy's name) is returned as is.
func statementKind(sql string) string {
	words := strings.Fields(sql)
	if len(words) < 2 {
		return sql
	}
	verb := strings.ToUpper(words[0])
	switch verb {
	case "ALTER", "CREATE", "DROP", "RENAME":
	case "INSERT", "UPDATE", "DELETE", "REPLACE":
		return verb + " on " + tableAfter(words)
	default:
		return sql
	}
	out := []string{verb}
	for _, w := range words[1:] {
		up := strings.ToUpper(w)
		switch up {
		case "IF", "NOT", "EXISTS", "OR", "UNIQUE", "CONCURRENTLY":
			continue
		}
		if len(out) == 1 {
			out = append(out, up)
			continue
		}
		out = append(out, strings.TrimRight(w, "(,;"))
		break
	}
	return strings.Join(out, " ")
}

// tableAfter finds the table of a DML statement (after INTO, UPDATE or
// FROM).
func tableAfter(words []string) string {
	for i, w := range words[:len(words)-1] {
		switch strings.ToUpper(w) {
		case "INTO", "UPDATE", "FROM":
			return strings.TrimRight(words[i+1], "(,;")
		}
	}
	return "a table"
}

// explainWait words the errors of waits and lost connections, or reports
// false for any other error.
func (a *app) explainWait(err error) (error, bool) {
	var (
		be *dburl.BusyError
		ro *dburl.ReadOnlyError
		lw *migrate.LockWaitError
	)
	switch {
	case errors.As(err, &be):
		who, what := holders(be.Holders, true), "holds it, in a transaction that has not ended"
		if len(be.Holders) > 0 && !writingAny(be.Holders) {
			who, what = holders(be.Holders, false), "is reading the database, which keeps this run from committing"
		}
		return exit(exitError, "ERROR: gave up after %s waiting for the write lock of the SQLite database %s (--busy-timeout %s): %s %s. This is SQLite's own lock on the file, not the migration lock. End that transaction (or let it finish), then run %s again; --busy-timeout waits longer.",
			be.Waited.Round(100*time.Millisecond), be.Path, be.Limit, who, what, a.again()), true
	case errors.As(err, &ro) && ro.Missing:
		return exit(exitError, "ERROR: cannot create the SQLite database %s: %s cannot create files in its directory %s. Make the directory writable for this user (or run as the user that owns it, or create the file), then run %s again.",
			ro.Path, thisUser(), ro.Dir, a.again()), true
	case errors.As(err, &ro) && ro.Dir != "":
		return exit(exitError, "ERROR: cannot write the SQLite database %s: %s cannot create files in its directory %s, where SQLite writes the database's journal (%s) during every change. Make the directory writable for this user (or run as the user that owns it), then run %s again.",
			ro.Path, thisUser(), ro.Dir, filepath.Base(ro.Path)+"-journal", a.again()), true
	case errors.As(err, &ro):
		return exit(exitError, "ERROR: cannot write the SQLite database %s: the file is read-only for %s. Make it writable for this user (or run as its owner), then run %s again.",
			ro.Path, thisUser(), a.again()), true
	case dburl.ConnectionLost(err):
		return exit(exitError, "ERROR: the database server closed or dropped the connection (the session was killed, or the server restarted or cannot be reached)%s. Check that the server is up, then run %s again: it goes on from where this run stopped.",
			a.where(err), a.again()), true
	case errors.As(err, &lw):
		return exit(exitError, "ERROR: %s", a.lockWaitMessage(lw)), true
	}
	return nil, false
}

func writingAny(hs []dburl.LockHolder) bool {
	for _, h := range hs {
		if h.Write {
			return true
		}
	}
	return false
}

func thisUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "this user (" + u.Username + ")"
	}
	return "this user"
}

// again names the command to run again.
func (a *app) again() string {
	if a.command == "" {
		return "the same command"
	}
	return "`glance-manage " + a.command + "`"
}

// lockWaitMessage explains a DDL that gave up waiting for its lock: how
// long it tried, who is in the way and how to end them, and where the
// database is.
func (a *app) lockWaitMessage(lw *migrate.LockWaitError) string {
	stmt := statementKind(lw.SQL)
	if stmt == "" {
		stmt = or(lw.Op, "its statement")
	}
	on := ""
	if lw.Table != "" {
		on = " on " + lw.Table
	}
	msg := fmt.Sprintf("revision %s: %s could not get %s%s: gave up after %d attempt(s) in %s (--ddl-wait %s).",
		lw.Revision, stmt, lw.WaitedFor, on, lw.Attempts, lw.Tried.Round(100*time.Millisecond), lw.Limit)
	switch {
	case lw.BlockersErr != nil:
		msg += fmt.Sprintf(" The sessions in the way could not be read (%s).", oneLine(lw.BlockersErr))
	case len(lw.Blockers) == 0:
		msg += fmt.Sprintf(" No other session was found holding a lock%s (it may have ended meanwhile).", on)
	case lw.Blockers[0].Holds:
		msg += " In the way: " + sessionList(lw.Blockers) + "."
	default:
		msg += " This server does not say which session holds the lock (on MariaDB, the METADATA_LOCK_INFO plugin or performance_schema would); the sessions with a transaction open are: " + sessionList(lw.Blockers) + "."
	}
	msg += " " + stateAfter(a, lw)
	return msg + fmt.Sprintf(" End that session (or its transaction), or run %s again later.", a.again())
}

// sessionList describes sessions for people, each with the statement
// that ends it.
func sessionList(ss []dialect.Session) string {
	const most = 5
	var parts []string
	for i, s := range ss {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(ss)-most))
			break
		}
		d := []string{"user " + or(s.User, "unknown")}
		if s.Host != "" {
			d = append(d, "from "+s.Host)
		}
		if s.State != "" {
			d = append(d, s.State)
		}
		if s.InTx {
			d = append(d, "transaction open "+s.TxAge.Round(time.Second).String())
		}
		if q := strings.Join(strings.Fields(s.Query), " "); q != "" {
			if len(q) > 60 {
				q = q[:60] + "..."
			}
			d = append(d, "last statement: "+q)
		}
		parts = append(parts, fmt.Sprintf("session %d (%s; end it with `%s`)", s.ID, strings.Join(d, ", "), s.End))
	}
	return strings.Join(parts, "; ")
}

// stateAfter says what a failed revision left, per how it ran: in one
// transaction (SQLite, PostgreSQL offline and most revisions online),
// rolled back; in several (every DDL statement on MySQL/MariaDB, and a
// PostgreSQL revision that builds an index concurrently or checks a NOT
// NULL outside its transaction), what committed is kept, and the next
// run skips it (the crash test checks that it converges).
func stateAfter(a *app, err error) string {
	var se *migrate.StepError
	heads := a.heads()
	switch {
	case errors.As(err, &se) && se.Resumable && a.ddlCommits():
		return fmt.Sprintf("On MySQL/MariaDB every DDL statement commits at once: what %s did before that statement is kept (columns, indexes, triggers, a shadow copy of a table), the database is at %s, and the next run skips what is done.", se.Revision, heads)
	case errors.As(err, &se) && se.Resumable:
		return fmt.Sprintf("%s runs in several transactions here (an index built concurrently, a NOT NULL checked outside the transaction): those that committed are kept, the database is at %s, and the next run skips what is done.", se.Revision, heads)
	case errors.As(err, &se):
		return fmt.Sprintf("The transaction of %s was rolled back: the database is at %s, as before it.", se.Revision, heads)
	}
	return "The database is at " + heads + "."
}

// ddlCommits reports whether every DDL statement commits by itself on
// the session's backend (MySQL/MariaDB: no transactional DDL).
func (a *app) ddlCommits() bool {
	return a.sess != nil && a.sess.mgr != nil && !a.sess.mgr.Dialect.TransactionalDDL()
}

// where says where a run stopped, for a lost connection.
func (a *app) where(err error) string {
	var (
		se *migrate.StepError
		de *migrate.DataError
	)
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf(" while revision %s ran (%s). %s", se.Revision, se.Op, strings.TrimSuffix(stateAfter(a, err), "."))
	case errors.As(err, &de):
		return fmt.Sprintf(" in batch %d of data migration %s. The %d row(s) this run migrated before it are kept, the batch was rolled back, and the database is at %s",
			de.Batch, de.Migration, de.Done, a.heads())
	}
	return ". The database is at " + a.heads()
}

func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// heads reads the version table anew, for messages after a failure.
func (a *app) heads() string {
	if a.sess == nil {
		return "the revision it was at"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := a.sess.mgr.Heads(ctx)
	switch {
	case err != nil:
		return "a revision that could not be read now (" + oneLine(err) + ")"
	case len(rows) == 0:
		return "no revision yet"
	}
	return "revision(s) " + strings.Join(rows, ", ")
}
