package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/glance-manage/glance-manage/internal/glancetest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/schemadump"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

func newManager(t *testing.T, b testdb.Backend) (*glance.Manager, *testdb.DB) {
	t.Helper()
	return glancetest.New(t, b)
}

func upgrade(ctx context.Context, m *glance.Manager, target string, o migrate.Options) error {
	_, err := glancetest.UpgradeErr(ctx, m, target, o)
	return err
}

func mustUpgrade(t *testing.T, m *glance.Manager, target string, o migrate.Options) {
	t.Helper()
	glancetest.Upgrade(t, m, target, o)
}

func ph(m *glance.Manager, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = m.Dialect.Placeholder(i + 1)
	}
	return strings.Join(p, ", ")
}

func legacyImage(t *testing.T, m *glance.Manager, id string, public bool) {
	t.Helper()
	_, err := m.DB.Exec(fmt.Sprintf("INSERT INTO images (id, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES (%s)", ph(m, 8)),
		id, "active", public, time.Now().UTC(), false, 0, 0, false)
	if err != nil {
		t.Fatalf("insert %s: %v", id, err)
	}
}

// TestContractChecksDataBeforeDroppingIsPublic: even when the engine is
// not told about data migrations (so nothing refuses earlier), the
// contract revision itself counts the images without a visibility right
// before it drops is_public, refuses with a PreconditionError, keeps
// is_public, and succeeds once the data is carried over.
func TestContractChecksDataBeforeDroppingIsPublic(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, b testdb.Backend) {
		m, _ := newManager(t, b)
		mustUpgrade(t, m, "mitaka02", migrate.Options{})
		legacyImage(t, m, "a", true)
		legacyImage(t, m, "b", false)
		mustUpgrade(t, m, "expand@head", migrate.Options{Online: true})
		data := m.Migrator.Data
		m.Migrator.Data = nil // bypass the engine's own refusal
		err := upgrade(context.Background(), m, "contract@head", migrate.Options{Online: true})
		var pe *migrate.PreconditionError
		if !errors.As(err, &pe) || pe.Rows != 2 || pe.Revision != "ocata_contract01" || !errors.Is(err, migrate.ErrDataMigrationPending) {
			t.Fatalf("contract: err = %v, want a PreconditionError for 2 rows of ocata_contract01", err)
		}
		if ok, err := m.Dialect.ColumnExists(context.Background(), m.DB, "images", "is_public"); err != nil || !ok {
			t.Fatalf("is_public dropped although the check failed (%v)", err)
		}
		m.Migrator.Data = data
		if _, _, err := m.Migrator.RunData(context.Background(), -1, migrate.Options{}); err != nil {
			t.Fatal(err)
		}
		mustUpgrade(t, m, "contract@head", migrate.Options{Online: true})
		var vis string
		if err := m.DB.QueryRow("SELECT visibility FROM images WHERE id = 'a'").Scan(&vis); err != nil || vis != "public" {
			t.Fatalf("image a: %q, %v", vis, err)
		}
	})
}

// statements records the SQL an upgrade runs and the retries it makes.
type statements struct {
	mu      sync.Mutex
	sql     []string
	retries []error
}

func (s *statements) observe(e migrate.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Kind {
	case migrate.Statement:
		s.sql = append(s.sql, e.SQL)
	case migrate.Retry:
		s.retries = append(s.retries, e.Err)
	}
	return nil
}

func (s *statements) has(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.sql {
		if strings.Contains(q, sub) {
			return true
		}
	}
	return false
}

// TestOnlineDDLForms: online runs ask MySQL for INSTANT or INPLACE with
// LOCK=NONE, and build PostgreSQL's indexes on big tables concurrently;
// offline runs use the plain statements; the schema is the same.
func TestOnlineDDLForms(t *testing.T) {
	for _, b := range []testdb.Backend{testdb.MySQL, testdb.PostgreSQL} {
		t.Run(string(b), func(t *testing.T) {
			on, ondb := newManager(t, b)
			var rec statements
			on.Migrator.Observe = rec.observe
			mustUpgrade(t, on, "mitaka02", migrate.Options{})
			mustUpgrade(t, on, "heads", migrate.Options{Online: true, RunData: true})
			want := map[testdb.Backend][]string{
				testdb.MySQL:      {"ADD COLUMN visibility ENUM('private','public','shared','community') NULL, ALGORITHM=INSTANT", "CREATE INDEX visibility_image_idx ON images (visibility) ALGORITHM=INPLACE LOCK=NONE", ", ALGORITHM=INPLACE, LOCK=NONE"},
				testdb.PostgreSQL: {"CREATE INDEX CONCURRENTLY visibility_image_idx ON images (visibility)", "CREATE INDEX CONCURRENTLY ix_tasks_image_id"},
			}[b]
			for _, w := range want {
				if !rec.has(w) {
					t.Errorf("no statement contains %q", w)
				}
			}
			off, offdb := newManager(t, b)
			var plain statements
			off.Migrator.Observe = plain.observe
			mustUpgrade(t, off, "heads", migrate.Options{RunData: true})
			if plain.has("ALGORITHM=") || plain.has("CONCURRENTLY") || plain.has("lock_timeout") {
				t.Errorf("offline run used online forms")
			}
			if a, b := dump(t, ondb), dump(t, offdb); a != b {
				t.Errorf("online and offline schemas differ:\n%s\n----\n%s", a, b)
			}
		})
	}
}

