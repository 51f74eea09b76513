package migrate_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect/sqlite"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// TestRebuildsPicksRebuildingOps: Rebuilds lists, per revision of the
// plan, the tables whose columns change in a way that rebuilds them (a
// change of nullability or type, or SQLite's table rebuild), once per
// revision and table, and leaves out a change of default alone (metadata
// only) and everything else.
func TestRebuildsPicksRebuildingOps(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	withDefault := owner
	withDefault.Default = schema.DefaultString("nobody")
	notNull := owner
	notNull.NotNull = true
	ops := map[string][]migrate.Op{
		"r1": {schema.CreateTable{Table: notesTable(owner)}},
		"r2": {schema.AlterColumn{Table: "notes", New: withDefault, ChangeDefault: true}},
		"r3": {
			schema.AlterColumn{Table: "notes", New: notNull, ChangeNullable: true},
			schema.AlterColumn{Table: "notes", New: notNull, ChangeNullable: true, ChangeDefault: true},
			schema.AddColumn{Table: "notes", Column: author},
		},
		"r4": {schema.RebuildTable{Table: notesTable(owner)}, schema.CreateIndex{Index: schema.Index{Name: "ix_owner", Table: "notes", Columns: []string{"owner"}}}},
	}
	var revs []*migrate.Revision
	down := ""
	for i := 1; i <= 4; i++ {
		id := fmt.Sprint("r", i)
		revs = append(revs, &migrate.Revision{ID: id, Down: down, Ops: func(migrate.Env) []migrate.Op { return ops[id] }})
		down = id
	}
	m := &migrate.Migrator{DB: db, Dialect: sqlite.Dialect{}, Graph: migrate.MustGraph(revs)}
	got, err := m.Rebuilds(context.Background(), []string{"r4"}, migrate.Options{Online: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []migrate.Rebuild{{Revision: "r3", Table: "notes"}, {Revision: "r4", Table: "notes"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Rebuilds = %+v, want %+v", got, want)
	}
}
