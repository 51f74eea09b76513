package dialect

import (
	"fmt"
	"io"
	"strings"
)

// Script is implemented by dialects that can write offline SQL scripts
// (alembic's --sql): the syntax the backend's command-line client reads.
// The engine decides what goes into a script; the dialect only spells it.
type Script interface {
	// ScriptStatement returns one statement (without its terminator) as
	// the client reads it, terminator and final newline included. The
	// MySQL client, for one, needs a statement with ";" inside (a trigger
	// body) wrapped in DELIMITER lines.
	ScriptStatement(sql string) string
	// ScriptComment returns text as one comment line, newline included.
	ScriptComment(text string) string
	// ScriptBegin and ScriptCommit return the statements that open and
	// close a transaction around one revision, or "" where DDL commits by
	// itself and a transaction would be misleading (MySQL).
	ScriptBegin() string
	ScriptCommit() string
}

// ScriptWriter writes a script in a dialect's syntax: statements each
// followed by a blank line, comments, and transactions. It keeps the
// first write error (see Err) and writes nothing after it.
type ScriptWriter struct {
	w      io.Writer
	s      Script
	err    error
	spaced bool // the output ends with a blank line (or is empty)
}

// NewScriptWriter returns a writer of d's scripts to w; d must implement
// Script.
func NewScriptWriter(w io.Writer, d Dialect) (*ScriptWriter, error) {
	s, ok := d.(Script)
	if !ok {
		return nil, fmt.Errorf("dialect: %s cannot write SQL scripts", d.Name())
	}
	return &ScriptWriter{w: w, s: s}, nil
}

func (sw *ScriptWriter) write(text string) {
	if sw.err == nil && text != "" {
		_, sw.err = io.WriteString(sw.w, text)
		sw.spaced = strings.HasSuffix(text, "\n\n")
	}
}

// Comment writes one comment line.
func (sw *ScriptWriter) Comment(format string, args ...any) {
	sw.write(sw.s.ScriptComment(fmt.Sprintf(format, args...)))
}

// Blank writes a blank line unless the output ends with one.
func (sw *ScriptWriter) Blank() {
	if !sw.spaced {
		sw.write("\n")
		sw.spaced = true
	}
}

// Statement writes one statement and a blank line; a "statement" made of
// comment lines only is written as it is.
func (sw *ScriptWriter) Statement(sql string) {
	sql = strings.TrimRight(strings.TrimSpace(sql), ";")
	if IsComment(sql) {
		sw.write(sql + "\n\n")
		return
	}
	sw.write(sw.s.ScriptStatement(sql) + "\n")
}

// Transaction writes stmts inside the dialect's transaction statements
// (none on MySQL).
func (sw *ScriptWriter) Transaction(stmts []string) {
	if b := sw.s.ScriptBegin(); b != "" {
		sw.Statement(b)
	}
	for _, q := range stmts {
		sw.Statement(q)
	}
	if c := sw.s.ScriptCommit(); c != "" {
		sw.Statement(c)
	}
}

// Err is the first write error.
func (sw *ScriptWriter) Err() error { return sw.err }

// IsComment reports whether every line of s is an SQL comment.
func IsComment(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			return false
		}
	}
	return true
}
