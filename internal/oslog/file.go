package oslog

import "os"

// fileDest appends records to the log file as Python's
// logging.handlers.WatchedFileHandler does (oslo.log's handler when
// log rotation is off): before each record it checks that the path still
// names the file it has open, and reopens it (creating it) when the file
// was moved or removed, by logrotate for example. watch_log_file's
// inotify handler does the same for a long-running service.
type fileDest struct {
	path string
	f    *os.File
	fi   os.FileInfo // of the open file
}

func openLogFile(path string) (*fileDest, error) {
	d := &fileDest{path: path}
	if err := d.open(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *fileDest) open() error {
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	d.f, d.fi = f, fi
	return nil
}

func (d *fileDest) write(_ *record, line string) error {
	if fi, err := os.Stat(d.path); err != nil || !os.SameFile(fi, d.fi) {
		if d.f != nil {
			d.f.Close()
			d.f = nil
		}
		if err := d.open(); err != nil {
			return err
		}
	}
	// One write per record: appends of concurrent runs do not interleave
	// within a line.
	_, err := d.f.WriteString(line + "\n")
	return err
}

func (d *fileDest) describe() string { return "the log file " + d.path }

func (d *fileDest) close() error {
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}
