package migrate_test

// The engine on a Galera cluster (GLANCE_TEST_GALERA_URLS, see
// testdb.NewGalera): checks read what the cluster has committed, not what
// a lagging node has applied so far.

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/dialect/mysql"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// plainPool opens node's database without testdb's wsrep_sync_wait: as
// the tool's own pools are opened.
func plainPool(t *testing.T, g *testdb.Galera, node int) *sql.DB {
	t.Helper()
	u, err := dburl.Parse(g.URLs[node-1])
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(u.Driver, u.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// noCluster hides the MySQL dialect's dialect.TotalOrderCluster (it keeps
// Online): the engine as it was before it knew of clusters.
type noCluster struct {
	dialect.Dialect
	dialect.Online
}

// TestClusterCheckReadsApplied: node 2 has not applied node 1's last
// commits (its applier waits behind a LOCK TABLES READ there) when a
// contract-like revision checks on node 2 that no row still needs its
// data migrated. The check must wait for node 2 to catch up and refuse;
// the engine that does not know of clusters reads node 2's stale rows
// and drops the column.
func TestClusterCheckReadsApplied(t *testing.T) {
	testdb.GaleraURLs(t)
	for _, c := range []struct {
		name    string
		dialect func() dialect.Dialect
		refused bool
	}{
		{"cluster-aware", func() dialect.Dialect { return mysql.Dialect{} }, true},
		{"not cluster-aware (control)", func() dialect.Dialect { return noCluster{mysql.Dialect{}, mysql.Dialect{}} }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			g := testdb.NewGalera(t)
			node1, node2 := plainPool(t, g, 1), plainPool(t, g, 2)
			graph := migrate.MustGraph([]*migrate.Revision{
				{ID: "r1", Ops: func(migrate.Env) []migrate.Op {
					return []migrate.Op{
						schema.CreateTable{Table: notesTable(owner, author)},
						schema.CreateTable{Table: &schema.Table{Name: "blocker", Columns: []schema.Column{{Name: "id", Type: schema.Int, NotNull: true}}, PrimaryKey: []string{"id"}, Options: map[string]string{"mysql": "ENGINE=InnoDB CHARSET=utf8"}}},
					}
				}},
				{ID: "r2", Down: "r1", Ops: func(migrate.Env) []migrate.Op {
					return []migrate.Op{
						schema.Precondition{Desc: "every note has an owner", Table: "notes", Where: "owner IS NULL"},
						schema.DropColumn{Table: "notes", Column: "author"},
					}
				}},
			})
			m1 := &migrate.Migrator{DB: node1, Dialect: mysql.Dialect{}, Graph: graph}
			if _, err := m1.Upgrade(ctx, []string{"r1"}, migrate.Options{}); err != nil {
				t.Fatal(err)
			}
			if _, err := node1.ExecContext(ctx, "INSERT INTO notes (title, owner, author) VALUES ('migrated', 'a', 'a')"); err != nil {
				t.Fatal(err)
			}
			var n int // testdb's pools read with wsrep_sync_wait: node 2 has applied r1 and the row
			if err := g.SQL[1].QueryRowContext(ctx, "SELECT COUNT(*) FROM notes").Scan(&n); err != nil || n != 1 {
				t.Fatalf("node 2: %d notes, %v", n, err)
			}

			// Hold node 2's applier: it waits for the table lock at the
			// first write to blocker, and applies nothing after it.
			lockConn, err := node2.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer lockConn.Close()
			if _, err := lockConn.ExecContext(ctx, "LOCK TABLES blocker READ"); err != nil {
				t.Fatal(err)
			}
			if _, err := node1.ExecContext(ctx, "INSERT INTO blocker VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			if _, err := node1.ExecContext(ctx, "INSERT INTO notes (title, author) VALUES ('written by the old release', 'b')"); err != nil {
				t.Fatal(err)
			}
			var stale int
			if err := node2.QueryRowContext(ctx, "SELECT COUNT(*) FROM notes WHERE owner IS NULL").Scan(&stale); err != nil {
				t.Fatal(err)
			}
			if stale != 0 {
				t.Fatalf("node 2 already has node 1's last row: the applier was not held (%d rows)", stale)
			}
			released := make(chan struct{})
			go func() {
				time.Sleep(2 * time.Second)
				lockConn.ExecContext(context.Background(), "UNLOCK TABLES") //nolint:errcheck // checked by the outcome
				close(released)
			}()

			m2 := &migrate.Migrator{DB: node2, Dialect: c.dialect(), Graph: graph}
			_, err = m2.Upgrade(ctx, []string{"r2"}, migrate.Options{Online: true})
			<-released
			var pe *migrate.PreconditionError
			if c.refused {
				if !errors.As(err, &pe) || pe.Rows != 1 {
					t.Fatalf("the check on node 2 did not see node 1's row: %v", err)
				}
			} else if err != nil {
				t.Fatalf("control: %v", err)
			}
			var cols int
			if err := g.SQL[0].QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'notes' AND column_name = 'author'").Scan(&cols); err != nil {
				t.Fatal(err)
			}
			if c.refused && cols != 1 {
				t.Fatal("notes.author was dropped")
			}
			if !c.refused && cols != 0 {
				t.Fatal("control: the engine without the cluster's read wait refused too: the test cannot tell them apart")
			}
		})
	}
}
