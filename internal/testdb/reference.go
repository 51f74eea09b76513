package testdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ReferenceTimeout bounds one run of the reference tool.
const ReferenceTimeout = 10 * time.Minute

// ErrNoReference is returned by FindReference when no upstream glance-manage
// is found.
var ErrNoReference = errors.New("reference glance-manage (the upstream Python tool) not found in PATH: install python3-glance or set " + EnvReference + " to its path")

var (
	refOnce sync.Once
	refPath string
	refErr  error
)

// FindReference returns the path of the upstream (Python) glance-manage: the
// value of GLANCE_REFERENCE_BIN if set, otherwise the first glance-manage in
// PATH that is a Python script. Our own Go binary has the same name; it is
// never chosen.
func FindReference() (string, error) {
	refOnce.Do(func() { refPath, refErr = findReference() })
	return refPath, refErr
}

func findReference() (string, error) {
	if p := os.Getenv(EnvReference); p != "" {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvReference, p, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s=%s is not an executable file", EnvReference, p)
		}
		return p, nil
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "glance-manage")
		if isPythonScript(p) {
			return p, nil
		}
	}
	return "", ErrNoReference
}

// isPythonScript reports whether p is an executable file whose first line is
// a #! line naming python.
func isPythonScript(p string) bool {
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if !bytes.HasPrefix(head, []byte("#!")) {
		return false
	}
	line, _, _ := bytes.Cut(head, []byte("\n"))
	return bytes.Contains(line, []byte("python"))
}

// Reference returns the path of the upstream glance-manage, skipping the test
// (failing it with CI=true) if there is none.
func Reference(t testing.TB) string {
	t.Helper()
	p, err := FindReference()
	if err != nil {
		if CI() {
			t.Fatalf("%v (CI=true: reference tests must run)", err)
		}
		t.Skipf("reference tests skipped: %v", err)
	}
	return p
}

// WriteConfig writes a glance-manage configuration file in dir whose
// [database] connection is dbURL, and returns its path.
func WriteConfig(dir, dbURL string) (string, error) {
	// oslo.config substitutes $name in values; $$ is a literal $.
	v := strings.ReplaceAll(dbURL, "$", "$$")
	f, err := os.CreateTemp(dir, "glance-manage-*.conf")
	if err != nil {
		return "", err
	}
	_, err = fmt.Fprintf(f, "[database]\nconnection = %s\n", v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), err
}

// ExecReference runs `<bin> --config-file <f> <args...>`, where f is a
// configuration file written to dir with [database] connection = dbURL. It
// returns the exit status; err is set only when the tool could not be run.
func ExecReference(ctx context.Context, bin, dir, dbURL string, args ...string) (stdout, stderr string, exit int, err error) {
	conf, err := WriteConfig(dir, dbURL)
	if err != nil {
		return "", "", -1, err
	}
	defer os.Remove(conf)
	ctx, cancel := context.WithTimeout(ctx, ReferenceTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--config-file", conf}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0, nil
	case ctx.Err() != nil:
		return out.String(), errb.String(), -1, fmt.Errorf("%s %s: %w", bin, strings.Join(args, " "), ctx.Err())
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode(), nil
	}
	return out.String(), errb.String(), -1, err
}

// RunReference runs the upstream glance-manage against dbURL: it writes a
// temporary configuration file with [database] connection = dbURL and runs
// `<ref> --config-file <f> <args...>`. It skips like Reference when there is
// no reference tool and fails the test if the tool cannot be started.
func RunReference(t testing.TB, dbURL string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	bin := Reference(t)
	stdout, stderr, exit, err := ExecReference(context.Background(), bin, t.TempDir(), dbURL, args...)
	if err != nil {
		t.Fatalf("running reference glance-manage: %v\nstderr:\n%s", err, stderr)
	}
	return stdout, stderr, exit
}
