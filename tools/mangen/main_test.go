package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/glance-manage/glance-manage/internal/cli"
)

// The pages and scripts the Debian package ships: one page per visible
// command (none for the hidden db_* spellings), the root page with its own
// sections and SOURCE_DATE_EPOCH's date, completion scripts that ask the
// program (cobra's __complete).
func TestGenerate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764547200") // 2025-12-01
	dir := t.TempDir()
	if err := writeMan(cli.Command(), filepath.Join(dir, "man")); err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join(dir, "man", "*.1"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range pages {
		names[filepath.Base(p)] = true
		if strings.Contains(p, "db_") {
			t.Errorf("a page for a hidden spelling: %s", p)
		}
	}
	for _, want := range []string{"glance-manage.1", "glance-manage-db.1", "glance-manage-db-sync.1", "glance-manage-db-check.1", "glance-manage-db-purge.1", "glance-manage-db-lock-break.1"} {
		if !names[want] {
			t.Errorf("no page %s among %v", want, names)
		}
	}
	root, err := os.ReadFile(filepath.Join(dir, "man", "glance-manage.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "GLANCE-MANAGE" "1" "Dec 2025" "glance-manage-go ` + cli.Version + `"`, "\n.SH EXIT STATUS\n", "\n.SH THE PYTHON TOOL\n", "glance-manage-db(1)"} {
		if !strings.Contains(string(root), want) {
			t.Errorf("glance-manage.1 lacks %q:\n%s", want, root)
		}
	}
	check, _ := os.ReadFile(filepath.Join(dir, "man", "glance-manage-db-check.1"))
	if !strings.Contains(string(check), "release") || !strings.Contains(string(check), "6 when the database") {
		t.Errorf("glance-manage-db-check.1 does not document --release and exit 6:\n%s", check)
	}

	bash, zsh := filepath.Join(dir, "glance-manage"), filepath.Join(dir, "_glance-manage")
	root2 := cli.Command()
	if err := writeFile(bash, func(f *os.File) error { return root2.GenBashCompletionV2(f, true) }); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(zsh, func(f *os.File) error { return root2.GenZshCompletion(f) }); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(bash)
	z, _ := os.ReadFile(zsh)
	if !strings.Contains(string(b), "__start_glance-manage") || !strings.Contains(string(b), "__complete") {
		t.Errorf("bash completion script:\n%.400s", b)
	}
	if !strings.HasPrefix(string(z), "#compdef glance-manage") {
		t.Errorf("zsh completion script:\n%.400s", z)
	}
}

// The scripts complete by running `glance-manage __complete ARGS`: cobra's
// hidden command, there although the CLI has no completion command.
func TestCompleteCommand(t *testing.T) {
	var out, errb strings.Builder
	code := cli.Run(t.Context(), []string{"__complete", "db", "sy"}, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	if code != 0 || !strings.HasPrefix(out.String(), "sync\t") {
		t.Errorf("__complete db sy: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// A help text with <angle brackets> keeps them on the page (markdown
// would take them for an HTML tag), and each flag is escaped once, also
// when parent and child commands share it.
func TestAnglesInHelpTexts(t *testing.T) {
	root := &cobra.Command{Use: "tool", Run: func(*cobra.Command, []string) {}}
	root.PersistentFlags().String("log-dir", "", "the file is <log_dir>/tool.log")
	sub := &cobra.Command{Use: "sub", Run: func(*cobra.Command, []string) {}}
	sub.Flags().String("out", "", "write to <dir>")
	root.AddCommand(sub)
	dir := t.TempDir()
	if err := writeMan(root, dir); err != nil {
		t.Fatal(err)
	}
	for page, want := range map[string]string{"tool.1": "<log_dir>/tool.log", "tool-sub.1": "write to <dir>"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q:\n%s", page, want, b)
		}
	}
}
