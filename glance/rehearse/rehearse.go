// Package rehearse rehearses an upgrade: it copies a Glance database into
// a scratch database (a consistent snapshot, as `glance-manage db backup`
// takes), runs the preflight checks there, then the phases of a rolling
// upgrade (expand, migrate, contract) on the copy beside a light
// synthetic load of old- and new-release writers (package rolling), and
// measures per phase what the services would feel. The scratch database
// is dropped at the end, also when the rehearsal fails or is cancelled.
// The source database is only read.
//
// The scratch database is, by default, a new database on the source's
// server named after it (ScratchName), or, on SQLite, a file next to the
// source's. Options.Scratch names another: a database that does not
// exist yet on the source's server (created and dropped), an empty
// database (filled, and emptied again at the end) or an SQLite file that
// does not exist. A database that holds anything is refused, and so is
// the source itself.
package rehearse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/glance-manage/glance-manage/backup"
	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/glance/preflight"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/rolling"
)

// Sentinels of the scratch database; match them with errors.Is. They come
// wrapped in a *ScratchError.
var (
	// ErrSameDatabase: the scratch URL names the source database.
	ErrSameDatabase = errors.New("rehearse: the scratch database is the source")
	// ErrScratchNotEmpty: the scratch database holds tables.
	ErrScratchNotEmpty = errors.New("rehearse: the scratch database is not empty")
	// ErrScratchExists: the scratch SQLite file exists.
	ErrScratchExists = errors.New("rehearse: the scratch file exists")
	// ErrBackendMismatch: the scratch database is of another backend.
	ErrBackendMismatch = errors.New("rehearse: the scratch database is of another backend")
	// ErrScratchURL: the scratch URL is not valid, or cannot be made.
	ErrScratchURL = errors.New("rehearse: no usable scratch URL")
	// ErrScratchCreate: the scratch database could not be created.
	ErrScratchCreate = errors.New("rehearse: cannot create the scratch database")
	// ErrScratchOpen: the scratch database could not be opened.
	ErrScratchOpen = errors.New("rehearse: cannot open the scratch database")
	// ErrCopy: the copy of the source failed (the backup or its restore;
	// the cause is a backup error).
	ErrCopy = errors.New("rehearse: cannot copy the database")
)

// ScratchError is an error about the scratch database: its name (never
// with a password), what is wrong and the details.
type ScratchError struct {
	Name   string
	Err    error
	Detail string
}

