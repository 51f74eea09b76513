package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
// INFO line each: what failed, the attempt about to run, the backoff.
func TestObserverLogsRetries(t *testing.T) {
	var buf bytes.Buffer
	a := &app{errw: &buf}
	obs := a.observer()
	rev := &migrate.Revision{ID: "ocata_contract01", Down: "mitaka02"}
	for _, e := range []migrate.Event{
		{Kind: migrate.Retry, Revision: rev, Err: errors.New("Error 1205 (HY000): Lock wait timeout exceeded;\ntry restarting transaction"), Wait: 312345 * time.Microsecond, Attempt: 1},
		{Kind: migrate.Retry, SQL: "ocata_migrate01_community_images", Err: errors.New("deadlock detected"), Wait: 50 * time.Millisecond, Attempt: 3},
	} {
		if err := obs(e); err != nil {
			t.Fatal(err)
		}
	}
	want := "INFO  [glance-manage] revision ocata_contract01 failed: Error 1205 (HY000): Lock wait timeout exceeded; try restarting transaction; attempt 2 in 312ms\n" +
		"INFO  [glance-manage] data migration ocata_migrate01_community_images failed: deadlock detected; attempt 4 in 50ms\n"
	if buf.String() != want {
		t.Errorf("logged:\n%s\nwant:\n%s", buf.String(), want)
	}
}
