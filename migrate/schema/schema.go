// Package schema describes tables and the operations that change them, in
// terms every dialect can render. It holds no SQL: the dialect packages
// under migrate/dialect turn these values into statements.
package schema

import "fmt"

// Kind is an abstract column type.
type Kind int

// Column kinds, named after the SQLAlchemy types upstream uses.
const (
	String     Kind = iota // VARCHAR(Length)
	Text                   // TEXT
	Boolean                // BOOLEAN; with Check, a CHECK (col IN (0, 1)) where there is no native boolean
	DateTime               // DATETIME / TIMESTAMP WITHOUT TIME ZONE
	Integer                // INTEGER
	BigInteger             // BIGINT everywhere
	// BigIntegerVariant is BIGINT except on SQLite, where it is INTEGER
	// (SQLAlchemy's BigInteger().with_variant(Integer, 'sqlite')).
	BigIntegerVariant
	Numeric // NUMERIC
	Enum    // a named enum type (PostgreSQL), ENUM(...) (MySQL), VARCHAR(longest) (SQLite)
)

// Type is a column type.
type Type struct {
	Kind   Kind
	Length int      // String
	Check  bool     // Boolean: emit the 0/1 CHECK on backends without booleans
	Name   string   // Enum: type name
	Values []string // Enum: values, in order
}

// Convenience constructors.
func Str(n int) Type { return Type{Kind: String, Length: n} }

var (
	TextT     = Type{Kind: Text}
	Bool      = Type{Kind: Boolean, Check: true} // Glance's Boolean: with CHECK
	PlainBool = Type{Kind: Boolean}              // SQLAlchemy's Boolean: no CHECK
	Time      = Type{Kind: DateTime}
	Int       = Type{Kind: Integer}
	BigInt    = Type{Kind: BigInteger}
	BigIntV   = Type{Kind: BigIntegerVariant}
	Num       = Type{Kind: Numeric}
)

// Default is a server default.
type Default struct {
	False bool   // boolean false
	Str   string // a string literal (when False is not set)
}

// DefaultFalse and DefaultString build server defaults.
func DefaultFalse() *Default          { return &Default{False: true} }
func DefaultString(s string) *Default { return &Default{Str: s} }

// Column is a column definition.
type Column struct {
	Name          string
	Type          Type
	NotNull       bool
	Default       *Default
	AutoIncrement bool // single-column integer primary key
}

// Unique is a named unique constraint.
type Unique struct {
	Name    string
	Columns []string
}

// ForeignKey is an unnamed foreign key (servers name them).
type ForeignKey struct {
	Columns    []string
	RefTable   string
	RefColumns []string
}

// Index is a named index.
type Index struct {
	Name    string
	Table   string
	Columns []string
	Unique  bool
}