func (e *ScratchError) Error() string {
	msg := e.Err.Error()
	if e.Name != "" {
		msg += " " + e.Name
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}
func (e *ScratchError) Unwrap() error { return e.Err }

// PhaseError is a phase that failed on the scratch copy.
type PhaseError struct {
	Phase string
	Err   error
}

func (e *PhaseError) Error() string { return "rehearse: " + e.Phase + ": " + e.Err.Error() }
func (e *PhaseError) Unwrap() error { return e.Err }

// Options tune a rehearsal.
type Options struct {
	// Scratch is the URL of the scratch database ("": the default, see
	// the package documentation).
	Scratch string
	// SourceRaw is the source's connection URL as configured, password
	// included, to name the default scratch database after it.
	SourceRaw string
	// OpenOptions open the scratch database.
	OpenOptions []dburl.OpenOption
	// Backup tunes the copy (its ExcludePrefix leaves the tool's own
	// tables out, as db backup does).
	Backup *backup.Options
	// Upgrade is the base of the phases' options (InPlaceRebuild,
	// LockWait); Online is always set.
	Upgrade migrate.Options
	// Load is the writers' traffic; its Backend, DB and Dialect are the
	// scratch database's.
	Load rolling.LoadConfig
	// Settle is how long the writers run before the first phase and
	// after the last (default 300 ms).
	Settle time.Duration
	// Notify, when set, is told what the rehearsal is doing (for a log).
	Notify func(string)
}

// Report is what a rehearsal found.
type Report struct {
	Backend string `json:"backend"`
	Source  string `json:"source"` // redacted URL
	// From are the source's version rows; To the revision the upgrade
	// goes to.
	From []string `json:"from"`
	To   string   `json:"to"`
	// NothingToDo says why nothing was rehearsed ("" when it was): the
	// database is up to date, or empty.
	NothingToDo string `json:"nothing_to_do,omitempty"`

	Scratch     string `json:"scratch,omitempty"` // for people: what it was
	ScratchURL  string `json:"scratch_url,omitempty"`
	ScratchGone string `json:"scratch_cleanup,omitempty"` // what was done with it at the end

	Copy      *Copy              `json:"copy,omitempty"`
	Preflight *preflight.Report  `json:"preflight,omitempty"`
	Load      *Load              `json:"load,omitempty"`
	Phases    []*Phase           `json:"phases"`
	Failed    string             `json:"failed_phase,omitempty"`
	Error     string             `json:"error,omitempty"`
	Estimate  *Estimate          `json:"estimate,omitempty"`
	Commands  []Command          `json:"commands,omitempty"`
	Writes    []string           `json:"failed_writes,omitempty"` // the first failed writes of the load
	mu        sync.Mutex         `json:"-"`
	phases    map[string]*Phase  `json:"-"`
	timing    map[string]*timing `json:"-"`
}

// Copy describes the scratch copy.
type Copy struct {
	Took         Duration         `json:"took_ms"`
	Rows         map[string]int64 `json:"rows"` // per table
	SourceBytes  int64            `json:"source_bytes"`
	ScratchBytes int64            `json:"scratch_bytes"`
}

// Load describes the writers' traffic.
type Load struct {
	OldWriters int      `json:"old_writers"`
	NewWriters int      `json:"new_writers"`
	Pace       Duration `json:"pace_ms"`
	// OldColumn is the column the old writers set visibility with
	// (is_public before Ocata, else visibility).
	OldColumn string `json:"old_column"`
}

// Phase is what one phase did on the copy, and what the writers felt.
type Phase struct {
	Name     string   `json:"name"`
	Ran      bool     `json:"ran"` // false: nothing to do in this phase
	Duration Duration `json:"duration_ms"`
	// Rows: rows the phase wrote (migrated, or copied into shadow
	// tables).
	Rows int64 `json:"rows"`
	// LockWait is the longest a revision kept retrying a statement that
	// could not get its lock; LockWaitOn what it waited for.
	LockWait   Duration `json:"longest_lock_wait_ms"`
	LockWaitOn string   `json:"lock_wait_on,omitempty"`
	// The longest statement, and its text (shortened).
	LongestStatement    Duration `json:"longest_statement_ms"`
	LongestStatementSQL string   `json:"longest_statement_sql,omitempty"`
	// The writers: their longest stall (no write completed), longest
	// write, writes and failed writes.
	Stall        Duration `json:"writer_stall_ms"`
	MaxWrite     Duration `json:"longest_write_ms"`
	P99Write     Duration `json:"p99_write_ms"`
	Writes       int64    `json:"writes"`
	FailedWrites int64    `json:"failed_writes"`
	ShadowCopies []Shadow `json:"shadow_copies"`
	Retries      []Retry  `json:"retries"`
}

// Shadow is one shadow copy of a table (MariaDB, see migrate).
type Shadow struct {
	Table string   `json:"table"`
	Rows  int64    `json:"rows"`
	Took  Duration `json:"took_ms"`
}

// Retry is what was tried again, and how often.
type Retry struct {
	What  string `json:"what"`
	Count int64  `json:"count"`
}

// Estimate is the expected duration of the real run's phases.
type Estimate struct {
	// Factor scales the rehearsal's times: the source's size on disk
	// over the fresh copy's, at least 1 (see Basis).
	Factor float64             `json:"factor"`
	Phases map[string]Duration `json:"phases_ms"`
	Total  Duration            `json:"total_ms"`
	Basis  string              `json:"basis"`
}

// Command is one step of the real run.
type Command struct {
	Run  string `json:"run,omitempty"` // a command line; "" for a step that is not one
	Note string `json:"note"`
}

// Duration is a time.Duration that JSON writes as milliseconds.
type Duration time.Duration

// MarshalJSON writes d in milliseconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))), nil
}

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Blocked reports whether the preflight checks found a blocker on the copy.
func (r *Report) Blocked() bool { return r.Preflight != nil && r.Preflight.Blocked() }

