package mysql_test

import (
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate/dialect"
	"github.com/glance-manage/glance-manage/migrate/dialect/dialecttest"
	"github.com/glance-manage/glance-manage/migrate/dialect/mysql"
)

// TestConformance runs the dialect suite against a real MySQL database
// (from testdb's environment variable; required under CI=true).
func TestConformance(t *testing.T) {
	db := testdb.New(t, dialect.MySQL)
	dialecttest.Run(t, mysql.Dialect{}, db.SQL, db.URL)
}
