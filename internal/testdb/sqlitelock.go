package testdb

import (
	"bufio"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// HoldSQLiteWriteLock starts the sqlite3 command-line shell (Debian
// package sqlite3) on the database file path and has it begin a write
// transaction (BEGIN IMMEDIATE), which takes the file's write lock, as
// an operator's forgotten shell would. It returns the shell's pid and a
// function that rolls the transaction back and ends the shell (also run
// at cleanup). Without sqlite3 the test is skipped, or fails under CI.
func HoldSQLiteWriteLock(t testing.TB, path string) (pid int, release func()) {
	t.Helper()
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		if CI() {
			t.Fatalf("sqlite3 not found (install the Debian package sqlite3): %v", err)
		}
		t.Skipf("sqlite3 not found (install the Debian package sqlite3): %v", err)
	}
	cmd := exec.Command(bin, "-batch", path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(in, "BEGIN IMMEDIATE;\nSELECT 'locked';\n"); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "locked" {
				ready <- true
				break
			}
		}
		close(ready)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("sqlite3 could not lock %s: %s", path, errb.String())
		}
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("sqlite3 did not lock %s: %s", path, errb.String())
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		_, _ = io.WriteString(in, "ROLLBACK;\n.quit\n")
		in.Close()
		_ = cmd.Wait()
	}
	t.Cleanup(release)
	return cmd.Process.Pid, release
}
