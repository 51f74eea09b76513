package glance_test

import (
	"errors"

	"github.com/glance-manage/glance-manage/migrate"
)

func asDataPending(err error, target **migrate.DataPendingError) bool { return errors.As(err, target) }
