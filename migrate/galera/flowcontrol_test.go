package galera_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/galera"
)

// TestFlowControlWaitsForAQueue holds node 2's applier (a LOCK TABLES
// READ there) while node 1 commits write sets: node 2's receive queue
// grows past MaxQueue, and a batch's Wait waits until node 2 has applied
// them; the wait is reported and counted.
func TestFlowControlWaitsForAQueue(t *testing.T) {
	ctx := context.Background()
	g := testdb.NewGalera(t)
	if _, err := g.SQL[0].ExecContext(ctx, "CREATE TABLE blocker (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := g.SQL[1].QueryRowContext(ctx, "SELECT COUNT(*) FROM blocker").Scan(&n); err != nil {
		t.Fatal(err)
	}
	u, err := dburl.Parse(g.URLs[1])
	if err != nil {
		t.Fatal(err)
	}
	plain2, err := sql.Open(u.Driver, u.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer plain2.Close()
	lock, err := plain2.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "LOCK TABLES blocker READ"); err != nil {
		t.Fatal(err)
	}
	// Ten write sets: more than MaxQueue (4), fewer than gcs.fc_limit
	// (16), so that node 1 is not paused itself.
	for i := 1; i <= 10; i++ {
		if _, err := g.SQL[0].ExecContext(ctx, "INSERT INTO blocker VALUES (?)", i); err != nil {
			t.Fatal(err)
		}
	}
	var whys []string
	fc := &galera.FlowControl{Nodes: []*sql.DB{g.SQL[0], plain2, g.SQL[2]}, MaxQueue: 4, Waited: func(d time.Duration, why string) { whys = append(whys, why) }}
	done := make(chan error, 1)
	go func() { done <- fc.Wait(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned (%v) while node 2 had write sets queued", err)
	case <-time.After(time.Second):
	}
	if _, err := lock.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := fc.Stats(); st.Waits != 1 || len(whys) != 1 {
		t.Fatalf("stats %+v, reported waits %q; want one wait", st, whys)
	}
	t.Logf("waited: %s", whys[0])
	// With nothing queued, the next batch goes at once.
	if err := fc.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if st := fc.Stats(); st.Waits != 1 {
		t.Fatalf("a second wait with nothing queued: %+v", st)
	}
	// Certification failures of batches are counted.
	fc.Done(migrate.Batch{Rows: 0, Err: &mysql.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock; try restarting transaction"}})
	fc.Done(migrate.Batch{Rows: 10})
	if st := fc.Stats(); st.CertFailures != 1 || st.Batches != 2 {
		t.Fatalf("stats %+v, want 1 certification failure in 2 batches", st)
	}
}

// TestFlowControlLeavesOutAnUnreachableNode: a node that does not answer
// (its pool points at a closed port) is not waited for; the connected
// node must answer.
func TestFlowControlLeavesOutAnUnreachableNode(t *testing.T) {
	ctx := context.Background()
	g := testdb.NewGalera(t)
	gone, err := sql.Open("mysql", "root@tcp(127.0.0.1:1)/test?timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()
	if err := (&galera.FlowControl{Nodes: []*sql.DB{g.SQL[0], gone}}).Wait(ctx); err != nil {
		t.Fatalf("an unreachable other node stopped the batch: %v", err)
	}
	if err := (&galera.FlowControl{Nodes: []*sql.DB{gone, g.SQL[0]}}).Wait(ctx); err == nil {
		t.Fatal("an unreachable connected node was not an error")
	}
	addrs, err := galera.Nodes(ctx, g.SQL[0])
	if err != nil || len(addrs) != len(g.SQL) {
		t.Fatalf("Nodes = %v, %v; want the %d nodes' addresses", addrs, err, len(g.SQL))
	}
}
