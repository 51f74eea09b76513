package rolling

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Release says which columns a writer knows.
type Release int

// The two releases of a rolling upgrade.
const (
	Old Release = iota // before Ocata: reads and writes is_public
	New                // Ocata and later: reads and writes visibility
)

func (r Release) String() string {
	if r == Old {
		return "old"
	}
	return "new"
}

// intent is what the writers meant an image to be. The writer that owns
// an image is the only one that writes it, so the last write is known.
type intent struct {
	created  bool   // created by a writer (not seeded)
	public   *bool  // last visibility write was an old writer's is_public
	vis      string // last visibility write was a new writer's visibility
	deleted  bool
	members  int // members added by writers
	children int // property, tag and location rows added (one each on create)
}

// writer is one API server's worth of traffic, on its own images.
type writer struct {
	h       *harness
	id      int
	release Release
	rng     *rand.Rand
	pool    []string // the images it owns
	want    map[string]*intent
	seq     int
	db      *sql.DB // where it writes (Config.Writers, or Config.DB)
	node    int     // the index of db in Config.Writers
	// isPublic: the writer sets an image's visibility through is_public
	// (a release before Ocata, on a schema that has the column), not
	// visibility.
	isPublic bool
}

func (w *writer) intent(id string) *intent {
	in := w.want[id]
	if in == nil {
		in = &intent{}
		w.want[id] = in
	}
	return in
}

// run writes until stop ends. A write in flight when it does runs to the
// end (its statements are not cancelled), so the writer always knows
// whether it happened.
func (w *writer) run(stop context.Context) {
	ctx := context.WithoutCancel(stop)
	for stop.Err() == nil {
		w.step(ctx)
		if w.h.cfg.Pace > 0 {
			t := time.NewTimer(w.h.cfg.Pace)
			select {
			case <-stop.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

var newVisibilities = []string{"private", "public", "shared", "community"}

// step makes one write: create (with a property, a tag and a location),
// change visibility, rename, share or delete.
func (w *writer) step(ctx context.Context) {
	r := w.rng.IntN(100)
	if r < 25 || len(w.pool) == 0 {
		w.create(ctx)
		return
	}
	id := w.pool[w.rng.IntN(len(w.pool))]
	in := w.intent(id)
	p := w.h.ph
	switch {
	case r < 55:
		if w.isPublic {
			pub := w.rng.IntN(2) == 0
			if w.do(ctx, "update is_public", "UPDATE images SET is_public = "+p(1)+", updated_at = "+p(2)+" WHERE id = "+p(3), pub, now(), id) {
				in.public, in.vis = &pub, ""
			}
		} else {
			v := newVisibilities[w.rng.IntN(len(newVisibilities))]
			if w.do(ctx, "update visibility", "UPDATE images SET visibility = "+p(1)+", updated_at = "+p(2)+" WHERE id = "+p(3), v, now(), id) {
				in.vis, in.public = v, nil
			}
		}
	case r < 70:
		w.do(ctx, "rename", "UPDATE images SET name = "+p(1)+", updated_at = "+p(2)+" WHERE id = "+p(3), fmt.Sprintf("renamed by %s writer %d", w.release, w.id), now(), id)
	case r < 90:
		w.seq++
		if w.do(ctx, "share", fmt.Sprintf("INSERT INTO image_members (image_id, member, can_share, created_at, deleted, status) VALUES (%s)", w.h.phs(6)),
			id, fmt.Sprintf("tenant-%d-%d", w.id, w.seq), false, now(), false, "pending") {
			in.members++
		}
	default:
		if w.do(ctx, "delete", "UPDATE images SET deleted = "+p(1)+", deleted_at = "+p(2)+", status = 'deleted' WHERE id = "+p(3), true, now(), id) {
			in.deleted = true
		}
	}
}

func (w *writer) create(ctx context.Context) {
	w.seq++
	id := fmt.Sprintf("w%02d-%032d", w.id, w.seq)
	p := w.h.phs
	var pub bool
	var vis string
	visCol := "is_public"
	var visVal any
	if w.isPublic {
		pub = w.rng.IntN(3) == 0
		visVal = pub
	} else {
		vis = newVisibilities[w.rng.IntN(len(newVisibilities))]
		visCol, visVal = "visibility", vis
	}
	ok := w.tx(ctx, "create", func(tx *sql.Tx) error {
		t := now()
		stmts := []struct {
			q    string
			args []any
		}{
			{fmt.Sprintf("INSERT INTO images (id, name, size, status, %s, created_at, deleted, disk_format, container_format, owner, min_disk, min_ram, protected) VALUES (%s)", visCol, p(13)),
				[]any{id, "created by " + w.release.String(), 4096, "active", visVal, t, false, "raw", "bare", "tenant", 0, 0, false}},
			{fmt.Sprintf("INSERT INTO image_properties (image_id, name, value, created_at, deleted) VALUES (%s)", p(5)), []any{id, "os_distro", "debian", t, false}},
			{fmt.Sprintf("INSERT INTO image_tags (image_id, value, created_at, deleted) VALUES (%s)", p(4)), []any{id, "new", t, false}},
			{fmt.Sprintf("INSERT INTO image_locations (image_id, value, created_at, deleted, meta_data, status) VALUES (%s)", p(6)), []any{id, "file:///" + id, t, false, `{"store": "fast"}`, "active"}},
		}
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if !ok {
		return
	}
	in := w.intent(id)
	in.created, in.children = true, 1
	if w.isPublic {
		in.public = &pub
	} else {
		in.vis = vis
	}
	w.pool = append(w.pool, id)
}

// do runs one statement as a write.
func (w *writer) do(ctx context.Context, what, q string, args ...any) bool {
	return w.write(ctx, what, func() error {
		_, err := w.db.ExecContext(ctx, q, args...)
		return err
	})
}

// tx runs fn in a transaction as one write.
func (w *writer) tx(ctx context.Context, what string, fn func(*sql.Tx) error) bool {
	return w.write(ctx, what, func() error {
		tx, err := w.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			tx.Rollback() //nolint:errcheck // fn's error is what matters
			return err
		}
		return tx.Commit()
	})
}

// maxWriteRetries is how often a write that hit a deadlock, a lock
// timeout or a busy database is tried again, as Glance's database API does
// (oslo.db's retry on deadlock).
const maxWriteRetries = 5

// write times fn, retrying as Glance would, and records the outcome in
// the phase the write started in.
func (w *writer) write(ctx context.Context, what string, fn func() error) bool {
	ph := w.h.current()
	start := time.Now()
	var err error
	retries := 0
	for {
		err = fn()
		limit := maxWriteRetries
		if w.h.cfg.WriteRetries > 0 {
			limit = w.h.cfg.WriteRetries
		}
		if err == nil || w.h.retryable == nil || !w.h.retryable(err) || retries >= limit {
			break
		}
		retries++
		time.Sleep(time.Duration(retries) * 10 * time.Millisecond)
	}
	if err == nil {
		w.h.lastEnd.Store(time.Now().UnixNano())
	}
	ph.record(w.node, time.Since(start), retries, err, fmt.Sprintf("%s writer %d %s", w.release, w.id, what))
	return err == nil
}

// placeholders for the harness's dialect.
func placeholders(d dialect.Dialect) (one func(int) string, list func(int) string) {
	one = d.Placeholder
	list = func(n int) string {
		p := make([]string, n)
		for i := range p {
			p[i] = d.Placeholder(i + 1)
		}
		return strings.Join(p, ", ")
	}
	return one, list
}