func dump(t *testing.T, db *testdb.DB) string {
	t.Helper()
	s, err := schemadump.Dump(context.Background(), db.SQL, db.Backend)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConcurrentIndexResumes: a PostgreSQL revision that builds an index
// concurrently runs in several transactions; interrupted right before the
// build, the next run skips what was committed and ends with the same
// schema as an uninterrupted run.
func TestConcurrentIndexResumes(t *testing.T) {
	m, db := newManager(t, testdb.PostgreSQL)
	mustUpgrade(t, m, "mitaka02", migrate.Options{})
	m.Migrator.Observe = func(e migrate.Event) error {
		if e.Kind == migrate.Statement && strings.HasPrefix(e.SQL, "CREATE INDEX CONCURRENTLY visibility_image_idx") {
			return migrate.ErrStopped
		}
		return nil
	}
	if err := upgrade(context.Background(), m, "ocata_expand01", migrate.Options{Online: true}); !errors.Is(err, migrate.ErrStopped) {
		t.Fatalf("err = %v, want the injected stop", err)
	}
	if ok, _ := m.Dialect.ColumnExists(context.Background(), m.DB, "images", "visibility"); !ok {
		t.Fatal("the first transaction (add column) should have committed")
	}
	var skipped []string
	m.Migrator.Observe = func(e migrate.Event) error {
		if e.Kind == migrate.OpSkipped {
			skipped = append(skipped, e.Op.Describe())
		}
		return nil
	}
	mustUpgrade(t, m, "heads", migrate.Options{Online: true, RunData: true})
	if len(skipped) < 2 {
		t.Errorf("skipped %v, want the enum and the column", skipped)
	}
	ref, refdb := newManager(t, testdb.PostgreSQL)
	mustUpgrade(t, ref, "mitaka02", migrate.Options{})
	mustUpgrade(t, ref, "heads", migrate.Options{Online: true, RunData: true})
	if a, b := dump(t, db), dump(t, refdb); a != b {
		t.Errorf("resumed schema differs:\n%s\n----\n%s", a, b)
	}
}

// holdLock opens a transaction that reads images and keeps it open until
// release is called: every ALTER of images has to wait for it. id is its
// session (MySQL connection id, PostgreSQL backend pid).
func holdLock(t *testing.T, m *glance.Manager) (id int64, release func()) {
	t.Helper()
	tx, err := m.DB.Begin()
	if err != nil {
		t.Fatal(err)
	}
	q := "SELECT CONNECTION_ID()"
	if m.Dialect.Name() == "postgresql" {
		q = "SELECT pg_backend_pid()"
	}
	if err := tx.QueryRow(q).Scan(&id); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM images").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return id, func() { _ = tx.Rollback() }
}

// TestLockTimeoutRetries: behind a long transaction, an online revision's
// DDL gives up after the lock timeout (so writers do not queue behind it
// for longer), backs off, and succeeds once the transaction ends; with
// retries off, or once LockWait is used up, it fails with a
// *LockWaitError that wraps the lock error and names the session in the
// way, and the database stays at the previous revision.
func TestLockTimeoutRetries(t *testing.T) {
	for _, b := range []testdb.Backend{testdb.MySQL, testdb.PostgreSQL} {
		t.Run(string(b), func(t *testing.T) {
			m, _ := newManager(t, b)
			mustUpgrade(t, m, "mitaka02", migrate.Options{})
			o := migrate.Options{Online: true, LockTimeout: 100 * time.Millisecond}

			holder, release := holdLock(t, m)
			on := m.Dialect.(interface{ Retryable(error) bool })
			for _, lo := range []migrate.Options{{LockRetries: -1}, {LockWait: -1}, {LockWait: 5 * time.Second}} {
				lo.Online, lo.LockTimeout = true, o.LockTimeout
				var rec statements
				m.Migrator.Observe = rec.observe
				err := upgrade(context.Background(), m, "ocata_expand01", lo)
				var lw *migrate.LockWaitError
				if !errors.As(err, &lw) || !on.Retryable(err) {
					t.Fatalf("%+v: err = %v, want a LockWaitError for a lock timeout", lo, err)
				}
				if lw.Revision != "ocata_expand01" || lw.Table != "images" || lw.Attempts != len(rec.retries)+1 ||
					lo.LockWait > 0 && (lw.Attempts < 2 || lw.Limit != lo.LockWait) || lo.LockWait <= 0 && lw.Attempts != 1 {
					t.Errorf("%+v: %+v (%d retries)", lo, lw, len(rec.retries))
				}
				if len(lw.Blockers) == 0 || lw.Blockers[0].ID != holder || !lw.Blockers[0].InTx || lw.BlockersErr != nil {
					t.Errorf("%+v: blockers %+v (%v), want session %d first", lo, lw.Blockers, lw.BlockersErr, holder)
				}
			}
			if rows, err := m.Heads(context.Background()); err != nil || len(rows) != 1 || rows[0] != "mitaka02" {
				t.Fatalf("heads = %v, %v", rows, err)
			}
			release()

			_, release = holdLock(t, m)
			var rec statements
			m.Migrator.Observe = func(e migrate.Event) error {
				_ = rec.observe(e)
				if e.Kind == migrate.Retry {
					release() // the long transaction ends
				}
				return nil
			}
			o.LockRetries = 0
			if err := upgrade(context.Background(), m, "ocata_expand01", o); err != nil {
				t.Fatalf("with retries: %v", err)
			}
			if len(rec.retries) == 0 {
				t.Fatal("no retry reported")
			}
			rows, err := m.Heads(context.Background())
			if err != nil || len(rows) != 1 || rows[0] != "ocata_expand01" {
				t.Fatalf("heads = %v, %v", rows, err)
			}
		})
	}
}

// TestRenderSQLStaysPlain: offline SQL keeps the plain statements and
// shows where a live run checks the data.
func TestRenderSQLStaysPlain(t *testing.T) {
	for _, name := range []string{"sqlite", "mysql", "postgresql"} {
		m, err := glance.New(nil, name)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Migrator.RenderSQL(nil, m.Graph().Heads(), migrate.Options{Online: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all := strings.Join(out, "\n")
		for _, bad := range []string{"ALGORITHM=", "CONCURRENTLY", "lock_timeout"} {
			if strings.Contains(all, bad) {
				t.Errorf("%s: offline SQL contains %s", name, bad)
			}
		}
		if !strings.Contains(all, "-- glance-manage checks here that every image has a visibility: no row of images WHERE visibility IS NULL") {
			t.Errorf("%s: offline SQL does not show the visibility check", name)
		}
	}
}

// stopAt makes m's next run stop right before the first statement for
// which at is true.
func stopAt(m *glance.Manager, at func(migrate.Event) bool) {
	m.Migrator.Observe = func(e migrate.Event) error {
		if at(e) {
			return migrate.ErrStopped
		}
		return nil
	}
}

// TestInterruptedRevisionLeftovers checks what the README says a run
// stopped inside a revision leaves, per backend and phase, and that the
// next run converges on the schema of an uninterrupted one:
//   - offline (db sync) on SQLite and PostgreSQL, a revision is one
//     transaction: nothing of it is left;
//   - online on PostgreSQL, ocata_contract01 commits the drop of
//     is_public before VALIDATE CONSTRAINT: stopped there, is_public is
//     gone while alembic_version still says 2024_1_expand01;
//   - online on MariaDB, ocata_expand01 stopped while copying images
//     into its shadow leaves the new column and _images_new behind, with
//     alembic_version at mitaka02.
func TestInterruptedRevisionLeftovers(t *testing.T) {
	ctx := context.Background()
	heads := func(t *testing.T, m *glance.Manager) string {
		t.Helper()
		rows, err := m.Heads(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(rows, ",")
	}
	stopped := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, migrate.ErrStopped) {
			t.Fatalf("err = %v, want the injected stop", err)
		}
	}
	for _, b := range []testdb.Backend{testdb.SQLite, testdb.PostgreSQL} {
		t.Run(string(b)+"/offline revision rolled back", func(t *testing.T) {
			m, db := newManager(t, b)
			mustUpgrade(t, m, "mitaka02", migrate.Options{})
			legacyImage(t, m, "a", true)
			mustUpgrade(t, m, "ocata_expand01", migrate.Options{RunData: true})
			before := dump(t, db)
			n := 0
			stopAt(m, func(e migrate.Event) bool {
				if e.Kind == migrate.Statement && e.Revision.ID == "ocata_contract01" {
					n++
				}
				return n == 3 // two statements of the revision ran
			})
			stopped(t, upgrade(ctx, m, "ocata_contract01", migrate.Options{RunData: true}))
			if after := dump(t, db); after != before {
				t.Errorf("the stopped revision left changes:\n%s\n----\n%s", before, after)
			}
			m.Migrator.Observe = nil
			mustUpgrade(t, m, "heads", migrate.Options{RunData: true})
			ref, refdb := newManager(t, b)
			mustUpgrade(t, ref, "heads", migrate.Options{RunData: true})
			if a, b := dump(t, db), dump(t, refdb); a != b {
				t.Errorf("re-run schema differs:\n%s\n----\n%s", a, b)
			}
		})
	}
	t.Run("postgresql/online contract stopped at VALIDATE CONSTRAINT", func(t *testing.T) {
		m, db := newManager(t, testdb.PostgreSQL)
		mustUpgrade(t, m, "mitaka02", migrate.Options{})
		legacyImage(t, m, "a", true)
		mustUpgrade(t, m, "expand@head", migrate.Options{Online: true})
		if _, _, err := m.Migrator.RunData(ctx, -1, migrate.Options{}); err != nil {
			t.Fatal(err)
		}
		stopAt(m, func(e migrate.Event) bool {
			return e.Kind == migrate.Statement && strings.Contains(e.SQL, "VALIDATE CONSTRAINT")
		})
		stopped(t, upgrade(ctx, m, "contract@head", migrate.Options{Online: true}))
		if ok, err := m.Dialect.ColumnExists(ctx, m.DB, "images", "is_public"); err != nil || ok {
			t.Errorf("is_public still there (%v): the first transaction should have committed its drop", err)
		}
		if h := heads(t, m); h != "2024_1_expand01" {
			t.Errorf("alembic_version = %s, want 2024_1_expand01", h)
		}
		m.Migrator.Observe = nil
		mustUpgrade(t, m, "contract@head", migrate.Options{Online: true})
		ref, refdb := newManager(t, testdb.PostgreSQL)
		mustUpgrade(t, ref, "heads", migrate.Options{Online: true, RunData: true})
		if a, b := dump(t, db), dump(t, refdb); a != b {
			t.Errorf("re-run schema differs:\n%s\n----\n%s", a, b)
		}
	})
	t.Run("mysql/online expand stopped in its shadow copy", func(t *testing.T) {
		m, db := newManager(t, testdb.MySQL)
		mustUpgrade(t, m, "mitaka02", migrate.Options{})
		legacyImage(t, m, "a", true)
		stopAt(m, func(e migrate.Event) bool {
			return e.Kind == migrate.DataBatch && e.SQL == migrate.ShadowCopyName("images")
		})
		err := upgrade(ctx, m, "expand@head", migrate.Options{Online: true})
		stopped(t, err)
		if ok, err := m.Dialect.ColumnExists(ctx, m.DB, "images", "visibility"); err != nil || !ok {
			t.Errorf("images.visibility absent (%v): its ALTER commits at once", err)
		}
		if ok, err := m.Dialect.TableExists(ctx, m.DB, "_images_new"); err != nil || !ok && mariadb(t, m) {
			t.Errorf("_images_new absent (%v): the shadow copy had begun", err)
		}
		var triggers int
		if err := m.DB.QueryRow("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE '\\_images\\_shadow\\_%'").Scan(&triggers); err != nil || triggers != 3 && mariadb(t, m) {
			t.Errorf("%d shadow triggers (%v), want 3: they keep the copy in step", triggers, err)
		}
		if h := heads(t, m); h != "mitaka02" {
			t.Errorf("alembic_version = %s, want mitaka02", h)
		}
		m.Migrator.Observe = nil
		mustUpgrade(t, m, "expand@head", migrate.Options{Online: true})
		ref, refdb := newManager(t, testdb.MySQL)
		mustUpgrade(t, ref, "mitaka02", migrate.Options{})
		mustUpgrade(t, ref, "expand@head", migrate.Options{Online: true})
		if a, b := dump(t, db), dump(t, refdb); a != b {
			t.Errorf("re-run schema differs:\n%s\n----\n%s", a, b)
		}
	})
}

// mariadb reports whether the server is MariaDB (shadow copies are made
// there only).
func mariadb(t *testing.T, m *glance.Manager) bool {
	t.Helper()
	var v string
	if err := m.DB.QueryRow("SELECT VERSION()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return strings.Contains(strings.ToLower(v), "mariadb")
}
