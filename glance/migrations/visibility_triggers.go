package migrations

import (
	"github.com/glance-manage/glance-manage/migrate/dialect"
	s "github.com/glance-manage/glance-manage/migrate/schema"
)

// The visibility triggers keep images.is_public (written by pre-Ocata
// services) and images.visibility (written by newer ones) in step between
// ocata_expand01 and ocata_contract01, following upstream's decision
// tables:
//
// INSERT: both NULL or both set: error; is_public set: visibility becomes
// 'public' for 1, else 'shared'; visibility set: is_public becomes 1 for
// 'public', else 0.
//
// UPDATE: is_public changed: error if it became NULL or visibility changed
// too, else visibility follows it; visibility changed: error if it became
// NULL, else is_public follows it; neither changed: nothing.
//
// Errors are SQLSTATE 45000 'Invalid visibility value' (MySQL error 1644).

const visibilityError = "Invalid visibility value"

var mysqlInsertVisibility = `CREATE TRIGGER insert_visibility BEFORE INSERT ON images
FOR EACH ROW
BEGIN
    IF NEW.is_public IS NULL AND NEW.visibility IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '` + visibilityError + `';
    ELSEIF NEW.is_public IS NOT NULL AND NEW.visibility IS NOT NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '` + visibilityError + `';
    ELSEIF NEW.is_public IS NOT NULL THEN
        SET NEW.visibility = IF(NEW.is_public = 1, 'public', 'shared');
    ELSE
        SET NEW.is_public = IF(NEW.visibility = 'public', 1, 0);
    END IF;
END`

var mysqlUpdateVisibility = `CREATE TRIGGER update_visibility BEFORE UPDATE ON images
FOR EACH ROW
BEGIN
    IF NOT (NEW.is_public <=> OLD.is_public) THEN
        IF NEW.is_public IS NULL OR NOT (NEW.visibility <=> OLD.visibility) THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '` + visibilityError + `';
        END IF;
        SET NEW.visibility = IF(NEW.is_public <=> 1, 'public', 'shared');
    ELSEIF NOT (NEW.visibility <=> OLD.visibility) THEN
        IF NEW.visibility IS NULL THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '` + visibilityError + `';
        END IF;
        SET NEW.is_public = IF(NEW.visibility <=> 'public', 1, 0);
    END IF;
END`

// PostgreSQL: BEFORE triggers calling PL/pgSQL functions with the same
// decision tables.
var pgInsertVisibility = `CREATE FUNCTION images_insert_visibility() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF (NEW.is_public IS NULL) = (NEW.visibility IS NULL) THEN
        RAISE EXCEPTION '` + visibilityError + `';
    ELSIF NEW.is_public IS NOT NULL THEN
        NEW.visibility := CASE WHEN NEW.is_public THEN 'public'::image_visibility ELSE 'shared'::image_visibility END;
    ELSE
        NEW.is_public := NEW.visibility = 'public';
    END IF;
    RETURN NEW;
END
$fn$`

var pgUpdateVisibility = `CREATE FUNCTION images_update_visibility() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.is_public IS DISTINCT FROM OLD.is_public THEN
        IF NEW.is_public IS NULL OR NEW.visibility IS DISTINCT FROM OLD.visibility THEN
            RAISE EXCEPTION '` + visibilityError + `';
        END IF;
        NEW.visibility := CASE WHEN NEW.is_public THEN 'public'::image_visibility ELSE 'shared'::image_visibility END;
    ELSIF NEW.visibility IS DISTINCT FROM OLD.visibility THEN
        IF NEW.visibility IS NULL THEN
            RAISE EXCEPTION '` + visibilityError + `';
        END IF;
        NEW.is_public := NEW.visibility = 'public';
    END IF;
    RETURN NEW;
END
$fn$`

