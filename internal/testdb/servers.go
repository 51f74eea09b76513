package testdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables naming the private servers that the scripts in
// tools/ start on this host (README, Tests). Each names servers whose
// credentials may create databases, as GLANCE_TEST_MYSQL_URL does.
const (
	// EnvGaleraURLs: the nodes of a Galera cluster, comma-separated, node 1
	// first (tools/galera/cluster.sh start prints them).
	EnvGaleraURLs = "GLANCE_TEST_GALERA_URLS"
	// EnvGaleraProxy: HAProxy in front of that cluster, node 1 active and
	// the others backup (cluster.sh --haproxy start).
	EnvGaleraProxy = "GLANCE_TEST_GALERA_PROXY_URL"
	// EnvGaleraDir: the cluster's directory, for cluster.sh kill/restart.
	EnvGaleraDir = "GLANCE_TEST_GALERA_DIR"
	// EnvMySQLPrimary, EnvMySQLReplica: a MariaDB primary with binary
	// logging on and its asynchronous replica (tools/replica/mariadb.sh).
	EnvMySQLPrimary = "GLANCE_TEST_MYSQL_PRIMARY_URL"
	EnvMySQLReplica = "GLANCE_TEST_MYSQL_REPLICA_URL"
	// EnvPostgresPrimary, EnvPostgresStandby: a PostgreSQL primary and its
	// streaming hot standby (tools/replica/postgres.sh).
	EnvPostgresPrimary = "GLANCE_TEST_POSTGRES_PRIMARY_URL"
	EnvPostgresStandby = "GLANCE_TEST_POSTGRES_STANDBY_URL"
)

// The user without SUPER that tools/replica/mariadb.sh creates on the
// primary (and so on the replica): ALL PRIVILEGES on `glance%`.* and on the
// test databases (NamePrefix), nothing global.
const (
	NonSuperUser     = "glance"
	NonSuperPassword = "glance-pw"
)

// howToSet says, per variable, what sets it.
var howToSet = map[string]string{
	EnvGaleraURLs:      "tools/galera/cluster.sh start prints it",
	EnvGaleraProxy:     "tools/galera/cluster.sh --haproxy start writes it to DIR/proxy_url",
	EnvGaleraDir:       "the DIR given to tools/galera/cluster.sh start; cluster.sh env DIR prints all three",
	EnvMySQLPrimary:    "tools/replica/mariadb.sh start prints it",
	EnvMySQLReplica:    "tools/replica/mariadb.sh start prints it",
	EnvPostgresPrimary: "tools/replica/postgres.sh start prints it",
	EnvPostgresStandby: "tools/replica/postgres.sh start prints it",
}

// lookupEnv returns the value of name, or an error saying how to set it.
func lookupEnv(name string) (string, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return "", fmt.Errorf("test skipped: set %s (%s) to run it", name, howToSet[name])
	}
	return v, nil
}

// env returns the value of name; when it is unset it skips t, or with
// CI=true fails it.
func env(t testing.TB, name string) string {
	t.Helper()
	v, err := lookupEnv(name)
	if err != nil {
		if CI() {
			t.Fatalf("%v (CI=true: every suite must run)", err)
		}
		t.Skip(err.Error())
	}
	return v
}

// GaleraURLs returns the URLs of the Galera cluster's nodes
// (GLANCE_TEST_GALERA_URLS), node 1 first, or skips t (fails it under
// CI=true) when the variable is unset. The cluster is held for t (see
// Hold).
func GaleraURLs(t testing.TB) []string {
	t.Helper()
	raw := env(t, EnvGaleraURLs)
	var urls []string
	for _, u := range strings.Split(raw, ",") {
		if _, err := parseServerURL(MySQL, EnvGaleraURLs, u); err != nil {
			t.Fatalf("testdb: node %d: %v", len(urls)+1, err)
		}
		urls = append(urls, strings.TrimSpace(u))
	}
	if len(urls) < 2 {
		t.Fatalf("testdb: %s names %d node; a cluster has at least 2", EnvGaleraURLs, len(urls))
	}
	Hold(t, "galera", urls[0])
	return urls
}