// Table is a full table definition.
type Table struct {
	Name        string
	Columns     []Column
	PrimaryKey  []string
	ForeignKeys []ForeignKey
	Uniques     []Unique
	Indexes     []Index // created right after the table
	// Options are table options by backend (the dialect's name): what
	// the backend's CREATE TABLE writes after the closing parenthesis,
	// e.g. {"mysql": "ENGINE=InnoDB CHARSET=utf8"}. A backend without
	// an entry writes none.
	Options map[string]string
	// CheckNames names the boolean CHECK constraints by column, where a
	// backend names them (MySQL/MariaDB); nil leaves the naming to the
	// server. Model fills it in so that a table built in one step gets
	// the names a step-by-step history would have left.
	CheckNames map[string]string
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// Op is one schema or data operation. Each kind documents what "done"
// means; dialects use that to resume after a crash on backends whose DDL
// commits statement by statement.
type Op interface {
	// Describe is a short human description ("create table images").
	Describe() string
}

// CreateTable creates a table and its indexes. Done: the table exists.
type CreateTable struct{ Table *Table }

// DropTable drops a table. Done: the table is absent.
type DropTable struct{ Name string }

// AddColumn adds a column. Done: the column exists.
type AddColumn struct {
	Table  string
	Column Column
}

// DropColumn drops a column. Done: the column is absent.
type DropColumn struct{ Table, Column string }

// AlterColumn changes a column's nullability and/or server default to
// those of New. Done: the live column already matches.
type AlterColumn struct {
	Table          string
	New            Column
	ChangeNullable bool
	ChangeDefault  bool
}

// CreateIndex creates an index. Done: a usable index of that name exists
// (PostgreSQL: a valid one; an invalid leftover of an interrupted
// concurrent build is dropped and built again).
type CreateIndex struct {
	Index Index
	// Concurrently marks an index on a table that may be large and in use
	// (images, tasks, ...). On an online run the backend builds it without
	// blocking writers: PostgreSQL with CREATE INDEX CONCURRENTLY, outside
	// the revision's transaction; MySQL with ALGORITHM=INPLACE, LOCK=NONE.
	// Offline runs and rendered SQL use the plain statement.
	Concurrently bool
}

// DropIndex drops an index. Done: no index of that name exists.
type DropIndex struct{ Name, Table string }

// CreateEnum creates a named enum type where the backend has them
// (PostgreSQL); elsewhere it renders nothing. Done: the type exists.
type CreateEnum struct {
	Name   string
	Values []string
}

// RebuildTable recreates a table with a new definition and copies the
// rows of the columns both definitions share (SQLite's way to alter or
// drop columns: alembic's batch mode). Done: the live table has exactly
// the new definition's columns, nullability and defaults.
type RebuildTable struct {
	Table *Table
}

// CreateTrigger creates a trigger from dialect-specific statements.
// Done: a trigger of that name exists on the table.
type CreateTrigger struct {
	Name, Table string
	SQL         []string
}

// DropTrigger drops a trigger if present. Done: it is absent.
type DropTrigger struct{ Name, Table string }

// Precondition checks the data before a destructive operation (a
// dropped column, a rebuilt table): it counts the rows of Table matching
// Where, the rows whose data the next operations would lose, and the
// engine stops the revision with a *migrate.PreconditionError unless
// there are none. It changes nothing; it is never "done", so a re-run
// checks again.
type Precondition struct {
	Desc  string // what must hold, e.g. "every image has a visibility"
	Table string
	Where string // the rows that violate it, e.g. "visibility IS NULL"
	// Checker names who checks it, for the comment a rendered script
	// carries in its place ("-- <Checker> checks here that ..."); ""
	// reads "the migration".
	Checker string
}

// Comment is the line a rendered script carries in place of the check.
func (o Precondition) Comment() string {
	who := o.Checker
	if who == "" {
		who = "the migration"
	}
	return fmt.Sprintf("-- %s checks here that %s: no row of %s WHERE %s", who, o.Desc, o.Table, o.Where)
}

// Exec runs statements that change data or objects the other ops do not
// describe. When DoneQuery is set and returns a row, the op is done.
type Exec struct {
	Desc      string
	SQL       []string
	DoneQuery string
	// Skippable says the statements change nothing on a database built
	// from scratch: they only touch rows, or drop (IF EXISTS) objects
	// that such a build never creates. Model accepts only skippable
	// Execs.
	Skippable bool
}

func (o CreateTable) Describe() string { return "create table " + o.Table.Name }
func (o DropTable) Describe() string   { return "drop table " + o.Name }
func (o AddColumn) Describe() string {
	return fmt.Sprintf("add column %s.%s", o.Table, o.Column.Name)
}
func (o DropColumn) Describe() string { return fmt.Sprintf("drop column %s.%s", o.Table, o.Column) }
func (o AlterColumn) Describe() string {
	return fmt.Sprintf("alter column %s.%s", o.Table, o.New.Name)
}
func (o CreateIndex) Describe() string {
	return fmt.Sprintf("create index %s on %s", o.Index.Name, o.Index.Table)
}
func (o DropIndex) Describe() string    { return fmt.Sprintf("drop index %s on %s", o.Name, o.Table) }
func (o CreateEnum) Describe() string   { return "create type " + o.Name }
func (o RebuildTable) Describe() string { return "rebuild table " + o.Table.Name }
func (o CreateTrigger) Describe() string {
	return fmt.Sprintf("create trigger %s on %s", o.Name, o.Table)
}
func (o DropTrigger) Describe() string { return fmt.Sprintf("drop trigger %s on %s", o.Name, o.Table) }
func (o Exec) Describe() string        { return o.Desc }
func (o Precondition) Describe() string {
	return fmt.Sprintf("check that %s (no row of %s where %s)", o.Desc, o.Table, o.Where)
}
