package testdb

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Tests of permissions (an unreadable file, a read-only directory) mean
// nothing as root, who reads and writes anything, and CI runs as root.
// These helpers run such a test's program as the unprivileged user nobody
// (with setpriv, from util-linux) when the tests run as root, so that the
// test runs everywhere instead of skipping.

// EnvUnprivileged marks a test binary run again by ReexecUnprivileged.
const EnvUnprivileged = "GLANCE_TEST_UNPRIVILEGED"

// Unprivileged returns the command prefix that runs a program as nobody
// when the tests run as root, and nil otherwise (the program runs as the
// user running the tests, who is not privileged). The program and its
// files must be where nobody can reach them (see Reachable).
func Unprivileged(t testing.TB) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	p, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("running as root, and setpriv (util-linux) is not installed to run this test as nobody: %v", err)
	}
	return []string{p, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"}
}

// Reachable makes the directories from the system's temporary directory
// down to path (a file or directory under it, such as one in t.TempDir())
// searchable and readable by every user, so that an unprivileged user can
// reach path. It changes nothing outside the temporary directory.
func Reachable(t testing.TB, path string) {
	t.Helper()
	root := filepath.Clean(os.TempDir())
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		abs = filepath.Dir(abs) // a file, or one yet to be made
	}
	for d := abs; strings.HasPrefix(d, root+string(filepath.Separator)); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// ReexecUnprivileged makes the calling test run as an unprivileged user.
// Run as root, it runs the test again, alone, in a copy of the test
// binary as nobody, fails the test if that run fails, and returns true:
// the caller then returns. Otherwise (not root, or in that run) it
// returns false and the test goes on.
func ReexecUnprivileged(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 || os.Getenv(EnvUnprivileged) != "" {
		return false
	}
	prefix := Unprivileged(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "test.bin")
	if err := copyFile(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp") // nobody's temporary files
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	Reachable(t, bin)
	args := append(prefix[1:], bin, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd := exec.Command(prefix[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), EnvUnprivileged+"=1", "HOME="+dir, "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	t.Logf("ran as nobody:\n%s", out)
	return true
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
