package glance_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/internal/snapshot"
	"github.com/glance-manage/glance-manage/internal/testdb"
	"github.com/glance-manage/glance-manage/migrate"
	"github.com/glance-manage/glance-manage/migrate/dialect"
)

// Shadow copies on MariaDB: an online change of column that InnoDB cannot
// make instantly (ocata_expand01's is_public NULL, ocata_contract01's
// visibility NOT NULL) copies images into a shadow table and swaps it in,
// instead of rebuilding images in place (see migrate/shadow.go).

// seedImages brings m to mitaka02 and adds n images the way a pre-Ocata
// service wrote them, each with a property, a tag, a location and (every
// third) a member, in a few multi-row statements.
func seedImages(t *testing.T, m *glance.Manager, n int) {
	t.Helper()
	upgrade(t, m, "mitaka02", migrate.Options{})
	const now = "2016-05-01 10:00:00" // the same rows in every database
	var imgs, props, tags, locs, mems []string
	for i := range n {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(i)*2654435761, i) // scattered, as uuid4s are
		imgs = append(imgs, fmt.Sprintf("('%s', 'img%d', %d, 'active', %d, '%s', 0, 0, 0, 0)", id, i, i*10, i%2, now))
		props = append(props, fmt.Sprintf("('%s', 'p', 'v%d', '%s', 0)", id, i, now))
		tags = append(tags, fmt.Sprintf("('%s', 't%d', '%s', 0)", id, i, now))
		locs = append(locs, fmt.Sprintf("('%s', 'file:///%s', '{}', '%s', 0, 'active')", id, id, now))
		if i%3 == 0 {
			mems = append(mems, fmt.Sprintf("('%s', 'tenant%d', 0, '%s', 0, 'accepted')", id, i, now))
		}
	}
	for _, s := range []struct {
		head string
		rows []string
	}{
		{"INSERT INTO images (id, name, size, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES ", imgs},
		{"INSERT INTO image_properties (image_id, name, value, created_at, deleted) VALUES ", props},
		{"INSERT INTO image_tags (image_id, value, created_at, deleted) VALUES ", tags},
		{"INSERT INTO image_locations (image_id, value, meta_data, created_at, deleted, status) VALUES ", locs},
		{"INSERT INTO image_members (image_id, member, can_share, created_at, deleted, status) VALUES ", mems},
	} {
		if _, err := m.DB.Exec(s.head + strings.Join(s.rows, ", ")); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
}

// state is the whole database as text (schema, rows, alembic_version),
// without the migration lock's table.
func state(t *testing.T, m *glance.Manager) string {
	t.Helper()
	s, err := snapshot.Take(context.Background(), m.DB, m.Dialect.Name())
	if err != nil {
		t.Fatal(err)
	}
	return stripTable(s, glance.Naming.LockTable())
}

// copyObserver counts the shadow copy's steps.
type copyObserver struct {
	mu      sync.Mutex
	stmts   []string // statements of the copy (its tables and triggers)
	batches int      // copy batches started
}

func (c *copyObserver) observe(e migrate.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case e.Kind == migrate.DataBatch && e.SQL == migrate.ShadowCopyName("images"):
		c.batches++
	case e.Kind == migrate.Statement && (strings.Contains(e.SQL, "`_images_") || strings.Contains(e.SQL, "foreign_key_checks")):
		c.stmts = append(c.stmts, e.SQL)
	}
	return nil
}

