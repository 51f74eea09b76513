package rehearse

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glance-manage/glance-manage/backup"
	"github.com/glance-manage/glance-manage/dburl"
)

// scratch is the copy a rehearsal runs on, and how to get rid of it.
type scratch struct {
	url  *dburl.URL
	db   *sql.DB
	desc string // for people: "database glance_rehearse on the same server"
	// created: the database (or SQLite file) was made by the rehearsal
	// and is dropped (removed) at the end; otherwise it existed, empty,
	// and is emptied again.
	created bool
	path    string  // SQLite: the file
	admin   *sql.DB // the source's pool, to drop a database it created on the same server
	opts    []dburl.OpenOption
}

// ScratchName is the name of the scratch database of source database
// name on the same server: the name with "_rehearse", shortened to fit
// the server's limit.
func ScratchName(b dburl.Backend, name string) string {
	const suffix = "_rehearse"
	limit := serverOf(b).nameLimit
	if len(name)+len(suffix) > limit {
		name = name[:limit-len(suffix)]
	}
	return name + suffix
}

// withDatabase returns the connection URL raw with its database name
// replaced by name: the part between the authority's "/" and the query.
func withDatabase(raw, name string) (string, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", errors.New("not a URL")
	}
	query := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i:]
	}
	start := strings.LastIndexByte(rest, '@') + 1
	if i := strings.IndexByte(rest[start:], '/'); i >= 0 {
		rest = rest[:start+i]
	}
	return scheme + "://" + rest + "/" + name + query, nil
}

// sameServer tells whether a and b name databases of one server, as far
// as their URLs tell.
func sameServer(a, b *dburl.URL) bool {
	return a.Backend == b.Backend && a.Host == b.Host && a.Port == b.Port && a.Socket == b.Socket
}

// sameDatabase tells whether a and b name the same database.
func sameDatabase(a, b *dburl.URL) bool {
	if a.Backend != b.Backend {
		return false
	}
	if serverOf(a.Backend).file {
		pa, pb := absPath(a.Path), absPath(b.Path)
		if pa == pb {
			return true
		}
		fa, ea := os.Stat(pa)
		fb, eb := os.Stat(pb)
		return ea == nil && eb == nil && os.SameFile(fa, fb)
	}
	return sameServer(a, b) && a.Database == b.Database
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return p
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// prepareScratch works out the scratch database of a rehearsal of src
// and makes it ready to receive the copy: created, or found empty.
func prepareScratch(ctx context.Context, src *dburl.URL, srcRaw string, srcDB *sql.DB, o Options) (*scratch, error) {
	var u *dburl.URL
	given := o.Scratch != ""
	if given {
		var err error
		if u, err = dburl.Parse(o.Scratch); err != nil {
			return nil, &ScratchError{Err: ErrScratchURL, Detail: err.Error()}
		}
		if u.Backend != src.Backend {
			return nil, &ScratchError{Name: u.Redacted(), Err: ErrBackendMismatch,
				Detail: fmt.Sprintf("the source is %s, the scratch %s", src.Backend, u.Backend)}
		}
		if sameDatabase(src, u) {
			return nil, &ScratchError{Name: u.Redacted(), Err: ErrSameDatabase}
		}
	}
	if serverOf(src.Backend).file {
		if src.Path == "" {
			return nil, &ScratchError{Err: ErrScratchURL, Detail: "the source is an in-memory SQLite database, which no other connection can copy"}
		}
		path := ""
		if given {
			path = absPath(u.Path)
			if u.Path == "" {
				return nil, &ScratchError{Name: u.Redacted(), Err: ErrScratchURL, Detail: "an in-memory scratch database would be gone before the rehearsal starts"}
			}
			if _, err := os.Lstat(path); err == nil {
				return nil, &ScratchError{Name: u.Redacted(), Err: ErrScratchExists}
			}
		} else {
			abs := absPath(src.Path)
			path = filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".rehearse-"+randomSuffix())
			var err error
			if u, err = dburl.Parse("sqlite:///" + filepath.ToSlash(path)); err != nil {
				return nil, err
			}
		}
		return &scratch{url: u, path: path, created: true, desc: "the file " + path, opts: o.OpenOptions}, nil
	}
	if !given {
		name := ScratchName(src.Backend, src.Database)
		raw, err := withDatabase(srcRaw, name)
		if err == nil {
			u, err = dburl.Parse(raw)
		}
		if err != nil {
			return nil, &ScratchError{Name: name, Err: ErrScratchURL, Detail: "cannot name it after the source's connection URL"}
		}
	}
	s := &scratch{url: u, opts: o.OpenOptions}
	if sameServer(src, u) {
		s.desc = "the database " + u.Database + " on the same server"
		exists, err := databaseExists(ctx, srcDB, src.Backend, u.Database)
		if err != nil {
			return nil, &ScratchError{Name: u.Database, Err: ErrScratchCreate, Detail: err.Error()}
		}
		if !exists {
			if err := createDatabase(ctx, srcDB, src.Backend, u.Database); err != nil {
				return nil, &ScratchError{Name: u.Database, Err: ErrScratchCreate, Detail: err.Error()}
			}
			s.created, s.admin = true, srcDB
		}
	} else {
		s.desc = "the database " + u.Redacted()
	}
	db, err := dburl.Open(ctx, u, s.opts...)
	if err != nil {
		s.dropDatabase(ctx)
		return nil, &ScratchError{Name: u.Redacted(), Err: ErrScratchOpen, Detail: err.Error()}
	}
	s.db = db
	tables, err := tableNames(ctx, db, u.Backend)
	if err != nil {
		s.close(ctx)
		return nil, &ScratchError{Name: u.Redacted(), Err: ErrScratchOpen, Detail: err.Error()}
	}
	if len(tables) > 0 {
		// Never the case of a database just created: it existed, and
		// holds something (perhaps the source itself, under another
		// name). Leave it alone.
		s.created = false
		db.Close()
		s.db = nil
		if len(tables) > 5 {
			tables = append(tables[:5], "...")
		}
		return nil, &ScratchError{Name: u.Redacted(), Err: ErrScratchNotEmpty, Detail: strings.Join(tables, ", ")}
	}
	return s, nil
}

