package schema

import (
	"errors"
	"fmt"
	"slices"
)

// ErrNotModelled is returned by Model.Apply for an operation whose effect
// the model cannot follow (an Exec that is not Skippable, a column that an
// index still uses, ...). A caller building a database from a model falls
// back to running the operations one by one.
var ErrNotModelled = errors.New("schema: operation not modelled")

// Model is the schema that a sequence of operations leaves behind,
// computed in memory: which tables (with their columns in order, keys,
// indexes and constraints), enum types and triggers exist afterwards.
// Building that schema directly on an empty database gives the same
// result as running every operation, in far fewer statements (no table
// created only to be dropped, no column added only to be altered).
//
// Check constraints are named the way MariaDB names unnamed ones, in
// creation order per table (CONSTRAINT_1, CONSTRAINT_2, ...), and keep
// their name when other checks of the table go away, so that a table
// built from the model reports the same names as one built step by step.
type Model struct {
	tables   []*Table
	enums    []CreateEnum
	triggers []CreateTrigger
	checks   map[string]int // per table: checks named so far
}

// NewModel returns an empty model.
func NewModel() *Model { return &Model{checks: map[string]int{}} }

func (m *Model) table(name string) (int, *Table) {
	for i, t := range m.tables {
		if t.Name == name {
			return i, t
		}
	}
	return -1, nil
}

func notModelled(op Op, why string) error {
	return fmt.Errorf("%w: %s: %s", ErrNotModelled, op.Describe(), why)
}

