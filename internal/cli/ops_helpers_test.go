package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/glance-manage/glance-manage/internal/cli"
)

// opsRun runs glance-manage with a configuration file whose [database]
// connection is url and, when mdPath is set, [DEFAULT]
// metadata_source_path is mdPath. Nothing else comes from the environment.
func opsRun(t *testing.T, url, mdPath string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-manage.conf")
	text := fmt.Sprintf("[database]\nconnection = %s\n", url)
	if mdPath != "" {
		text = fmt.Sprintf("[DEFAULT]\nmetadata_source_path = %s\n", mdPath) + text
	}
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), append([]string{"--config-file", conf}, args...), cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "HOME" {
			return dir
		}
		return ""
	}})
	return out.String(), errb.String(), code
}

// opsMust runs opsRun and fails the test unless it exits 0.
func opsMust(t *testing.T, url, mdPath string, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, code := opsRun(t, url, mdPath, args...)
	if code != 0 {
		t.Fatalf("glance-manage %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
	}
	return out, errOut
}