// fill copies the source into the scratch database: one consistent
// backup, as `db backup` makes, restored into it.
func (s *scratch) fill(ctx context.Context, src *dburl.URL, srcDB *sql.DB, bo *backup.Options) error {
	if serverOf(src.Backend).file {
		if err := backup.Backup(ctx, srcDB, src, s.path, bo); err != nil {
			return err
		}
		db, err := dburl.Open(ctx, s.url, s.opts...)
		if err != nil {
			return err
		}
		s.db = db
		return nil
	}
	dir, err := os.MkdirTemp("", "glance-manage-rehearse-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dump := filepath.Join(dir, "copy")
	if err := backup.Backup(ctx, srcDB, src, dump, bo); err != nil {
		return err
	}
	if err := backup.Restore(ctx, s.db, s.url, dump, bo); err != nil {
		return err
	}
	if after := serverOf(src.Backend).afterRestore; after != "" {
		// Fresh statistics, as the source's tables have.
		if _, err := s.db.ExecContext(ctx, after); err != nil {
			return err
		}
	}
	return nil
}

// close gets rid of the scratch database, whatever ctx says: a database
// or file the rehearsal made is dropped, one that existed is emptied.
// It reports what it did, or why it could not.
func (s *scratch) close(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var errs []error
	if s.path != "" {
		if s.db != nil {
			errs = append(errs, s.db.Close())
		}
		for _, p := range []string{s.path, s.path + "-wal", s.path + "-shm", s.path + "-journal"} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		return "removed " + s.path, errors.Join(errs...)
	}
	if !s.created && s.db != nil {
		errs = append(errs, backup.Clear(ctx, s.db, s.url, nil))
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
		s.db = nil
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	if s.created {
		if err := s.dropDatabase(ctx); err != nil {
			return "", err
		}
		return "dropped the database " + s.url.Database, nil
	}
	return "emptied the database " + s.url.Redacted(), nil
}

func (s *scratch) dropDatabase(ctx context.Context) error {
	if !s.created || s.admin == nil {
		return nil
	}
	s.created = false
	return dropDatabase(ctx, s.admin, s.url.Backend, s.url.Database)
}

func quoteIdent(b dburl.Backend, name string) string { return serverOf(b).quote(name) }

func quoteDouble(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func quoteBacktick(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func databaseExists(ctx context.Context, db *sql.DB, b dburl.Backend, name string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, serverOf(b).existsQuery, name).Scan(&n)
	return n > 0, err
}

// createDatabase makes database name on the server of db with the
// character set (encoding, collation) of db's database.
func createDatabase(ctx context.Context, db *sql.DB, b dburl.Backend, name string) error {
	stmt, err := serverOf(b).createStmt(ctx, db, name)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, stmt)
	return err
}

func dropDatabase(ctx context.Context, db *sql.DB, b dburl.Backend, name string) error {
	return serverOf(b).drop(ctx, db, name)
}

// tableNames lists the tables and views of db's database.
func tableNames(ctx context.Context, db *sql.DB, b dburl.Backend) ([]string, error) {
	rows, err := db.QueryContext(ctx, serverOf(b).tablesQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// size is the space db's tables and indexes take (for a file database:
// the size of path), leaving out those starting with exclude.
func size(ctx context.Context, db *sql.DB, b dburl.Backend, path, exclude string) (int64, error) {
	if serverOf(b).file {
		fi, err := os.Stat(path)
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	}
	return serverOf(b).size(ctx, db, exclude)
}

// mysqlFileSizes sums the allocated sizes of the files of the database's
// InnoDB tables (file-per-table), from MariaDB's INNODB_SYS_TABLESPACES or
// MySQL's INNODB_TABLESPACES, leaving out tables starting with exclude.
func mysqlFileSizes(ctx context.Context, db *sql.DB, exclude string) (int64, error) {
	var total int64
	for _, view := range []string{"innodb_sys_tablespaces", "innodb_tablespaces"} {
		rows, err := db.QueryContext(ctx, "SELECT name, allocated_size FROM information_schema."+view+" WHERE LEFT(name, CHAR_LENGTH(DATABASE()) + 1) = CONCAT(DATABASE(), '/')")
		if err != nil {
			continue
		}
		for rows.Next() {
			var name string
			var size sql.NullInt64
			if err := rows.Scan(&name, &size); err != nil {
				rows.Close()
				return 0, err
			}
			if t := name[strings.IndexByte(name, '/')+1:]; exclude != "" && strings.HasPrefix(t, exclude) {
				continue
			}
			total += size.Int64
		}
		err = rows.Err()
		rows.Close()
		return total, err
	}
	return 0, errors.New("rehearse: no tablespace view")
}