// TestShadowCopyEqualsInPlace: expand, data migration and contract by
// shadow copies leave exactly the schema and rows of in-place rebuilds
// (foreign keys with their own names, checks, indexes, no shadow tables
// or triggers left), and the copy ran in several batches; so do the copy
// and the data migration on three connections (Options.Threads).
func TestShadowCopyEqualsInPlace(t *testing.T) {
	testdb.Require(t, testdb.MySQL)
	ctx := context.Background()
	var states [3][2]string
	for i, v := range []struct {
		inPlace bool
		threads int
	}{{true, 1}, {false, 1}, {false, 3}} {
		inPlace := v.inPlace
		m := manager(t, testdb.MySQL)
		m.DB.SetMaxOpenConns(8)
		seedImages(t, m, 1500)
		obs := &copyObserver{}
		m.Migrator.Observe = obs.observe
		o := migrate.Options{Online: true, InPlaceRebuild: inPlace, DataBatch: 100, Threads: v.threads}
		upgrade(t, m, "ocata_expand01", o)
		states[i][0] = state(t, m)
		if _, _, err := m.Migrator.RunData(ctx, -1, o); err != nil {
			t.Fatal(err)
		}
		upgrade(t, m, "ocata_contract01", o)
		states[i][1] = state(t, m)
		if inPlace {
			if len(obs.stmts) != 0 || obs.batches != 0 {
				t.Fatalf("in place: the run copied images (%d statements, %d batches)", len(obs.stmts), obs.batches)
			}
			continue
		}
		// 1500 rows in batches of 100: fifteen per copy, and the last.
		if obs.batches != 2*16 {
			t.Errorf("shadow: %d copy batches in expand and contract; want 16 each", obs.batches)
		}
		for _, want := range []string{"CREATE TABLE `_images_new` LIKE `images`", "RENAME TABLE `images` TO `_images_old`, `_images_new` TO `images`", "DROP TABLE IF EXISTS `_images_old`"} {
			if n := count(obs.stmts, want); n != 2 {
				t.Errorf("shadow: %q ran %d times; want once in expand and once in contract", want, n)
			}
		}
	}
	sameDump(t, "after expand, shadow copy against in place", states[1][0], states[0][0])
	sameDump(t, "after contract, shadow copy against in place", states[1][1], states[0][1])
	sameDump(t, "after expand, shadow copy on three connections against in place", states[2][0], states[0][0])
	sameDump(t, "after contract, shadow copy on three connections against in place", states[2][1], states[0][1])
	if regexp.MustCompile(`(^|[\s(])_image`).MatchString(states[1][1]) {
		t.Errorf("a shadow table, trigger or foreign key name is left:\n%s", states[1][1])
	}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestShadowCopyUnderWriters: old-release writers insert images with
// properties, change is_public and delete properties while expand copies
// images; afterwards every image has what its last writer wrote, no
// write failed, and no row of images or image_properties was lost.
// Both with one thread and with the copy on three connections.
func TestShadowCopyUnderWriters(t *testing.T) {
	testdb.Require(t, testdb.MySQL)
	for _, threads := range []int{1, 3} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) { shadowCopyUnderWriters(t, threads) })
	}
}

