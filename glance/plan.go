package glance

import "context"

// PlanRows returns the version-table rows an upgrade of the database
// starts from, worked out without changing anything (Heads and
// PlaceUnderControl write): the rows as read, with the revision ids Heads
// renames (pike01, ocata01) renamed in memory, or, for a database at a
// legacy sqlalchemy-migrate version (42-45), the rows PlaceUnderControl
// would stamp. The rows are checked against the graph (CheckedHeads's
// errors); an empty database has none. Legacy is the legacy version
// found (0: none).
func (m *Manager) PlanRows(ctx context.Context) (rows []string, legacy int, err error) {
	rows, err = m.Migrator.Heads(ctx)
	if err != nil {
		return nil, 0, err
	}
	if len(rows) == 0 {
		p, ids, err := m.placement(ctx)
		if err != nil {
			return nil, p.LegacyVersion, err
		}
		return m.Graph().Minimal(ids), p.LegacyVersion, nil
	}
	rename := ""
	for _, r := range rows {
		if r == "pike01" {
			rename = r
		} else if r == "ocata01" && rename == "" {
			rename = r
		}
	}
	if rename != "" {
		out := make([]string, 0, len(rows))
		for _, r := range rows {
			if r == rename {
				r = rename[:len(rename)-2] + "_contract01"
			}
			out = append(out, r)
		}
		rows = out
	}
	return rows, 0, m.Graph().CheckRows(rows)
}
