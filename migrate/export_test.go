package migrate

// StopHeartbeat stops a lease's renewals without releasing it, as if its
// holder's host had died (tests only).
func StopHeartbeat(s *Lease) {
	close(s.stop)
	<-s.done
	s.stop = make(chan struct{})
}
