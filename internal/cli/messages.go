package cli

// Messages scripts parse, word for word as upstream prints them (typos,
// backticks and trailing spaces included).
const (
	msgNoControl = `Database is either not under migration control or under legacy migration control, please run "glance-manage db sync" to place the database under alembic migration control.`

	msgUpToDate      = "Database is up to date. No migrations needed."
	msgCheckUpToDate = "Database is up to date. No upgrades needed."
	msgCheckExpand   = "Your database is not up to date. Your first step is to run `glance-manage db expand`."
	msgCheckMigrate  = "Your database is not up to date. Your next step is to run `glance-manage db migrate`."
	msgCheckContract = "Your database is not up to date. Your next step is to run `glance-manage db contract`."
	// msgUnfinishedCopy is logged by db check for each table a stopped
	// expand or contract left half copied into a shadow table (MariaDB).
	msgUnfinishedCopy    = "WARNING: an earlier `glance-manage db expand` or `db contract` stopped while copying table %s into a shadow table; run that command again to finish (services keep working meanwhile)."
	msgExpandUpToDate    = "Database expansion is up to date. No expansion needed."
	msgMigrateUpToDate   = "Database migration is up to date. No migration needed."
	msgSynced            = "Database is synced successfully."
	msgExpandNoHead      = "Database expansion failed. Couldn't find head revision of expand branch."
	msgContractNoHead    = "Database contraction failed. Couldn't find head revision of contract branch."
	msgMigrateNoExpand   = `Data migration did not run. Data migration cannot be run before database expansion. Run database expansion first using "glance-manage db expand"`
	msgContractNoExpand  = `Database contraction did not run. Database contraction cannot be run before database expansion. Run database expansion first using "glance-manage db expand"`
	msgContractNeedsData = `Database contraction did not run. Database contraction cannot be run before data migration is complete. Run data migration using "glance-manage db migrate".`
	// Both take the expected head and the Python rendering of the heads.
	msgExpandFailed   = `Database expansion failed. Database expansion should have brought the database version up to "%s" revision. But, current revisions are: %s `
	msgContractFailed = `Database contraction failed. Database contraction should have brought the database version up to "%s" revision. But, current revisions are: %s `

	msgUpgradedTo = "Upgraded database to: %s, current revision(s): %s"
	msgUpgraded   = "Upgraded database, current revision(s): %s"
	msgPlaced     = "Placed database under migration control at revision: %s"
	msgMigrated   = "Migrated %d rows"

	msgLegacyNotControlled = "Database is currently not under Alembic's migration control."
	msgLegacyPlacing       = "Placing database under Alembic's migration control at revision: %s"
	msgLegacyHead          = "Legacy head:  %d"
	msgLegacyTooOld        = "The current database version is not supported any more. Please upgrade to Liberty release first."
	msgLegacyUnknown       = "Unable to place database under Alembic's migration control. Unknown database state, can't proceed further."
)

// Exit codes of `db check`, as upstream.
const (
	exitOK           = 0
	exitError        = 1
	exitUsage        = 2
	exitNeedExpand   = 3
	exitNeedMigrate  = 4
	exitNeedContract = 5
	// exitPreflight: `db preflight` found a blocker, or a command
	// refused to start because of one (ours; upstream has no such check).
	exitPreflight = 6
)

// dbActions is the listing `glance-manage db` prints without an action:
// each action and the first line of its description, alphabetically.
var dbActions = [][2]string{
	{"check", "Report any pending database upgrades."},
	{"contract", "Run the contraction phase of a database migration."},
	{"expand", "Run the expansion phase of a database migration."},
	{"export_metadefs", "Export metadefinitions data from database to files"},
	{"load_metadefs", "Load metadefinition json files to database"},
	{"migrate", "Run the data migration phase of a database migration."},
	{"purge", "Purge deleted rows older than a given age from glance tables."},
	{"purge_images_table", "Purge deleted rows older than a given age from images table."},
	{"sync", "Perform a complete (offline) database migration"},
	{"unload_metadefs", "Unload metadefinitions from database"},
	{"upgrade", "Upgrade the database's migration level"},
	{"version", "Print database's current migration level"},
	{"version_control", "Place a database under migration control"},
}

func describe(action string) string {
	for _, a := range dbActions {
		if a[0] == action {
			return a[1]
		}
	}
	return ""
}