// Run rehearses the upgrade of the database of src (at u, configured as
// o.SourceRaw). It returns the report, and an error when the rehearsal
// could not be made (a *ScratchError, ErrCopy) or a phase failed (a
// *PhaseError; the report says which). The scratch database is gone when
// it returns.
func Run(ctx context.Context, src *glance.Manager, u *dburl.URL, o Options) (rep *Report, err error) {
	notify := func(format string, args ...any) {
		if o.Notify != nil {
			o.Notify(fmt.Sprintf(format, args...))
		}
	}
	rep = &Report{Backend: string(u.Backend), Source: u.Redacted(), To: src.ContractHead(), Phases: []*Phase{},
		phases: map[string]*Phase{}, timing: map[string]*timing{}}
	empty, err := src.Migrator.IsEmpty(ctx)
	if err != nil {
		return nil, err
	}
	if empty {
		rep.NothingToDo = "the database is empty: `glance-manage db sync` creates its tables; there is nothing to copy"
		return rep, nil
	}
	rows, err := src.Heads(ctx)
	if err != nil {
		return nil, err
	}
	rep.From = rows
	for _, r := range rows {
		if r == rep.To {
			rep.NothingToDo = "the database is up to date (" + r + "): no phase is left to run"
			return rep, nil
		}
	}
	s, err := prepareScratch(ctx, u, o.SourceRaw, src.DB, o)
	if err != nil {
		return nil, err
	}
	rep.Scratch, rep.ScratchURL = s.desc, s.url.Redacted()
	defer func() {
		done, cerr := s.close(ctx)
		if cerr != nil {
			err = errors.Join(err, &ScratchError{Name: s.url.Redacted(), Err: errors.New("rehearse: could not remove the scratch database"), Detail: cerr.Error()})
			return
		}
		rep.ScratchGone = done
		notify("rehearse: %s", done)
	}()

	notify("rehearse: copying the database into %s", s.desc)
	t0 := time.Now()
	if err := s.fill(ctx, u, src.DB, o.Backup); err != nil {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		return rep, fmt.Errorf("%w: %w", ErrCopy, err)
	}
	rep.Copy = &Copy{Took: Duration(time.Since(t0))}
	mgr, err := glance.New(s.db, s.url.Dialect)
	if err != nil {
		return rep, err
	}
	if err := rep.measureCopy(ctx, u, src.DB, s); err != nil {
		return rep, err
	}

	notify("rehearse: preflight checks on the copy")
	if _, err := mgr.PlaceUnderControl(ctx); err != nil {
		return rep, &PhaseError{Phase: "expand", Err: err}
	}
	if rep.Preflight, err = preflight.Run(ctx, mgr, preflight.Options{Online: true, InPlaceRebuild: o.Upgrade.InPlaceRebuild}); err != nil {
		return rep, fmt.Errorf("rehearse: the preflight checks could not read the copy: %w", err)
	}
	err = rep.phasesOn(ctx, mgr, s, o, notify)
	rep.estimate(u)
	rep.commands()
	return rep, err
}

// measureCopy counts the copy's rows and the sizes of both databases.
func (r *Report) measureCopy(ctx context.Context, u *dburl.URL, srcDB *sql.DB, s *scratch) error {
	tables, err := tableNames(ctx, s.db, s.url.Backend)
	if err != nil {
		return err
	}
	r.Copy.Rows = map[string]int64{}
	for _, t := range tables {
		if t == migrate.VersionTable {
			continue
		}
		var n int64
		if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteIdent(s.url.Backend, t)).Scan(&n); err != nil {
			return fmt.Errorf("rehearse: count %s: %w", t, err)
		}
		r.Copy.Rows[t] = n
	}
	if analyze := serverOf(s.url.Backend).analyzeTable; analyze != "" {
		// Fresh statistics, so that the sizes of the loaded tables are
		// known.
		for _, t := range tables {
			if _, err := s.db.ExecContext(ctx, analyze+quoteIdent(s.url.Backend, t)); err != nil {
				return err
			}
		}
	}
	exclude := glance.Naming.BookkeepingPrefix()
	r.Copy.SourceBytes, _ = size(ctx, srcDB, u.Backend, absPath(u.Path), exclude)
	r.Copy.ScratchBytes, _ = size(ctx, s.db, s.url.Backend, s.path, exclude)
	return nil
}

// timing follows a phase's statements through the migrator's events.
type timing struct {
	last    time.Time
	lastSQL string
	retries map[string]int64
	order   []string
}

func (r *Report) phase(name string) *Phase {
	p := r.phases[name]
	if p == nil {
		p = &Phase{Name: name, ShadowCopies: []Shadow{}, Retries: []Retry{}}
		r.phases[name] = p
		r.timing[name] = &timing{retries: map[string]int64{}}
		r.Phases = append(r.Phases, p)
	}
	return p
}

func (r *Report) retry(phase, what string, n int64) {
	if n <= 0 {
		return
	}
	t := r.timing[phase]
	if _, ok := t.retries[what]; !ok {
		t.order = append(t.order, what)
	}
	t.retries[what] += n
}