func shadowCopyUnderWriters(t *testing.T, threads int) {
	m := manager(t, testdb.MySQL)
	m.DB.SetMaxOpenConns(8)
	seedImages(t, m, 3000)
	ids, err := dialect.Strings(context.Background(), m.DB, "SELECT id FROM images ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	type result struct {
		public map[string]bool // last is_public written, per image
		props  int             // properties added minus deleted
		writes int
		err    error
	}
	results := make([]result, 3)
	var copying atomic.Bool // from the copy's first batch to the swap
	var during atomic.Int64 // writes that ended in that time
	var wg sync.WaitGroup
	for w := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[w]
			r.public = map[string]bool{}
			// Each writer owns every third seeded image, and the ones it creates.
			var mine []string
			for i := w; i < len(ids); i += 3 {
				mine = append(mine, ids[i])
			}
			for n := 0; ctx.Err() == nil && r.err == nil; n++ {
				now := time.Now().UTC()
				switch n % 3 {
				case 0:
					id := fmt.Sprintf("w%d-%06d", w, n)
					if _, r.err = m.DB.Exec("INSERT INTO images (id, name, status, is_public, created_at, deleted, min_disk, min_ram, protected) VALUES (?, ?, 'active', ?, ?, 0, 0, 0, 0)", id, id, n%2 == 0, now); r.err != nil {
						r.err = fmt.Errorf("insert image %s: %w", id, r.err)
						break
					}
					mine = append(mine, id)
					r.public[id] = n%2 == 0
					if _, r.err = m.DB.Exec("INSERT INTO image_properties (image_id, name, value, created_at, deleted) VALUES (?, 'k', 'v', ?, 0)", id, now); r.err != nil {
						r.err = fmt.Errorf("insert property of %s: %w", id, r.err)
						break
					}
					r.props++
				case 1:
					id := mine[rand.N(len(mine))]
					pub := rand.N(2) == 0
					if _, r.err = m.DB.Exec("UPDATE images SET is_public = ?, updated_at = ? WHERE id = ?", pub, now, id); r.err != nil {
						r.err = fmt.Errorf("update image %s: %w", id, r.err)
						break
					}
					r.public[id] = pub
				case 2:
					var res sql.Result
					res, r.err = m.DB.Exec("DELETE FROM image_properties WHERE image_id = ? LIMIT 1", mine[rand.N(len(mine))])
					if r.err != nil {
						r.err = fmt.Errorf("delete a property: %w", r.err)
					} else {
						k, _ := res.RowsAffected()
						r.props -= int(k)
					}
				}
				r.writes++
				if copying.Load() {
					during.Add(1)
				}
			}
		}()
	}
	obs := &copyObserver{}
	m.Migrator.Observe = func(e migrate.Event) error {
		switch {
		case e.Kind == migrate.DataBatch && e.SQL == migrate.ShadowCopyName("images"):
			copying.Store(true)
		case e.Kind == migrate.Statement && strings.HasPrefix(e.SQL, "RENAME TABLE"):
			copying.Store(false)
		}
		return obs.observe(e)
	}
	time.Sleep(200 * time.Millisecond)
	ids2, err := m.Graph().Resolve("ocata_expand01")
	if err != nil {
		t.Fatal(err)
	}
	_, uerr := m.Migrator.Upgrade(context.Background(), ids2, migrate.Options{Online: true, DataBatchTarget: time.Microsecond, Threads: threads})
	time.Sleep(200 * time.Millisecond)
	stop()
	wg.Wait()
	if uerr != nil {
		t.Fatalf("expand: %v", uerr)
	}
	if obs.batches < 10 {
		t.Fatalf("the copy ran in %d batches; want more than ten (writers between them)", obs.batches)
	}
	writes, props := 0, 3000
	for w, r := range results {
		if r.err != nil {
			t.Errorf("writer %d failed after %d writes: %v", w, r.writes, r.err)
		}
		writes += r.writes
		props += r.props
		for id, pub := range r.public {
			var got sql.NullBool
			if err := m.DB.QueryRow("SELECT is_public FROM images WHERE id = ?", id).Scan(&got); err != nil {
				t.Fatalf("image %s: %v", id, err)
			}
			if !got.Valid || got.Bool != pub {
				t.Errorf("image %s: is_public %v; its last writer wrote %v", id, got, pub)
			}
		}
	}
	t.Logf("%d writes during the expand, %d of them between the copy's first batch and the swap; %d copy batches", writes, during.Load(), obs.batches)
	if during.Load() == 0 {
		t.Fatal("no write ended while images was being copied")
	}
	var images, gotProps int
	if err := m.DB.QueryRow("SELECT (SELECT COUNT(*) FROM images), (SELECT COUNT(*) FROM image_properties)").Scan(&images, &gotProps); err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, r := range results {
		for id := range r.public {
			if strings.HasPrefix(id, "w") {
				created++
			}
		}
	}
	if images != 3000+created || gotProps != props {
		t.Errorf("images %d, properties %d; want %d and %d", images, gotProps, 3000+created, props)
	}
}

