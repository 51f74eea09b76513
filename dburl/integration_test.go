package dburl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// serverURL returns the URL in env var name, skipping the test when it is
// unset (failing under CI=true, where the servers must be there).
func serverURL(t *testing.T, name string) *URL {
	t.Helper()
	raw := os.Getenv(name)
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is not set", name)
		}
		t.Skipf("set %s to run", name)
	}
	u, err := Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return u
}

func openOrFatal(t *testing.T, u *URL, opts ...OpenOption) *sql.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, u, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", u, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestIntegrationMySQL(t *testing.T) {
	u := serverURL(t, "GLANCE_TEST_MYSQL_URL")
	if u.Backend != MySQL {
		t.Fatalf("GLANCE_TEST_MYSQL_URL is a %s URL", u.Backend)
	}
	ctx := context.Background()
	db := openOrFatal(t, u)

	var mode, charset string
	if err := db.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client").Scan(&mode, &charset); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mode, "STRICT_ALL_TABLES") || !strings.Contains(mode, "TRADITIONAL") {
		t.Errorf("session sql_mode = %q, want TRADITIONAL", mode)
	}
	if !strings.HasPrefix(charset, "utf8") || charset == "utf8mb4" {
		t.Errorf("character_set_client = %q, want utf8 (utf8mb3)", charset)
	}
	var now time.Time
	if err := db.QueryRowContext(ctx, "SELECT UTC_TIMESTAMP()").Scan(&now); err != nil {
		t.Fatalf("DATETIME does not scan into time.Time: %v", err)
	}

	t.Run("sql_mode option", func(t *testing.T) {
		db := openOrFatal(t, u, WithMySQLSQLMode("ANSI_QUOTES"))
		var mode string
		if err := db.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "ANSI_QUOTES" {
			t.Errorf("sql_mode = %q, want ANSI_QUOTES", mode)
		}
	})

	t.Run("utf8mb4 via connection_parameters", func(t *testing.T) {
		db := openOrFatal(t, u, WithConnectionParameters("charset=utf8mb4&read_timeout=30"))
		var cs string
		if err := db.QueryRowContext(ctx, "SELECT @@SESSION.character_set_client").Scan(&cs); err != nil {
			t.Fatal(err)
		}
		if cs != "utf8mb4" {
			t.Errorf("character_set_client = %q, want utf8mb4", cs)
		}
	})

	t.Run("password with special characters", func(t *testing.T) {
		const user, password, wrong = "gm_pw_test", "S3cr%t@/x", "Wr0ng%Pw@/x"
		if _, err := db.ExecContext(ctx, "DROP USER IF EXISTS '"+user+"'@'%'"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "CREATE USER '"+user+"'@'%' IDENTIFIED BY ?", password); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.ExecContext(context.Background(), "DROP USER IF EXISTS '"+user+"'@'%'") })

		host := u.Host
		if host == "" || host == "localhost" {
			host = "127.0.0.1"
		}
		base := "mysql+pymysql://" + user + ":%s@" + net.JoinHostPort(host, u.Port) + "/"

		good, err := Parse(fmt.Sprintf(base, encodeAll(password)))
		if err != nil {
			t.Fatal(err)
		}
		gdb := openOrFatal(t, good)
		var who string
		if err := gdb.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&who); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(who, user+"@") {
			t.Errorf("CURRENT_USER() = %q", who)
		}

		for _, enc := range []string{encodeAll(wrong), "Wr0ng%25Pw%40/x"} {
			bad, err := Parse(fmt.Sprintf(base, enc))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(ctx, bad)
			var ce *ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("Open with a wrong password = %v, want *ConnectError", err)
			}
			if !errors.Is(err, ErrAuth) || errors.Is(err, ErrUnreachable) {
				t.Errorf("error %v: want ErrAuth", err)
			}
			for _, e := range []error{err, errors.Unwrap(err)} {
				for _, secret := range []string{wrong, enc, password} {
					if strings.Contains(e.Error(), secret) {
						t.Errorf("error %q contains %q", e, secret)
					}
				}
			}
		}
	})
}

func TestIntegrationPostgres(t *testing.T) {
	u := serverURL(t, "GLANCE_TEST_POSTGRES_URL")
	if u.Backend != Postgres {
		t.Fatalf("GLANCE_TEST_POSTGRES_URL is a %s URL", u.Backend)
	}
	ctx := context.Background()
	db := openOrFatal(t, u, WithConnectionParameters("application_name=glance-manage-test"))
	var who, app, enc string
	if err := db.QueryRowContext(ctx,
		"SELECT current_user, current_setting('application_name'), current_setting('client_encoding')").Scan(&who, &app, &enc); err != nil {
		t.Fatal(err)
	}
	if u.User != "" && who != u.User {
		t.Errorf("current_user = %q, want %q", who, u.User)
	}
	if app != "glance-manage-test" || enc != "UTF8" {
		t.Errorf("application_name = %q, client_encoding = %q", app, enc)
	}

	t.Run("missing database", func(t *testing.T) {
		host := u.Host
		if host == "" {
			host = "127.0.0.1"
		}
		nu, err := Parse("postgresql://" + u.User + ":N0tUsedPw@" + net.JoinHostPort(host, u.Port) + "/gm_no_such_db")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(ctx, nu)
		var ce *ConnectError
		if !errors.As(err, &ce) || strings.Contains(err.Error(), "N0tUsedPw") {
			t.Errorf("Open = %v", err)
		}
	})
}
