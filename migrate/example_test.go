package migrate_test

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"strings"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/dialect/postgres"
	"github.com/glance-manage/glance-manage/migrate/dialect/sqlite"
	"github.com/glance-manage/glance-manage/migrate/schema"
)

// A notes service renames notes.author to notes.owner without downtime:
// release 1.0 creates the table; release 2.0 adds owner (expand), copies
// author into it while old and new services run side by side (a data
// migration), and drops author once no old service is left (contract).

func notesTable(cols ...schema.Column) *schema.Table {
	return &schema.Table{
		Name: "notes",
		Columns: append([]schema.Column{
			{Name: "id", Type: schema.Int, NotNull: true, AutoIncrement: true},
			{Name: "title", Type: schema.Str(200), NotNull: true},
		}, cols...),
		PrimaryKey: []string{"id"},
		Options:    map[string]string{"mysql": "ENGINE=InnoDB CHARSET=utf8"},
	}
}

var (
	author = schema.Column{Name: "author", Type: schema.Str(100)}
	owner  = schema.Column{Name: "owner", Type: schema.Str(100)}
)

func notesGraph() *migrate.Graph {
	return migrate.MustGraph([]*migrate.Revision{
		{
			ID: "notes01", Release: "1.0", Message: "create notes",
			Ops: func(migrate.Env) []migrate.Op {
				return []migrate.Op{schema.CreateTable{Table: notesTable(author)}}
			},
		},
		{
			// The first expand revision declares the branch label; its
			// descendants carry it.
			ID: "notes_expand01", Down: "notes01", Labels: []string{"expand"},
			Branch: migrate.Expand, Release: "2.0", Message: "add notes.owner",
			Ops: func(migrate.Env) []migrate.Op {
				return []migrate.Op{schema.AddColumn{Table: "notes", Column: owner}}
			},
		},
		{
			// A contract revision depends on the expand revision of its
			// release: it can only run once that one has.
			ID: "notes_contract01", Down: "notes01", DependsOn: []string{"notes_expand01"},
			Labels: []string{"contract"}, Branch: migrate.Contract, Release: "2.0", Message: "drop notes.author",
			Ops: func(env migrate.Env) []migrate.Op {
				if env.Dialect == "sqlite" {
					// SQLite cannot drop a column in place: rebuild the
					// table without it (alembic's batch mode).
					return []migrate.Op{schema.RebuildTable{Table: notesTable(owner)}}
				}
				return []migrate.Op{schema.DropColumn{Table: "notes", Column: "author"}}
			},
		},
	})
}

// copyOwner fills notes.owner from notes.author in keyed batches: each
// batch takes the next ids after the cursor, so a batch that ran already
// changes nothing when the migration starts again.
var copyOwner = &migrate.DataMigration{
	Name: "notes_migrate01_owner", Release: "2.0",
	After: "notes_expand01", Before: "notes_contract01",
	Pending: func(ctx context.Context, q dialect.Querier, _ dialect.Dialect) (int64, error) {
		var n int64
		err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM notes WHERE owner IS NULL AND author IS NOT NULL").Scan(&n)
		return n, err
	},
	Batch: func(ctx context.Context, q dialect.Querier, d dialect.Dialect, cursor string, limit int) (string, int64, error) {
		after, _ := strconv.Atoi(cursor) // "" starts at 0
		rows, err := q.QueryContext(ctx, fmt.Sprintf(
			"SELECT id FROM notes WHERE owner IS NULL AND author IS NOT NULL AND id > %s ORDER BY id LIMIT %d", d.Placeholder(1), limit), after)
		if err != nil {
			return "", 0, err
		}
		var ids []int
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return "", 0, err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) == 0 {
			return "", 0, rows.Err()
		}
		res, err := q.ExecContext(ctx, fmt.Sprintf(
			"UPDATE notes SET owner = author WHERE owner IS NULL AND id BETWEEN %s AND %s", d.Placeholder(1), d.Placeholder(2)), ids[0], ids[len(ids)-1])
		if err != nil {
			return "", 0, err
		}
		n, err := res.RowsAffected()
		next := ""
		if len(ids) == limit {
			next = strconv.Itoa(ids[len(ids)-1])
		}
		return next, n, err
	},
}

