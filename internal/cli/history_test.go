package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/glance-manage/glance-manage/internal/testdb"
)

func TestHistory(t *testing.T) {
	db := testdb.New(t, testdb.SQLite)
	mustCLI(t, db.URL, "db", "upgrade", "ocata_expand01")
	before := snapshotOf(t, db)
	out := mustCLI(t, db.URL, "db", "history")
	for _, want := range []string{
		"Current alembic_version row(s): ocata_expand01\n",
		"\nbase branch (head mitaka02)\n",
		"\nexpand branch (head 2024_1_expand01)\n",
		"\ncontract branch (head 2024_1_contract01)\n",
		"[x] ocata_expand01 *",
		"[ ] pike_expand01 ",
		"[ ] ocata_contract01 ",
		"remove is_public from images (depends on ocata_expand01; declares label ocata01, contract)",
		"ocata_migrate01_community_images  ocata  after ocata_expand01, before ocata_contract01  pending: 0 row(s)",
		"not yet: needs train_expand01",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("db history lacks %q:\n%s", want, out)
		}
	}
	if snapshotOf(t, db) != before {
		t.Error("db history changed the database")
	}

	var h struct {
		Connected bool     `json:"connected"`
		Rows      []string `json:"current_rows"`
		Branches  []struct {
			Name      string `json:"name"`
			Head      string `json:"head"`
			Revisions []struct {
				ID      string   `json:"id"`
				Release string   `json:"release"`
				Applied *bool    `json:"applied"`
				Labels  []string `json:"labels"`
			} `json:"revisions"`
		} `json:"branches"`
		Data []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"data_migrations"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, db.URL, "db", "history", "--format", "json")), &h); err != nil {
		t.Fatal(err)
	}
	if !h.Connected || strings.Join(h.Rows, ",") != "ocata_expand01" || len(h.Branches) != 3 {
		t.Fatalf("history json: %+v", h)
	}
	n := 0
	for _, b := range h.Branches {
		for _, r := range b.Revisions {
			n++
			if r.Release == "" || r.Applied == nil {
				t.Errorf("%s: release %q, applied %v", r.ID, r.Release, r.Applied)
			}
		}
	}
	if n != 29 {
		t.Errorf("history lists %d revisions, want 29", n)
	}
	if h.Data[0].State != "pending" || h.Data[1].State != "waiting" {
		t.Errorf("data migration states: %+v", h.Data)
	}

	// --no-connect needs no database at all.
	out = mustCLI(t, "mysql+pymysql://glance:s3cret@db.invalid/glance", "db", "history", "--no-connect")
	if strings.Contains(out, "[x]") || strings.Contains(out, "[ ]") || !strings.Contains(out, "  2024_1_contract01  ") {
		t.Errorf("history --no-connect:\n%s", out)
	}
}

// TestStatusJSONLockHolder: the JSON status has a lock_holder field
// (null when nobody holds the migration lock), beside the pending
// revisions per phase and the data-migration rows.
func TestStatusJSONLockHolder(t *testing.T) {
	db := testdb.New(t, testdb.SQLite)
	mustCLI(t, db.URL, "db", "expand")
	out, _, code := runCLI(t, db.URL, "db", "check", "--format", "json")
	if code != 5 {
		t.Errorf("check after expand: exit %d, want 5", code)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"lock_holder", "expand", "contract", "data_pending", "data_rows", "heads"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status JSON lacks %q: %s", k, out)
		}
	}
	if st["lock_holder"] != nil {
		t.Errorf("lock_holder = %v with nobody holding the lock", st["lock_holder"])
	}
}
