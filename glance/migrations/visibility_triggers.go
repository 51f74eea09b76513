package migrations

import s "github.com/glance-manage/glance-manage/migrate/schema"

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

// visibilityTriggers returns the operations that install the triggers on
// dialect (none where there are none yet).
func visibilityTriggers(dialect string) []s.Op {
	switch dialect {
	case "mysql":
		return []s.Op{
			s.CreateTrigger{Name: "insert_visibility", Table: "images", SQL: []string{mysqlInsertVisibility}},
			s.CreateTrigger{Name: "update_visibility", Table: "images", SQL: []string{mysqlUpdateVisibility}},
		}
	}
	return nil
}

// dropVisibilityTriggers removes them wherever they may be.
func dropVisibilityTriggers(dialect string) []s.Op {
	switch dialect {
	case "mysql":
		return []s.Op{
			s.DropTrigger{Name: "insert_visibility", Table: "images"},
			s.DropTrigger{Name: "update_visibility", Table: "images"},
		}
	}
	return nil
}
