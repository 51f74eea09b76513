package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/glance-manage/glance-manage/dburl"
	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/config"
	"github.com/glance-manage/glance-manage/migrate"
)

// DefaultSQLiteFile is the database used when no configuration names one
// (no config file found, no OS_DATABASE__CONNECTION): a SQLite file in
// the working directory, so that a first `glance-manage db sync` works out
// of the box.
const DefaultSQLiteFile = "glance.sqlite"

// session is an open database and where its settings came from.
type session struct {
	cfg *config.Config
	url *dburl.URL
	mgr *glance.Manager
	// fence is the migration lock the command holds (nil when it takes
	// none), for the writers outside the migration engine (purge,
	// metadefs); the engine gets it through mgr.SetFence.
	fence migrate.Fence
	// throttle is the run's throttler once built (throttle.go), and
	// closers what Close releases with the database.
	throttle      migrate.Throttler
	throttleBuilt bool
	closers       []func()
}

func (s *session) Close() {
	for _, c := range s.closers {
		c()
	}
	s.mgr.DB.Close()
}

func (a *app) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(config.Options{ConfigFiles: a.configFiles, ConfigDirs: a.configDirs, Getenv: a.env.Getenv})
	if err != nil {
		return nil, exit(exitError, "ERROR: %v", err)
	}
	if err := a.setupLogging(cfg); err != nil {
		return nil, err
	}
	for _, d := range cfg.Deprecations {
		a.logf("WARNING: %s", d)
	}
	return cfg, nil
}

// open reads the configuration and connects to the database.
func (a *app) open(ctx context.Context) (*session, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	conn := cfg.Connection
	if conn == "" {
		// Files named on the command line must say where the database
		// is; otherwise (none found, or packaged defaults that leave
		// [database] connection commented out) the embedded default is
		// used, and the tool says so.
		if len(a.configFiles) > 0 {
			return nil, exit(exitError, "ERROR: no database connection is configured: set [database] connection in %s (or the OS_DATABASE__CONNECTION environment variable)", configNames(cfg))
		}
		abs, _ := filepath.Abs(DefaultSQLiteFile)
		conn = "sqlite:///" + abs // an absolute path: sqlite:////abs/path
		where := "No configuration found"
		if len(cfg.Files) > 0 {
			where = "No [database] connection in " + strings.Join(cfg.Files, ", ")
		}
		a.logf("%s; using the SQLite database %s (set [database] connection in glance-api.conf, or OS_DATABASE__CONNECTION, to use another).", where, abs)
	}
	u, err := dburl.Parse(conn)
	if err != nil {
		return nil, exit(exitError, "ERROR: invalid [database] connection (from %s): %v", sourceOf(cfg), err)
	}
	opts, err := a.openOptions()
	if err != nil {
		return nil, err
	}
	opts = append(opts, dburl.WithMySQLSQLMode(cfg.MySQLSQLMode))
	if cfg.ConnectionParameters != "" {
		opts = append(opts, dburl.WithConnectionParameters(cfg.ConnectionParameters))
	}
	db, err := dburl.Open(ctx, u, opts...)
	if err != nil {
		if e, ok := a.explainWait(err); ok {
			return nil, e
		}
		return nil, connectError(u, cfg, err)
	}
	mgr, err := glance.New(db, u.Dialect)
	if err != nil {
		db.Close()
		return nil, exit(exitError, "ERROR: %v", err)
	}
	a.sess = &session{cfg: cfg, url: u, mgr: mgr}
	return a.sess, nil
}

func sourceOf(cfg *config.Config) string {
	if cfg == nil || cfg.ConnectionSource == "" {
		return "the configuration"
	}
	return cfg.ConnectionSource
}

func configNames(cfg *config.Config) string {
	if len(cfg.Files) == 0 {
		return "a config file"
	}
	return fmt.Sprint(cfg.Files)
}

// connectError turns a connection failure into one line that says what
// to check, without the password.
func connectError(u *dburl.URL, cfg *config.Config, err error) error {
	var hint string
	switch {
	case errors.Is(err, dburl.ErrAuth):
		hint = "the server refused the credentials; check the user and password in [database] connection"
	case errors.Is(err, dburl.ErrUnreachable):
		hint = "the server cannot be reached; check that it runs and the host and port in [database] connection"
	default:
		hint = "check [database] connection"
	}
	return exit(exitError, "ERROR: cannot open the %s database %s (from %s): %v; %s", u.Backend, u.Redacted(), sourceOf(cfg), err, hint)
}