// observer records the statements and retries of the running phase.
func (r *Report) observer(cur *string) func(migrate.Event) error {
	return func(e migrate.Event) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		name := *cur
		p, t := r.phases[name], r.timing[name]
		if p == nil {
			return nil
		}
		now := time.Now()
		if !t.last.IsZero() {
			if d := now.Sub(t.last); d > p.LongestStatement.D() {
				p.LongestStatement, p.LongestStatementSQL = Duration(d), t.lastSQL
			}
		}
		t.last, t.lastSQL = time.Time{}, ""
		switch e.Kind {
		case migrate.Statement:
			sql := strings.Join(strings.Fields(e.SQL), " ")
			if len(sql) > 200 {
				sql = sql[:197] + "..."
			}
			t.last, t.lastSQL = now, sql
		case migrate.DataBatch:
			t.last, t.lastSQL = now, "a batch of "+e.SQL
		case migrate.Retry:
			on := e.WaitedFor
			if e.Table != "" {
				on += " on " + e.Table
			}
			if d := e.Tried + e.Wait; d > p.LockWait.D() {
				p.LockWait, p.LockWaitOn = Duration(d), on
			}
			what := "statements that could not get their lock"
			if e.Revision != nil {
				what = e.Revision.ID + ": " + what
			} else if e.SQL != "" {
				what = "batches of " + e.SQL + " after a deadlock or lock timeout"
			}
			if on != "" && e.Revision != nil {
				what += " (" + on + ")"
			}
			r.retry(name, what, 1)
		}
		return nil
	}
}

