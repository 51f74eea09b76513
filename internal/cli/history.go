package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/glance-manage/glance-manage/glance"
	"github.com/glance-manage/glance-manage/migrate"
)

func (a *app) historyCommand() (cmd, legacy *cobra.Command) {
	var format string
	var noConnect bool
	c := &cobra.Command{
		Use:   "history",
		Short: "List the revisions, per branch, with their release and what is applied",
		Long: "List every revision of the migration graph, per branch (base, expand, contract), in the order an upgrade " +
			"applies them, with the release it belongs to, its message, its dependencies and labels, and whether the " +
			"database has it; then the data migrations and where they stand. Revision ids and labels shown here are what " +
			"upgrade, sync and version_control accept. --no-connect lists the graph without reading the database.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return exit(exitUsage, "glance-manage: error: --format must be text or json, not %q", format)
			}
			if noConnect {
				mgr, err := glance.New(nil, "sqlite")
				if err != nil {
					return exit(exitError, "ERROR: %v", err)
				}
				return a.history(cmd.Context(), nil, mgr, format)
			}
			return a.withSession(cmd.Context(), func(ctx context.Context, s *session) error {
				return a.history(ctx, s, s.mgr, format)
			})
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text or json")
	c.Flags().BoolVar(&noConnect, "no-connect", false, "list the revision graph only, without connecting to the database")
	return c, nil
}

// historyRev is one revision in `db history --format json`.
type historyRev struct {
	ID        string   `json:"id"`
	Down      string   `json:"down_revision"`
	DependsOn []string `json:"depends_on"`
	Labels    []string `json:"branch_labels"` // declared by this revision
	Carries   []string `json:"labels"`        // declared here or on its down-revision chain
	Release   string   `json:"release"`
	Message   string   `json:"message"`
	Applied   *bool    `json:"applied,omitempty"`
	Current   bool     `json:"current,omitempty"` // a row of alembic_version
	Head      bool     `json:"head,omitempty"`
}

type historyBranch struct {
	Name      string       `json:"name"`
	Head      string       `json:"head"`
	Revisions []historyRev `json:"revisions"`
}

type historyData struct {
	Name    string `json:"name"`
	Release string `json:"release"`
	After   string `json:"after"`
	Before  string `json:"before"`
	// State: "done", "pending" (runnable now), "waiting" (its expand
	// revision is not applied yet); "" without a database.
	State       string `json:"state,omitempty"`
	PendingRows *int64 `json:"pending_rows,omitempty"`
}

type historyJSON struct {
	Connected bool            `json:"connected"`
	Rows      []string        `json:"current_rows"`
	Heads     []string        `json:"heads"`
	Branches  []historyBranch `json:"branches"`
	Data      []historyData   `json:"data_migrations"`
	Release   string          `json:"release,omitempty"`
}

// history prints the revision graph; s is nil with --no-connect.
func (a *app) history(ctx context.Context, s *session, mgr *glance.Manager, format string) error {
	g := mgr.Graph()
	h := historyJSON{Connected: s != nil, Rows: []string{}, Heads: g.Heads()}
	var applied map[string]bool
	var pending map[string]int64
	if s != nil {
		// Read-only: no renaming of legacy ids in the table, no placement.
		rows, err := s.mgr.Heads(ctx)
		if err != nil {
			return a.fail(err)
		}
		h.Rows = nonNil(rows)
		if err := g.CheckRows(h.Rows); err != nil {
			a.logf("WARNING: %v", err)
		}
		applied = g.Applied(h.Rows)
		if pending, err = s.mgr.PendingData(ctx); err != nil {
			return a.fail(err)
		}
		if st, err := s.mgr.Status(ctx); err == nil {
			h.Release = st.Release
		}
	}
	current := map[string]bool{}
	for _, r := range h.Rows {
		current[r] = true
	}
	heads := map[string]bool{}
	for _, id := range g.Heads() {
		heads[id] = true
	}
	byBranch := map[migrate.Branch]*historyBranch{}
	var order []migrate.Branch
	for _, id := range g.WalkOrder() {
		r := g.Revision(id)
		b := byBranch[r.Branch]
		if b == nil {
			name := string(r.Branch)
			if name == "" {
				name = "base"
			}
			b = &historyBranch{Name: name}
			byBranch[r.Branch] = b
			order = append(order, r.Branch)
		}
		hr := historyRev{ID: id, Down: r.Down, DependsOn: nonNil(r.DependsOn), Labels: nonNil(r.Labels), Carries: nonNil(g.LabelsOf(id)),
			Release: r.Release, Message: r.Message, Current: current[id], Head: heads[id]}
		if s != nil {
			ok := applied[id]
			hr.Applied = &ok
		}
		b.Revisions = append(b.Revisions, hr)
		b.Head = id
	}
	for _, b := range order {
		h.Branches = append(h.Branches, *byBranch[b])
	}
	for _, dm := range mgr.DataMigrations() {
		d := historyData{Name: dm.Name, Release: dm.Release, After: dm.After, Before: dm.Before}
		if s != nil {
			switch n, ok := pending[dm.Name]; {
			case applied[dm.Before]:
				d.State = "done"
			case ok:
				d.State, d.PendingRows = "pending", &n
			default:
				d.State = "waiting"
			}
		}
		h.Data = append(h.Data, d)
	}
	if format == "json" {
		return a.printJSON(h)
	}
	return a.printHistory(h)
}

func (a *app) printHistory(h historyJSON) error {
	if h.Connected {
		a.printf("Current alembic_version row(s): %s", orNone(h.Rows, "none (not under migration control)"))
		if h.Release != "" {
			a.printf("The database is fully at release %s.", h.Release)
		}
		a.printf("[x] applied, [ ] not applied, * current row of alembic_version")
	}
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	for _, b := range h.Branches {
		fmt.Fprintf(tw, "\n%s branch (head %s)\n", b.Name, b.Head)
		for _, r := range b.Revisions {
			mark := ""
			if r.Applied != nil {
				mark = "[ ] "
				if *r.Applied {
					mark = "[x] "
				}
			}
			id := r.ID
			if r.Current {
				id += " *"
			}
			var extra []string
			if len(r.DependsOn) > 0 {
				extra = append(extra, "depends on "+strings.Join(r.DependsOn, ", "))
			}
			if len(r.Labels) > 0 {
				extra = append(extra, "declares label "+strings.Join(r.Labels, ", "))
			}
			msg := r.Message
			if len(extra) > 0 {
				msg += " (" + strings.Join(extra, "; ") + ")"
			}
			fmt.Fprintf(tw, "  %s%s\t%s\t%s\n", mark, id, r.Release, strings.TrimSpace(msg))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	a.printf("\ndata migrations (run by `glance-manage db migrate` between expand and contract)")
	tw = tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	for _, d := range h.Data {
		state := ""
		switch d.State {
		case "done":
			state = "done"
		case "pending":
			state = fmt.Sprintf("pending: %d row(s)", *d.PendingRows)
		case "waiting":
			state = "not yet: needs " + d.After
		}
		fmt.Fprintf(tw, "  %s\t%s\tafter %s, before %s\t%s\n", d.Name, d.Release, d.After, d.Before, state)
	}
	return tw.Flush()
}
