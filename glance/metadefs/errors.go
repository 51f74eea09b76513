package metadefs

import (
	"errors"
	"fmt"
)

// Sentinels, matched with errors.Is.
var (
	// ErrNoFiles: the directory holds no *.json file.
	ErrNoFiles = errors.New("metadefs: no JSON files found")
	// ErrOptions: --prefer_new or --overwrite without --merge, or both.
	ErrOptions = errors.New("metadefs: conflicting options")
	// ErrInvalid: a file is not a valid namespace definition.
	ErrInvalid = errors.New("metadefs: invalid definition")
	// ErrNameClash: two namespaces would be exported to the same file.
	ErrNameClash = errors.New("metadefs: two namespaces map to one file name")
)

// SyntaxError is a JSON syntax error at a byte offset of a document.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// FileError is a problem with one definition file: it cannot be read, is
// not JSON, or is not a namespace definition. Line and Column (1-based,
// columns in characters) locate it; both are 0 when the whole file is at
// fault (it cannot be read).
type FileError struct {
	File         string
	Line, Column int
	Msg          string
	Err          error // the cause: ErrInvalid, a *SyntaxError or an I/O error
}

func (e *FileError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

func (e *FileError) Unwrap() error { return e.Err }

// DBError is a statement the database refused while loading one file
// (the whole load is rolled back) or exporting.
type DBError struct {
	File      string // the definition file being loaded, or "" (unload, export)
	Namespace string
	Err       error
}

func (e *DBError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("metadefs: loading namespace %s from %s: %v", e.Namespace, e.File, e.Err)
	}
	if e.Namespace != "" {
		return fmt.Sprintf("metadefs: namespace %s: %v", e.Namespace, e.Err)
	}
	return fmt.Sprintf("metadefs: %v", e.Err)
}

func (e *DBError) Unwrap() error { return e.Err }

// ClashError: namespaces A and B would both be exported to File.
type ClashError struct {
	File string
	A, B string
}

func (e *ClashError) Error() string {
	return fmt.Sprintf("metadefs: namespaces %s and %s would both be exported to %s", e.A, e.B, e.File)
}

func (e *ClashError) Unwrap() error { return ErrNameClash }