// GaleraProxyURL returns the URL of HAProxy in front of the cluster
// (GLANCE_TEST_GALERA_PROXY_URL), or skips t (fails it under CI=true). The
// cluster is held for t.
func GaleraProxyURL(t testing.TB) string {
	t.Helper()
	v := env(t, EnvGaleraProxy)
	GaleraURLs(t)
	return v
}

// GaleraDir returns the cluster's directory (GLANCE_TEST_GALERA_DIR), or
// skips t (fails it under CI=true). The cluster is held for t.
func GaleraDir(t testing.TB) string {
	t.Helper()
	v := env(t, EnvGaleraDir)
	GaleraURLs(t)
	return v
}

// MySQLPrimaryURL returns GLANCE_TEST_MYSQL_PRIMARY_URL, the MariaDB primary
// with binary logging on, or skips t (fails it under CI=true). The pair is
// held for t.
func MySQLPrimaryURL(t testing.TB) string {
	t.Helper()
	v := env(t, EnvMySQLPrimary)
	MySQLReplicaURL(t)
	return v
}

// MySQLReplicaURL returns GLANCE_TEST_MYSQL_REPLICA_URL, the primary's
// asynchronous replica, or skips t (fails it under CI=true). The pair is
// held for t.
func MySQLReplicaURL(t testing.TB) string {
	t.Helper()
	v := env(t, EnvMySQLReplica)
	Hold(t, "mysql-replica", v)
	return v
}

// PostgresPrimaryURL returns GLANCE_TEST_POSTGRES_PRIMARY_URL, or skips t
// (fails it under CI=true). The pair is held for t.
func PostgresPrimaryURL(t testing.TB) string {
	t.Helper()
	v := env(t, EnvPostgresPrimary)
	PostgresStandbyURL(t)
	return v
}

// PostgresStandbyURL returns GLANCE_TEST_POSTGRES_STANDBY_URL, the primary's
// streaming standby, or skips t (fails it under CI=true). The pair is held
// for t.
func PostgresStandbyURL(t testing.TB) string {
	t.Helper()
	v := env(t, EnvPostgresStandby)
	Hold(t, "postgres-standby", v)
	return v
}

// A hold gives one private server (a cluster, a primary and its replica)
// to the tests of one process at a time: a test that kills a node or makes
// a replica lag would break another package's test using it at the same
// moment (go test runs packages in parallel). Holds nest: the tests of one
// process share theirs (tests that disturb a server must not run with
// t.Parallel), and the server is free for other processes once the last
// of them has ended.
type hold struct {
	mu sync.Mutex
	n  int
	f  *os.File
}

var (
	holdsMu sync.Mutex
	holds   = map[string]*hold{}
)

// Hold holds the private server of the given kind whose URL is url for t,
// waiting while a test in another process holds it, and releases it when t
// and the process's other holders of it have ended. The functions
// returning the servers' URLs call it; a test need not.
func Hold(t testing.TB, kind, url string) {
	t.Helper()
	sum := sha256.Sum256([]byte(url))
	key := kind + "-" + hex.EncodeToString(sum[:6])
	holdsMu.Lock()
	h := holds[key]
	if h == nil {
		h = &hold{}
		holds[key] = h
	}
	holdsMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		path := filepath.Join(os.TempDir(), "glance-manage-test-"+key+".lock")
		f, err := lockFile(path, func() {
			t.Logf("testdb: waiting for the %s server, held by a test in another process (%s)", kind, path)
		})
		if err != nil {
			t.Fatalf("testdb: holding the %s server: %v", kind, err)
		}
		h.f = f
	}
	h.n++
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.n--
		if h.n == 0 {
			h.f.Close() // releases the lock
			h.f = nil
		}
	})
}

// repoFile returns the path of rel, relative to the repository's root
// (found from this file's place in the source tree).
func repoFile(rel string) (string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("testdb: cannot find the source tree")
	}
	p := filepath.Join(filepath.Dir(self), "..", "..", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("testdb: %w", err)
	}
	return p, nil
}

// runScript runs the repository's script rel with args and returns its
// standard output; a failure carries its standard error.
func runScript(ctx context.Context, rel string, args ...string) (string, error) {
	p, err := repoFile(rel)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "bash", append([]string{p}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s%s", rel, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}
