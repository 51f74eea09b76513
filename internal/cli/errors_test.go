package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
)

// A contract revision that finds rows without the new data right before
// dropping the old gets one line saying what to do, however the engine
// wrapped the error.
func TestFailPrecondition(t *testing.T) {
	pe := &migrate.PreconditionError{Revision: "ocata_contract01", Check: "every image has a visibility",
		Table: "images", Where: "visibility IS NULL", Rows: 3}
	for _, err := range []error{pe, fmt.Errorf("contract: %w", pe)} {
		ee := failExit(t, err)
		want := "ERROR: ocata_contract01 refused and changed nothing: 3 row(s) of images still lack the new data (visibility IS NULL). " +
			"Stop every service of the previous release, run `glance-manage db migrate`, then run `glance-manage db contract` again."
		if ee.code != exitError || ee.msg != want {
			t.Errorf("fail(%v) = %d %q\nwant %d %q", err, ee.code, ee.msg, exitError, want)
		}
		if strings.Contains(ee.msg, "\n") {
			t.Errorf("message spans lines: %q", ee.msg)
		}
	}
}

// failExit returns the exit error the CLI makes of err.
func failExit(t *testing.T, err error) *exitErr {
	t.Helper()
	var ee *exitErr
	if !errors.As((&app{}).fail(err), &ee) {
		t.Fatalf("fail(%v) is not an exit error", err)
	}
	return ee
}

// A shadow copy that did not match its table says that nothing changed
// for the services and what to run next.
func TestFailShadowMismatch(t *testing.T) {
	err := &migrate.StepError{Revision: "ocata_contract01", Op: "alter column images.visibility",
		Err: fmt.Errorf("%w: images has 3 rows (checksum 10), _images_new 3 (checksum 11)", migrate.ErrShadowMismatch)}
	ee := failExit(t, err)
	want := "ERROR: revision ocata_contract01 failed to alter column images.visibility: migrate: the shadow copy differs from its table: images has 3 rows (checksum 10), _images_new 3 (checksum 11). " +
		"Nothing was swapped and services were not affected. Run the same command again to copy the table afresh, or add --in-place-rebuild to rebuild it in place instead."
	if ee.code != exitError || ee.msg != want {
		t.Errorf("fail = %d %q\nwant %d %q", ee.code, ee.msg, exitError, want)
	}
}

// Retries of a revision or of a data-migration batch are logged as one
// line each: for a revision, the statement, the lock it waited for, the
// attempt about to run, the backoff and the bound (--ddl-wait); for a
// batch, what failed, the attempt and the backoff.
func TestObserverLogsRetries(t *testing.T) {
	var buf bytes.Buffer
	a := &app{errw: &buf}
	obs := a.observer()
	rev := &migrate.Revision{ID: "ocata_contract01", Down: "mitaka02"}
	for _, e := range []migrate.Event{
		{Kind: migrate.Retry, Revision: rev, Err: errors.New("Error 1205 (HY000): Lock wait timeout exceeded;\ntry restarting transaction"), Wait: 312345 * time.Microsecond, Attempt: 1,
			SQL: "ALTER TABLE images DROP COLUMN is_public, ALGORITHM=INPLACE, LOCK=NONE", Table: "images", WaitedFor: "a metadata lock",
			Tried: 1234 * time.Millisecond, Limit: 2 * time.Minute},
		{Kind: migrate.Retry, Revision: rev, Err: errors.New("deadlock detected"), Wait: 40 * time.Millisecond, Attempt: 2,
			SQL: "CREATE INDEX CONCURRENTLY visibility_image_idx ON images (visibility)", Table: "images", WaitedFor: "a deadlock",
			Tried: 2 * time.Second, Limit: 3 * time.Second},
		{Kind: migrate.Retry, SQL: "ocata_migrate01_community_images", Err: errors.New("deadlock detected"), Wait: 50 * time.Millisecond, Attempt: 3},
	} {
		if err := obs(e); err != nil {
			t.Fatal(err)
		}
	}
	want := "WARNING: revision ocata_contract01: ALTER TABLE images could not get a metadata lock on images in time (another session holds one): attempt 2 in 312ms; trying for at most 2m0s (--ddl-wait), 1.2s so far.\n" +
		"WARNING: revision ocata_contract01: CREATE INDEX visibility_image_idx ran into a deadlock with another session: attempt 3 in 40ms; trying for at most 3s (--ddl-wait), 2s so far.\n" +
		"INFO  [glance-manage] data migration ocata_migrate01_community_images failed: deadlock detected; attempt 4 in 50ms\n"
	if buf.String() != want {
		t.Errorf("logged:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// A revision that failed says what it left, per backend and per how it
// ran: rolled back where it was one transaction, kept and skipped by the
// next run where it was several (every DDL statement on MySQL/MariaDB; a
// PostgreSQL revision with a statement outside its transaction). Before,
// every backend got "Nothing after the last completed revision was kept
// where the database allows it".
func TestFailStepSaysWhatWasKept(t *testing.T) {
	cases := []struct {
		backend   testdb.Backend
		resumable bool
		want      string
	}{
		{testdb.SQLite, false, "The transaction of ocata_contract01 was rolled back: the database is at revision(s) 2024_1_expand01, as before it."},
		{testdb.PostgreSQL, false, "The transaction of ocata_contract01 was rolled back: the database is at revision(s) 2024_1_expand01, as before it."},
		{testdb.PostgreSQL, true, "ocata_contract01 runs in several transactions here (an index built concurrently, a NOT NULL checked outside the transaction): those that committed are kept, the database is at revision(s) 2024_1_expand01, and the next run skips what is done."},
		{testdb.MySQL, true, "On MySQL/MariaDB every DDL statement commits at once: what ocata_contract01 did before that statement is kept (columns, indexes, triggers, a shadow copy of a table), the database is at revision(s) 2024_1_expand01, and the next run skips what is done."},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/resumable=%v", c.backend, c.resumable), func(t *testing.T) {
			db := testdb.New(t, c.backend)
			var out, errb bytes.Buffer
			env := Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
				if k == "OS_DATABASE__CONNECTION" {
					return db.URL
				}
				return ""
			}}
			if code := Run(context.Background(), []string{"db", "upgrade", "expand@head"}, env); code != 0 {
				t.Fatalf("upgrade: exit %d\n%s", code, errb.String())
			}
			a := &app{env: env, out: &out, errw: &errb, command: "db contract"}
			s, err := a.open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var ee *exitErr
			if !errors.As(a.fail(&migrate.StepError{Revision: "ocata_contract01", Op: "drop column images.is_public", Err: errors.New("boom"), Resumable: c.resumable}), &ee) {
				t.Fatal("not an exit error")
			}
			want := "ERROR: revision ocata_contract01 failed to drop column images.is_public: boom. " + c.want + " Fix the cause and run `glance-manage db contract` again."
			if ee.msg != want {
				t.Errorf("got  %s\nwant %s", ee.msg, want)
			}
		})
	}
}