// Apply records the effect of op.
func (m *Model) Apply(op Op) error {
	switch o := op.(type) {
	case CreateTable:
		if _, t := m.table(o.Table.Name); t != nil {
			return notModelled(op, "the table exists already")
		}
		t := cloneTable(o.Table)
		t.CheckNames = map[string]string{}
		for _, c := range t.Columns {
			if c.Type.Kind == Boolean && c.Type.Check {
				m.checks[t.Name]++
				t.CheckNames[c.Name] = fmt.Sprintf("CONSTRAINT_%d", m.checks[t.Name])
			}
		}
		m.tables = append(m.tables, t)
	case DropTable:
		i, t := m.table(o.Name)
		if t == nil {
			return notModelled(op, "no such table")
		}
		for _, other := range m.tables {
			for _, fk := range other.ForeignKeys {
				if fk.RefTable == o.Name && other.Name != o.Name {
					return notModelled(op, "table "+other.Name+" still refers to it")
				}
			}
		}
		m.tables = slices.Delete(m.tables, i, i+1)
		delete(m.checks, o.Name)
	case AddColumn:
		_, t := m.table(o.Table)
		if t == nil || t.Column(o.Column.Name) != nil {
			return notModelled(op, "no such table, or the column exists")
		}
		if o.Column.Type.Kind == Boolean && o.Column.Type.Check {
			return notModelled(op, "a new column with a check constraint")
		}
		t.Columns = append(t.Columns, o.Column)
	case DropColumn:
		_, t := m.table(o.Table)
		if t == nil || t.Column(o.Column) == nil {
			return notModelled(op, "no such column")
		}
		if slices.Contains(t.PrimaryKey, o.Column) {
			return notModelled(op, "the column is in the primary key")
		}
		for _, ix := range t.Indexes {
			if slices.Contains(ix.Columns, o.Column) {
				return notModelled(op, "index "+ix.Name+" uses the column")
			}
		}
		for _, u := range t.Uniques {
			if slices.Contains(u.Columns, o.Column) {
				return notModelled(op, "constraint "+u.Name+" uses the column")
			}
		}
		for _, fk := range t.ForeignKeys {
			if slices.Contains(fk.Columns, o.Column) {
				return notModelled(op, "a foreign key uses the column")
			}
		}
		t.Columns = slices.DeleteFunc(t.Columns, func(c Column) bool { return c.Name == o.Column })
		delete(t.CheckNames, o.Column)
	case AlterColumn:
		_, t := m.table(o.Table)
		if t == nil {
			return notModelled(op, "no such table")
		}
		c := t.Column(o.New.Name)
		if c == nil {
			return notModelled(op, "no such column")
		}
		// The column's type is what New says; a check constraint the
		// table had on it stays (ALTER COLUMN never drops constraints).
		if o.ChangeNullable {
			c.NotNull = o.New.NotNull
		}
		if o.ChangeDefault {
			c.Default = o.New.Default
		}
		_, checked := t.CheckNames[c.Name]
		c.Type = o.New.Type
		if checked && c.Type.Kind == Boolean {
			c.Type.Check = true
		}
	case CreateIndex:
		_, t := m.table(o.Index.Table)
		if t == nil || m.hasIndex(o.Index.Name) {
			return notModelled(op, "no such table, or the index exists")
		}
		t.Indexes = append(t.Indexes, o.Index)
	case DropIndex:
		_, t := m.table(o.Table)
		if t == nil {
			return notModelled(op, "no such table")
		}
		n := len(t.Indexes)
		t.Indexes = slices.DeleteFunc(t.Indexes, func(ix Index) bool { return ix.Name == o.Name })
		if len(t.Indexes) == n {
			return notModelled(op, "no such index")
		}
	case CreateEnum:
		if !slices.ContainsFunc(m.enums, func(e CreateEnum) bool { return e.Name == o.Name }) {
			m.enums = append(m.enums, o)
		}
	case RebuildTable:
		i, t := m.table(o.Table.Name)
		if t == nil {
			return notModelled(op, "no such table")
		}
		nt := cloneTable(o.Table)
		nt.CheckNames = map[string]string{}
		for _, c := range nt.Columns {
			if c.Type.Kind == Boolean && c.Type.Check {
				m.checks[nt.Name]++
				nt.CheckNames[c.Name] = fmt.Sprintf("CONSTRAINT_%d", m.checks[nt.Name])
			}
		}
		m.tables[i] = nt
	case CreateTrigger:
		m.triggers = append(m.triggers, o)
	case DropTrigger:
		m.triggers = slices.DeleteFunc(m.triggers, func(t CreateTrigger) bool { return t.Name == o.Name && t.Table == o.Table })
	case Exec:
		if !o.Skippable {
			return notModelled(op, "its statements are opaque")
		}
	case Precondition:
		// A check of the data: nothing to check on an empty database.
	default:
		return notModelled(op, fmt.Sprintf("unknown operation %T", op))
	}
	return nil
}

func (m *Model) hasIndex(name string) bool {
	for _, t := range m.tables {
		for _, ix := range t.Indexes {
			if ix.Name == name {
				return true
			}
		}
	}
	return false
}

// Tables returns the model's tables in creation order (every table after
// the tables it refers to). The caller must not modify them.
func (m *Model) Tables() []*Table { return m.tables }

// Ops returns operations that build the model on an empty database: the
// enum types, the tables (each with its indexes) in creation order, then
// the triggers.
func (m *Model) Ops() []Op {
	var ops []Op
	for _, e := range m.enums {
		ops = append(ops, e)
	}
	for _, t := range m.tables {
		ops = append(ops, CreateTable{Table: cloneTable(t)})
	}
	for _, t := range m.triggers {
		ops = append(ops, t)
	}
	return ops
}

func cloneTable(t *Table) *Table {
	c := *t
	c.Columns = slices.Clone(t.Columns)
	c.PrimaryKey = slices.Clone(t.PrimaryKey)
	c.ForeignKeys = slices.Clone(t.ForeignKeys)
	c.Uniques = slices.Clone(t.Uniques)
	c.Indexes = slices.Clone(t.Indexes)
	if t.CheckNames != nil {
		c.CheckNames = make(map[string]string, len(t.CheckNames))
		for k, v := range t.CheckNames {
			c.CheckNames[k] = v
		}
	}
	return &c
}