// A service declares its revisions and data migrations and runs a rolling
// upgrade on its SQLite database: expand, migrate, contract.
func Example() {
	ctx := context.Background()
	u, err := dburl.Parse("sqlite:///:memory:")
	if err != nil {
		log.Fatal(err)
	}
	db, err := dburl.Open(ctx, u)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	g := notesGraph()
	m := &migrate.Migrator{DB: db, Dialect: sqlite.Dialect{}, Graph: g, Data: []*migrate.DataMigration{copyOwner}}

	// Release 1.0, with some data.
	if _, err := m.Upgrade(ctx, []string{"notes01"}, migrate.Options{}); err != nil {
		log.Fatal(err)
	}
	for _, a := range []string{"ann", "bob", "cy"} {
		if _, err := db.Exec("INSERT INTO notes (title, author) VALUES (?, ?)", "by "+a, a); err != nil {
			log.Fatal(err)
		}
	}

	// Expand: old services keep working, new ones can start.
	res, err := m.Upgrade(ctx, []string{g.BranchHead("expand")}, migrate.Options{Online: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after expand:", res.Heads)

	// Contract refuses while data is not carried over.
	_, err = m.Upgrade(ctx, []string{g.BranchHead("contract")}, migrate.Options{Online: true})
	fmt.Println("early contract:", err)

	// Migrate, in batches of 2 rows.
	pending, _ := m.PendingData(ctx)
	fmt.Println("pending:", pending)
	n, remaining, err := m.RunData(ctx, -1, migrate.Options{DataBatch: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("migrated:", n, "remaining:", remaining)

	// Contract, once every old service is gone.
	res, err = m.Upgrade(ctx, []string{g.BranchHead("contract")}, migrate.Options{Online: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after contract:", res.Heads)

	var owners []string
	rows, err := db.Query("SELECT owner FROM notes ORDER BY id")
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			log.Fatal(err)
		}
		owners = append(owners, o)
	}
	fmt.Println("owners:", owners)
	// Output:
	// after expand: [notes_expand01]
	// early contract: migrate: 3 row(s) still need data migration notes_migrate01_owner before notes_contract01
	// pending: map[notes_migrate01_owner:3]
	// migrated: 3 remaining: false
	// after contract: [notes_contract01]
	// owners: [ann bob cy]
}

// Plan lists what an upgrade applies, in alembic's order; Resolve turns
// what operators write (heads, expand@head, a label, a unique prefix) into
// revision ids.
func ExampleGraph_Plan() {
	g := notesGraph()
	for _, spec := range []string{"heads", "expand@head", "contract", "notes_c"} {
		ids, err := g.Resolve(spec)
		fmt.Println(spec, "->", ids, err)
	}
	plan, err := g.Plan([]string{"notes01"}, g.Heads())
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range plan {
		fmt.Println(r.ID, r.Branch, r.Release, r.Message)
	}
	// Output:
	// heads -> [notes_expand01 notes_contract01] <nil>
	// expand@head -> [notes_expand01] <nil>
	// contract -> [notes_contract01] <nil>
	// notes_c -> [notes_contract01] <nil>
	// notes_expand01 expand 2.0 add notes.owner
	// notes_contract01 contract 2.0 drop notes.author
}

// RenderSQL prints the statements an upgrade would run, for any dialect,
// without a database (alembic's offline mode): here, PostgreSQL from
// release 1.0 to the heads. Data migrations are not statements: they run
// in batches on the rows present (see DataMigration).
func ExampleMigrator_RenderSQL() {
	m := &migrate.Migrator{Dialect: postgres.Dialect{}, Graph: notesGraph()}
	stmts, err := m.RenderSQL([]string{"notes01"}, []string{"notes_contract01"}, migrate.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range stmts {
		if !strings.HasPrefix(s, "--") {
			s += ";"
		}
		fmt.Println(s)
	}
	// Output:
	// -- Running upgrade notes01 -> notes_expand01
	// ALTER TABLE notes ADD COLUMN owner VARCHAR(100);
	// UPDATE alembic_version SET version_num='notes_expand01' WHERE alembic_version.version_num = 'notes01';
	// -- Running upgrade notes_expand01 -> notes_contract01
	// ALTER TABLE notes DROP COLUMN author;
	// UPDATE alembic_version SET version_num='notes_contract01' WHERE alembic_version.version_num = 'notes_expand01';
}
