package schema

import (
	"errors"
	"reflect"
	"testing"
)

func names(cols []Column) []string {
	var out []string
	for _, c := range cols {
		out = append(out, c.Name)
	}
	return out
}

func apply(t *testing.T, m *Model, ops ...Op) {
	t.Helper()
	for _, op := range ops {
		if err := m.Apply(op); err != nil {
			t.Fatalf("%s: %v", op.Describe(), err)
		}
	}
}

func things() *Table {
	return &Table{
		Name: "things",
		Columns: []Column{
			{Name: "id", Type: Int, NotNull: true, AutoIncrement: true},
			{Name: "public", Type: Bool, NotNull: true},
			{Name: "deleted", Type: Bool, NotNull: true},
			{Name: "protected", Type: Bool},
		},
		PrimaryKey: []string{"id"},
		Indexes:    []Index{{Name: "ix_things_public", Table: "things", Columns: []string{"public"}}},
	}
}

// TestModelFollowsHistory: columns keep history's order, check
// constraints keep the names they got when created (MariaDB numbers them
// per table and never renumbers), an altered column keeps its check, and
// a table created then dropped leaves nothing.
func TestModelFollowsHistory(t *testing.T) {
	m := NewModel()
	mood := Type{Kind: Enum, Name: "mood", Values: []string{"good", "bad"}}
	apply(t, m,
		CreateEnum{Name: "mood", Values: mood.Values},
		CreateTable{Table: things()},
		CreateTable{Table: &Table{Name: "scratch", Columns: []Column{{Name: "id", Type: Int}}}},
		AddColumn{Table: "things", Column: Column{Name: "mood", Type: mood}},
		AlterColumn{Table: "things", New: Column{Name: "public", Type: PlainBool}, ChangeNullable: true},
		CreateIndex{Index: Index{Name: "ix_things_mood", Table: "things", Columns: []string{"mood"}}},
		DropIndex{Name: "ix_things_public", Table: "things"},
		DropColumn{Table: "things", Column: "public"},
		DropTable{Name: "scratch"},
		Exec{Desc: "rows only", SQL: []string{"UPDATE things SET mood = 'good'"}, Skippable: true},
		CreateTrigger{Name: "t1", Table: "things", SQL: []string{"CREATE TRIGGER t1 ..."}},
		CreateTrigger{Name: "t2", Table: "things", SQL: []string{"CREATE TRIGGER t2 ..."}},
		DropTrigger{Name: "t1", Table: "things"},
	)
	tables := m.Tables()
	if len(tables) != 1 || tables[0].Name != "things" {
		t.Fatalf("tables = %v", tables)
	}
	th := tables[0]
	if got, want := names(th.Columns), []string{"id", "deleted", "protected", "mood"}; !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
	if want := map[string]string{"deleted": "CONSTRAINT_2", "protected": "CONSTRAINT_3"}; !reflect.DeepEqual(th.CheckNames, want) {
		t.Errorf("check names = %v, want %v", th.CheckNames, want)
	}
	if len(th.Indexes) != 1 || th.Indexes[0].Name != "ix_things_mood" {
		t.Errorf("indexes = %v", th.Indexes)
	}
	var kinds []string
	for _, op := range m.Ops() {
		kinds = append(kinds, op.Describe())
	}
	if want := []string{"create type mood", "create table things", "create trigger t2 on things"}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("ops = %v, want %v", kinds, want)
	}
}

func TestModelAlterKeepsCheck(t *testing.T) {
	m := NewModel()
	apply(t, m, CreateTable{Table: things()},
		AlterColumn{Table: "things", New: Column{Name: "deleted", Type: PlainBool}, ChangeNullable: true, ChangeDefault: true})
	c := m.Tables()[0].Column("deleted")
	if !c.Type.Check || c.NotNull || m.Tables()[0].CheckNames["deleted"] != "CONSTRAINT_2" {
		t.Errorf("after ALTER: %+v, names %v", c, m.Tables()[0].CheckNames)
	}
}

// TestModelDoesNotCopyInput: the model never changes the tables it was
// given (revisions may share their definitions).
func TestModelDoesNotCopyInput(t *testing.T) {
	in := things()
	m := NewModel()
	apply(t, m, CreateTable{Table: in}, DropIndex{Name: "ix_things_public", Table: "things"},
		AddColumn{Table: "things", Column: Column{Name: "x", Type: Int}})
	if len(in.Indexes) != 1 || len(in.Columns) != 4 || in.CheckNames != nil {
		t.Errorf("input table changed: %+v", in)
	}
}

// TestModelRefuses: what the model cannot follow is refused with
// ErrNotModelled, so that the engine applies the revisions one by one.
func TestModelRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []Op
	}{
		{"opaque exec", []Op{Exec{Desc: "x", SQL: []string{"CREATE VIEW v AS SELECT 1"}}}},
		{"drop a column an index uses", []Op{CreateTable{Table: things()}, DropColumn{Table: "things", Column: "public"}}},
		{"drop a key column", []Op{CreateTable{Table: things()}, DropColumn{Table: "things", Column: "id"}}},
		{"drop a referenced table", []Op{CreateTable{Table: things()},
			CreateTable{Table: &Table{Name: "refs", Columns: []Column{{Name: "thing_id", Type: Int}},
				ForeignKeys: []ForeignKey{{Columns: []string{"thing_id"}, RefTable: "things", RefColumns: []string{"id"}}}}},
			DropTable{Name: "things"}}},
		{"new checked column", []Op{CreateTable{Table: things()}, AddColumn{Table: "things", Column: Column{Name: "b", Type: Bool}}}},
		{"unknown table", []Op{AddColumn{Table: "nope", Column: Column{Name: "b", Type: Int}}}},
		{"table twice", []Op{CreateTable{Table: things()}, CreateTable{Table: things()}}},
		{"index twice", []Op{CreateTable{Table: things()}, CreateIndex{Index: Index{Name: "ix_things_public", Table: "things", Columns: []string{"deleted"}}}}},
		{"missing index", []Op{CreateTable{Table: things()}, DropIndex{Name: "nope", Table: "things"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewModel()
			var err error
			for _, op := range tc.ops {
				if err = m.Apply(op); err != nil {
					break
				}
			}
			if !errors.Is(err, ErrNotModelled) {
				t.Errorf("got %v, want ErrNotModelled", err)
			}
		})
	}
}
