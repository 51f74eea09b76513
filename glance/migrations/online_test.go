package migrations_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	db := testdb.New(t, b)
	m, err := glance.New(db.SQL, string(b))
	if err != nil {
		t.Fatal(err)
	}
	return m, db
}

func upgrade(ctx context.Context, m *glance.Manager, target string, o migrate.Options) error {
	ids, err := m.Graph().Resolve(target)
	if err != nil {
		return err
	}
	_, err = m.Migrator.Upgrade(ctx, ids, o)
	return err
}

func mustUpgrade(t *testing.T, m *glance.Manager, target string, o migrate.Options) {
	t.Helper()
	if err := upgrade(context.Background(), m, target, o); err != nil {
		t.Fatalf("upgrade to %s: %v", target, err)
	}
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
	for _, b := range testdb.All {
		t.Run(string(b), func(t *testing.T) {
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
	s, err := schemadump.Dump(context.Background(), db.SQL, string(db.Backend))
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
// release is called: every ALTER of images has to wait for it.
func holdLock(t *testing.T, db *sql.DB) (release func()) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM images").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return func() { _ = tx.Rollback() }
}

// TestLockTimeoutRetries: behind a long transaction, an online revision's
// DDL gives up after the lock timeout (so writers do not queue behind it
// for longer), backs off, and succeeds once the transaction ends; with
// retries off it fails with the lock error and the database stays at the
// previous revision.
func TestLockTimeoutRetries(t *testing.T) {
	for _, b := range []testdb.Backend{testdb.MySQL, testdb.PostgreSQL} {
		t.Run(string(b), func(t *testing.T) {
			m, _ := newManager(t, b)
			mustUpgrade(t, m, "mitaka02", migrate.Options{})
			o := migrate.Options{Online: true, LockTimeout: 100 * time.Millisecond}

			release := holdLock(t, m.DB)
			o.LockRetries = -1
			err := upgrade(context.Background(), m, "ocata_expand01", o)
			on := m.Dialect.(interface{ Retryable(error) bool })
			if err == nil || !on.Retryable(err) {
				t.Fatalf("without retries: err = %v, want a lock timeout", err)
			}
			release()

			release = holdLock(t, m.DB)
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
