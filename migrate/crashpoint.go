package migrate

// crashHook, when set, sees every event before Observe does. Normal
// builds leave it nil; builds with the crashtest tag set it
// (crashpoint_crashtest.go) so that tests can kill the process at a
// chosen statement, exactly as an operator's SIGKILL would.
var crashHook func(Event)

// crashBatch, when above 0, is the batch size of data migrations and
// shadow copies whose Options leave it adaptive. Builds with the
// crashtest tag set it from GLANCE_MANAGE_DATA_BATCH, so that a run
// passes the same crash points however fast the machine is (adaptive
// batches follow the time each one took).
var crashBatch int

// batchSize is the first batch size of a data migration or shadow copy
// and whether the size adapts to the batches' times.
func batchSize(o Options) (int, bool) {
	switch {
	case o.DataBatch > 0:
		return o.DataBatch, false
	case crashBatch > 0:
		return crashBatch, false
	}
	return DefaultDataBatch, true
}