// TestShadowCopyInterrupted stops an online expand at points of its
// shadow copy (in the copy, before the foreign keys move, between them,
// right after the swap, before the old table goes) and runs it again,
// online or offline: the database must end exactly as after an
// uninterrupted run.
func TestShadowCopyInterrupted(t *testing.T) {
	testdb.Require(t, testdb.MySQL)
	ctx := context.Background()
	o := migrate.Options{Online: true, DataBatch: 100} // four batches
	fresh := func() *glance.Manager {
		m := manager(t, testdb.MySQL)
		seedImages(t, m, 400)
		return m
	}
	ref := fresh()
	obs := &copyObserver{}
	ref.Migrator.Observe = obs.observe
	upgrade(t, ref, "ocata_expand01", o)
	want := state(t, ref)
	offline := fresh()
	upgrade(t, offline, "ocata_expand01", migrate.Options{})
	wantOffline := state(t, offline)
	for _, c := range []struct {
		name    string
		at      func(e migrate.Event) bool
		offline bool
	}{
		{"in the copy", batchN(3), false},
		{"in the copy, offline after", batchN(3), true},
		{"before the foreign keys move", sqlHas("foreign_key_checks = 0", 1), false},
		{"between the foreign keys", sqlHas("REFERENCES `_images_new`", 3), false},
		{"between the foreign keys, offline after", sqlHas("REFERENCES `_images_new`", 3), true},
		{"before the swap", sqlHas("RENAME TABLE", 1), false},
		{"after the swap", sqlHas("REFERENCES `images`", 1), false},
		{"after the swap, offline after", sqlHas("REFERENCES `images`", 2), true},
		{"before the old table goes", sqlHas("DROP TABLE IF EXISTS `_images_old`", 1), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := fresh()
			m.Migrator.Observe = func(e migrate.Event) error {
				if c.at(e) {
					return migrate.ErrStopped
				}
				return nil
			}
			ids, err := m.Graph().Resolve("ocata_expand01")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Migrator.Upgrade(ctx, ids, o); !errors.Is(err, migrate.ErrStopped) {
				t.Fatalf("first run: %v; want it stopped", err)
			}
			m.Migrator.Observe = nil
			again := o
			if c.offline {
				again = migrate.Options{}
			}
			if _, err := m.Migrator.Upgrade(ctx, ids, again); err != nil {
				t.Fatalf("second run: %v", err)
			}
			got := state(t, m)
			if c.offline {
				// Offline, the revision installs no triggers and
				// alters in place what was not copied yet.
				sameDump(t, "resumed offline", got, wantOffline)
				return
			}
			sameDump(t, "resumed", got, want)
		})
	}
}

// batchN stops before the n-th batch of the copy.
func batchN(n int) func(migrate.Event) bool {
	seen := 0
	return func(e migrate.Event) bool {
		if e.Kind == migrate.DataBatch && e.SQL == migrate.ShadowCopyName("images") {
			seen++
		}
		return seen == n && e.Kind == migrate.DataBatch
	}
}

// sqlHas stops before the n-th statement containing s.
func sqlHas(s string, n int) func(migrate.Event) bool {
	seen := 0
	return func(e migrate.Event) bool {
		if e.Kind != migrate.Statement || !strings.Contains(e.SQL, s) {
			return false
		}
		seen++
		return seen == n
	}
}

// TestShadowCopyFinishMovesStrayForeignKey: a foreign key made on the old
// table after the swap (by hand, while the run was stopped) is moved to
// the table under its own name when the next run finishes, so that the
// old table can go.
func TestShadowCopyFinishMovesStrayForeignKey(t *testing.T) {
	testdb.Require(t, testdb.MySQL)
	ctx := context.Background()
	m := manager(t, testdb.MySQL)
	seedImages(t, m, 50)
	m.Migrator.Observe = func(e migrate.Event) error {
		if e.Kind == migrate.Statement && strings.Contains(e.SQL, "REFERENCES `images`") {
			return migrate.ErrStopped // right after the swap
		}
		return nil
	}
	ids, err := m.Graph().Resolve("ocata_expand01")
	if err != nil {
		t.Fatal(err)
	}
	o := migrate.Options{Online: true}
	if _, err := m.Migrator.Upgrade(ctx, ids, o); !errors.Is(err, migrate.ErrStopped) {
		t.Fatalf("first run: %v; want it stopped", err)
	}
	if _, err := m.DB.Exec("ALTER TABLE image_tags ADD CONSTRAINT stray_fk FOREIGN KEY (image_id) REFERENCES _images_old (id)"); err != nil {
		t.Fatal(err)
	}
	m.Migrator.Observe = nil
	if _, err := m.Migrator.Upgrade(ctx, ids, o); err != nil {
		t.Fatalf("second run: %v", err)
	}
	d := dumpOf(t, m)
	if !strings.Contains(d, "foreign key stray_fk (image_id) references images (id)") {
		t.Errorf("stray_fk was not moved to images:\n%s", d)
	}
	if regexp.MustCompile(`(^|[\s(])_image`).MatchString(d) {
		t.Errorf("the shadow copy left something behind:\n%s", d)
	}
}
