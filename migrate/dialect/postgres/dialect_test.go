package postgres_test

import (
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/dialect/dialecttest"
	"github.com/glance-manage/glance-manage/migrate/dialect/postgres"
)

// TestConformance runs the dialect suite against a real PostgreSQL database
// (from testdb's environment variable; required under CI=true).
func TestConformance(t *testing.T) {
	db := testdb.New(t, dialect.PostgreSQL)
	dialecttest.Run(t, postgres.Dialect{}, db.SQL, db.URL)
}
