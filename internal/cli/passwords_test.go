package cli_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

// pctEncode percent-encodes every byte but letters and digits.
func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// everyCommand is each command that reaches the database (or prints what
// it would run), in an order that leaves each something to do, with the
// options that print more (--debug, --dry-run, --sql, --format json), and
// with the migration lock held by another run for the lock's messages.
func everyCommand(t *testing.T) [][]string {
	dir := t.TempDir()
	md := mdDir(t, map[string]string{"alpha.json": nsAlpha})
	return [][]string{
		{"db", "version"}, {"db", "check"}, {"db", "version", "--format", "json"},
		{"db", "sync", "--sql"}, {"db", "upgrade", "--sql", "mitaka02:heads"}, {"db", "expand", "--sql"},
		{"--debug", "db", "upgrade", "mitaka02"}, {"db_version"},
		{"db", "expand", "--dry-run"}, {"db", "check", "--format", "json"},
		{"--debug", "db", "expand"}, {"--debug", "db", "migrate"}, {"db", "contract", "--dry-run"}, {"--debug", "db", "contract"},
		{"db", "sync", "--dry-run"}, {"db", "upgrade", "--dry-run"}, {"db", "sync"}, {"db_sync"}, {"db", "upgrade"},
		{"db", "history"}, {"db", "history", "--format", "json"},
		{"db", "load_metadefs", "--path", md}, {"db", "export_metadefs", "--path", filepath.Join(dir, "export")}, {"db", "unload_metadefs"},
		{"db", "purge"}, {"db", "purge_images_table"},
		{"db", "backup", "--to", filepath.Join(dir, "b1")}, {"db", "sync", "--backup-to", filepath.Join(dir, "b2")},
		{"db", "restore", "--from", filepath.Join(dir, "b1")},
		{"db", "version_control", "--version", "2024_1_contract01"},
		{"db", "lock", "show"}, {"db", "lock", "break"},
		{"hold the lock"},
		{"db", "lock", "show"}, {"--lock-timeout", "0", "db", "sync"}, {"db", "check", "--format", "json"}, {"db", "lock", "break"},
		{"db", "lock", "break", "--force"},
	}
}

// TestNoPieceOfThePasswordShows: with a password written unencoded into
// the URL (with '@', ':', '/', '%', '#', '?'), or percent-encoded, no
// command prints any piece of it (three characters or more) on stdout or
// stderr: connect errors, refused URLs, --dry-run, --sql, --debug, JSON,
// backups and restores (mysqldump, pg_dump), lock messages. On MySQL each
// password is a real user's, so that the commands get as far as they can;
// PostgreSQL's test server trusts every password. A URL with an '@' after
// its user information is refused with everything up to the last '@'
// hidden. Before, "glance:Qw7@host9/db@127.0.0.1/glance" was shown as
// "glance:****@host9/db@127.0.0.1/glance".
func TestNoPieceOfThePasswordShows(t *testing.T) {
	ctx := context.Background()
	for _, b := range []testdb.Backend{testdb.MySQL, testdb.PostgreSQL} {
		for i, pw := range testdb.HostilePasswords {
			t.Run(fmt.Sprintf("%s/%d", b, i), func(t *testing.T) {
				db := testdb.New(t, b)
				u, err := url.Parse(db.URL)
				if err != nil {
					t.Fatal(err)
				}
				user := u.User.Username()
				if b == testdb.MySQL {
					user = fmt.Sprintf("gm_pw%d_%s", i, strings.TrimPrefix(db.Name, "gmt_"))
					for _, q := range []string{
						fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, strings.ReplaceAll(pw, "'", "''")),
						fmt.Sprintf("GRANT ALL ON `%s`.* TO '%s'@'%%'", db.Name, user),
						fmt.Sprintf("GRANT PROCESS ON *.* TO '%s'@'%%'", user),
					} {
						if _, err := db.SQL.Exec(q); err != nil {
							t.Fatal(err)
						}
					}
					t.Cleanup(func() { _, _ = db.SQL.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
				}
				base := u.Scheme + "://" + user + ":%s@" + u.Host + u.Path
				if u.RawQuery != "" {
					base += "?" + u.RawQuery
				}
				working := fmt.Sprintf(base, pctEncode(pw))
				urls := map[string]string{
					"encoded":     working,
					"unreachable": fmt.Sprintf(u.Scheme+"://"+user+":%s@127.0.0.1:1/glance?connect_timeout=2", pw),
				}
				switch {
				case strings.Contains(pw, "@"):
					urls["unencoded, refused"] = fmt.Sprintf(base, pw)
				case unquote(pw) != pw:
					// "%2F" unencoded is read as "/": another password.
					urls["unencoded, another password"] = fmt.Sprintf(base, pw)
				default:
					working = fmt.Sprintf(base, pw)
					urls["unencoded"] = working
				}
				if b == testdb.MySQL {
					urls["wrong password"] = fmt.Sprintf(base, pctEncode(pw+"x"))
				}
				check := func(name string, args []string, out, errs string) {
					t.Helper()
					for _, form := range []string{pw, unquote(pw)} {
						if piece := testdb.Leak(out+errs, form); piece != "" {
							t.Errorf("%s: %v shows %q of the password %q:\n%s%s", name, args, piece, pw, out, errs)
						}
					}
				}
				var release func()
				defer func() {
					if release != nil {
						release()
					}
				}()
				var failed []string
				for _, args := range everyCommand(t) {
					if args[0] == "hold the lock" {
						m, err := glance.New(db.SQL, string(b))
						if err != nil {
							t.Fatal(err)
						}
						l := &migrate.Locker{DB: db.SQL, Dialect: m.Dialect, Naming: glance.Naming, Holder: migrate.Holder{Host: "ctl-7", PID: 4242, Command: "db expand"}}
						lease, err := l.Acquire(ctx, 0)
						if err != nil {
							t.Fatal(err)
						}
						release = func() { _ = lease.Release(ctx) }
						continue
					}
					out, errs, code := runCLI(t, working, args...)
					if code != 0 {
						failed = append(failed, fmt.Sprintf("%s: exit %d: %s", strings.Join(args, " "), code, errs))
					}
					check("working URL", args, out, errs)
				}
				// db check's exit codes say what is next; the lock's
				// refusals; nothing else fails.
				var unexpected []string
				for _, f := range failed {
					if !strings.HasPrefix(f, "db check") && !strings.HasPrefix(f, "--lock-timeout 0 db sync: exit 1") && !strings.HasPrefix(f, "db lock break: exit 1") {
						unexpected = append(unexpected, f)
					}
				}
				if len(unexpected) > 0 || len(failed) != len(unexpected)+4 {
					t.Errorf("commands that failed:\n%s", strings.Join(failed, "\n"))
				}
				for name, raw := range urls {
					if raw == working {
						continue
					}
					for _, args := range [][]string{{"db", "sync"}, {"db", "version", "--format", "json"}, {"--debug", "db", "upgrade", "--dry-run"}, {"db", "backup", "--to", filepath.Join(t.TempDir(), "b")}, {"db", "lock", "show"}} {
						out, errs, code := runCLI(t, raw, args...)
						if code == 0 && name != "encoded" && !(name == "unencoded, another password" && b == testdb.PostgreSQL) {
							t.Errorf("%s: %v: exit 0", name, args)
						}
						check(name, args, out, errs)
					}
				}
			})
		}
	}
}

// unquote decodes %XX as the URL parser does (invalid escapes stay).
func unquote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
