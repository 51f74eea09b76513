package sqlite_test

import (
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/dialect/dialecttest"
	"github.com/glance-manage/glance-manage/migrate/dialect/sqlite"
)

// TestConformance runs the dialect suite against a real SQLite database
// (from testdb's environment variable; required under CI=true).
func TestConformance(t *testing.T) {
	db := testdb.New(t, dialect.SQLite)
	dialecttest.Run(t, sqlite.Dialect{}, db.SQL, db.URL)
}