// SQLite cannot assign NEW in a trigger: AFTER triggers check the row and
// then fill in the other column with an UPDATE. The insert trigger's
// UPDATE fires the update trigger, which therefore only rewrites
// visibility when is_public and visibility disagree (the insert trigger
// leaves them agreeing); SQLite does not fire a trigger from itself.
var sqliteInsertVisibility = `CREATE TRIGGER insert_visibility AFTER INSERT ON images
FOR EACH ROW
BEGIN
    SELECT RAISE(ABORT, '` + visibilityError + `') WHERE (NEW.is_public IS NULL) = (NEW.visibility IS NULL);
    UPDATE images SET visibility = CASE WHEN NEW.is_public THEN 'public' ELSE 'shared' END
        WHERE id = NEW.id AND NEW.visibility IS NULL;
    UPDATE images SET is_public = (NEW.visibility = 'public')
        WHERE id = NEW.id AND NEW.is_public IS NULL;
END`

var sqliteUpdateVisibility = `CREATE TRIGGER update_visibility AFTER UPDATE OF is_public, visibility ON images
FOR EACH ROW
BEGIN
    SELECT RAISE(ABORT, '` + visibilityError + `')
        WHERE (NEW.is_public IS NOT OLD.is_public AND (NEW.is_public IS NULL OR NEW.visibility IS NOT OLD.visibility))
           OR (NEW.is_public IS OLD.is_public AND NEW.visibility IS NOT OLD.visibility AND NEW.visibility IS NULL);
    UPDATE images SET visibility = CASE WHEN NEW.is_public THEN 'public' ELSE 'shared' END
        WHERE id = NEW.id AND NEW.is_public IS NOT OLD.is_public
          AND (NEW.is_public = 1) IS NOT (NEW.visibility = 'public');
    UPDATE images SET is_public = (NEW.visibility = 'public')
        WHERE id = NEW.id AND NEW.is_public IS OLD.is_public AND NEW.visibility IS NOT OLD.visibility;
END`

// visibilityTriggerSQL is each backend's spelling of the two triggers
// (create) and what, beyond the triggers, dropping them removes (drop).
// Upstream installs them on MySQL only (and not for mariadb:// URLs);
// here every backend gets them, so rolling upgrades work on all. A
// backend missing here gets no triggers.
var visibilityTriggerSQL = map[dialect.Backend]struct{ create, drop []s.Op }{
	dialect.MySQL: {create: []s.Op{
		s.CreateTrigger{Name: "insert_visibility", Table: "images", SQL: []string{mysqlInsertVisibility}},
		s.CreateTrigger{Name: "update_visibility", Table: "images", SQL: []string{mysqlUpdateVisibility}},
	}},
	dialect.PostgreSQL: {create: []s.Op{
		s.CreateTrigger{Name: "insert_visibility", Table: "images", SQL: []string{
			"DROP FUNCTION IF EXISTS images_insert_visibility()", pgInsertVisibility,
			"CREATE TRIGGER insert_visibility BEFORE INSERT ON images FOR EACH ROW EXECUTE FUNCTION images_insert_visibility()"}},
		s.CreateTrigger{Name: "update_visibility", Table: "images", SQL: []string{
			"DROP FUNCTION IF EXISTS images_update_visibility()", pgUpdateVisibility,
			"CREATE TRIGGER update_visibility BEFORE UPDATE ON images FOR EACH ROW EXECUTE FUNCTION images_update_visibility()"}},
	}, drop: []s.Op{
		s.Exec{Desc: "drop the visibility trigger functions", SQL: []string{
			"DROP FUNCTION IF EXISTS images_insert_visibility()",
			"DROP FUNCTION IF EXISTS images_update_visibility()",
		}, Skippable: true}, // IF EXISTS, and a build from scratch makes no functions
	}},
	dialect.SQLite: {create: []s.Op{
		s.CreateTrigger{Name: "insert_visibility", Table: "images", SQL: []string{sqliteInsertVisibility}},
		s.CreateTrigger{Name: "update_visibility", Table: "images", SQL: []string{sqliteUpdateVisibility}},
	}},
}

// visibilityTriggers returns the operations that install the triggers on
// backend b.
func visibilityTriggers(b dialect.Backend) []s.Op {
	return visibilityTriggerSQL[b].create
}

// dropVisibilityTriggers removes them wherever they may be (a no-op when
// the expand ran offline).
func dropVisibilityTriggers(b dialect.Backend) []s.Op {
	ops := []s.Op{
		s.DropTrigger{Name: "insert_visibility", Table: "images"},
		s.DropTrigger{Name: "update_visibility", Table: "images"},
	}
	return append(ops, visibilityTriggerSQL[b].drop...)
}