// phasesOn runs expand, migrate and contract on the copy with the load.
func (r *Report) phasesOn(ctx context.Context, mgr *glance.Manager, s *scratch, o Options, notify func(string, ...any)) error {
	lc := o.Load
	lc.Backend, lc.DB, lc.Dialect = string(s.url.Backend), s.db, mgr.Dialect
	if lc.OldWriters == 0 && lc.NewWriters == 0 {
		lc.OldWriters, lc.NewWriters = 1, 1
	}
	if lc.Pace == 0 {
		lc.Pace = 10 * time.Millisecond
	}
	settle := o.Settle
	if settle == 0 {
		settle = 300 * time.Millisecond
	}
	load, err := rolling.StartLoad(ctx, lc, "settle")
	if err != nil {
		return err
	}
	r.Load = &Load{OldWriters: lc.OldWriters, NewWriters: lc.NewWriters, Pace: Duration(lc.Pace), OldColumn: "visibility"}
	if ok, _ := hasColumn(ctx, s.db, "images", "is_public"); ok {
		r.Load.OldColumn = "is_public"
	}
	stopped := false
	defer func() {
		if !stopped {
			load.Stop()
		}
	}()
	var cur string
	mgr.Migrator.Observe = r.observer(&cur)
	sleep(ctx, settle)

	up := o.Upgrade
	up.Online = true
	up.RunData = false
	copies := map[string]*Shadow{}
	up.CopyProgress = func(p migrate.DataProgress) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if !p.Finished {
			return
		}
		ph := r.phases[cur]
		if ph == nil || copies[cur+p.Migration] != nil {
			return
		}
		table := strings.TrimPrefix(p.Migration, migrate.ShadowCopyName(""))
		ph.ShadowCopies = append(ph.ShadowCopies, Shadow{Table: table, Rows: p.Done, Took: Duration(p.Elapsed)})
		copies[cur+p.Migration] = &ph.ShadowCopies[len(ph.ShadowCopies)-1]
		ph.Rows += p.Done
	}
	up.DataProgress = func(p migrate.DataProgress) {
		if !p.Finished {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.retry(cur, "batches of "+p.Migration+" after a deadlock or lock timeout", p.Retries)
	}

	run := func(name string, fn func() (bool, error)) error {
		r.mu.Lock()
		cur = name
		p := r.phase(name)
		r.mu.Unlock()
		load.Phase(name)
		notify("rehearse: %s on the copy", name)
		t := time.Now()
		ran, err := fn()
		r.mu.Lock()
		p.Ran, p.Duration = ran, Duration(time.Since(t))
		cur = ""
		r.mu.Unlock()
		if err != nil {
			r.Failed, r.Error = name, err.Error()
			return &PhaseError{Phase: name, Err: err}
		}
		return nil
	}
	// Each phase as the command would run it: the library's plan for
	// it, carried out (glance.Manager.Plan and Run).
	phase := func(cmd glance.Command) (ran bool, migrated int64, err error) {
		p, err := mgr.Plan(ctx, cmd, "")
		if err != nil {
			return false, 0, err
		}
		err = mgr.Run(ctx, p, glance.RunOptions{Options: up, MaxRows: -1, Observe: mgr.Migrator.Observe,
			PhaseDone: func(res glance.PhaseResult) error {
				if res.Skipped == glance.NotUpToDate {
					ran = true
				}
				migrated += res.Migrated
				return nil
			}})
		return ran, migrated, err
	}
	err = run("expand", func() (bool, error) {
		ran, _, err := phase(glance.Expand)
		return ran, err
	})
	if err == nil {
		if err = load.StartNew(ctx); err == nil {
			err = run("migrate", func() (bool, error) {
				ran, n, err := phase(glance.Migrate)
				r.phases["migrate"].Rows += n
				return ran && n > 0, err
			})
		}
	}
	if err == nil {
		load.StopOld()
		err = run("contract", func() (bool, error) {
			ran, _, err := phase(glance.Contract)
			return ran, err
		})
	}
	if err == nil {
		load.Phase("settle")
		sleep(ctx, settle)
	}
	phases, failures := load.Stop()
	stopped = true
	if len(failures) > 10 {
		failures = failures[:10]
	}
	r.Writes = failures
	for _, wp := range phases {
		p := r.phases[wp.Name]
		if p == nil {
			continue
		}
		p.Stall, p.MaxWrite, p.P99Write = Duration(wp.Stall), Duration(wp.Max), Duration(wp.P99)
		p.Writes, p.FailedWrites = wp.Writes, wp.Failed
		r.retry(wp.Name, "writes of the load after a deadlock, lock timeout or busy database", wp.Retries)
	}
	for name, p := range r.phases {
		t := r.timing[name]
		for _, what := range t.order {
			p.Retries = append(p.Retries, Retry{What: what, Count: t.retries[what]})
		}
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return err
}

// estimate scales the rehearsal's phases to the source.
func (r *Report) estimate(u *dburl.URL) {
	if r.Failed != "" || len(r.Phases) == 0 {
		return
	}
	e := &Estimate{Factor: 1, Phases: map[string]Duration{}}
	if r.Copy != nil && r.Copy.ScratchBytes > 0 && r.Copy.SourceBytes > r.Copy.ScratchBytes {
		e.Factor = float64(r.Copy.SourceBytes) / float64(r.Copy.ScratchBytes)
	}
	var total time.Duration
	for _, p := range r.Phases {
		d := time.Duration(float64(p.Duration) * e.Factor)
		e.Phases[p.Name] = Duration(d)
		total += d
	}
	e.Total = Duration(total)
	what := "tables and indexes take"
	if serverOf(u.Backend).file {
		what = "database file takes"
	}
	if r.Copy != nil {
		e.Basis = fmt.Sprintf("each phase's time on the copy × %.2f: the source's %s %s, the copy's %s. The copy holds the same rows, "+
			"freshly written (no free space, no bloat), and the phases' work (table copies, index builds, data batches) grows with the size "+
			"the server reads, so times scale by it (never below 1×). Lock waits and writer stalls depend on the real traffic: the rehearsal "+
			"ran %d old and %d new writers, one write every %s each; busier services wait longer behind the same statements",
			e.Factor, what, humanBytes(r.Copy.SourceBytes), humanBytes(r.Copy.ScratchBytes), r.Load.OldWriters, r.Load.NewWriters, r.Load.Pace.D())
	}
	r.Estimate = e
}

// commands lists the real run's steps.
func (r *Report) commands() {
	if r.Failed != "" {
		return
	}
	c := []Command{
		{Run: "glance-manage db backup --to glance-before-upgrade.backup", Note: "a consistent backup while the services run: the only way back"},
		{Run: "glance-manage db preflight", Note: "the same checks, on the real database and its sessions"},
	}
	ran := map[string]bool{}
	for _, p := range r.Phases {
		ran[p.Name] = p.Ran
	}
	if ran["expand"] {
		c = append(c, Command{Run: "glance-manage db expand", Note: "with the old services running"})
	}
	c = append(c, Command{Note: "deploy and start the new release's services beside the old ones"})
	if ran["migrate"] {
		note := "while both releases run"
		if e := r.Estimate; e != nil && e.Phases["migrate"].D() > 10*time.Minute {
			note += "; to spread it out, run `glance-manage db migrate --max-rows N` until it exits 0"
		}
		c = append(c, Command{Run: "glance-manage db migrate", Note: note})
	}
	c = append(c,
		Command{Note: "stop every service of the old release"},
		Command{Run: "glance-manage db contract", Note: "with only the new services running"},
		Command{Run: "glance-manage db check", Note: "says `Database is up to date. No upgrades needed.`"})
	r.Commands = c
}

func hasColumn(ctx context.Context, db *sql.DB, table, column string) (bool, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT * FROM %s WHERE 1 = 0 /* %d */", table, time.Now().UnixNano()))
	if err != nil {
		return false, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	for _, c := range cols {
		if c == column {
			return true, err
		}
	}
	return false, err
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	f, i := float64(n)/1024, 0
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
