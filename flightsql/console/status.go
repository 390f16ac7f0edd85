package console

import (
	"net/http"
	"time"
)

// statusAnswer is the answer of GET /api/status.
type statusAnswer struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	UptimeSeconds  int64  `json:"uptime_seconds"`
	OpenStreams    int    `json:"open_streams"`
	QueriesRunning int    `json:"queries_running"`
	Datasets       int    `json:"datasets"`
	RequestsTotal  int64  `json:"requests_total"`
}

// status reports the server's version and what it is doing: open streams and
// running queries as the service's limits count them (Flight and console together),
// the datasets the caller may see, and the console's requests since it started.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	infos, err := s.store.List(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n := 0
	p := principal(ctx)
	for _, info := range infos {
		if p == nil || p.Covers(info.Name) {
			n++
		}
	}
	act := s.svc.Activity()
	writeJSON(w, statusAnswer{
		Version: s.cfg.Version, Commit: s.cfg.Commit,
		UptimeSeconds: int64(time.Since(s.started) / time.Second),
		OpenStreams:   act.Streams, QueriesRunning: act.Queries,
		Datasets: n, RequestsTotal: s.requests.Load(),
	})
}
