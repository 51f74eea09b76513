package migrate

// crashHook, when set, sees every event before Observe does. Normal
// builds leave it nil; builds with the crashtest tag set it
// (crashpoint_crashtest.go) so that tests can kill the process at a
// chosen statement, exactly as an operator's SIGKILL would.
var crashHook func(Event)
