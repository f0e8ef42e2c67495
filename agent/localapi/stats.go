package localapi

import (
	"net/http"

	"github.com/edged-dev/edged/agent/inferstats"
)

// modelStats is GET /v2/models[/{name}[/versions/{version}]]/stats:
// Triton's statistics extension, from the table the HTTP and gRPC
// endpoints share.
func (s *Server) modelStats(w http.ResponseWriter, r *http.Request) {
	name, version := r.PathValue("name"), r.PathValue("version")
	var list []inferstats.Model
	if name == "" {
		list = s.stats.List("", "")
		// Models served but not asked yet report zeros, as in Triton.
		seen := map[[2]string]bool{}
		for _, ms := range list {
			seen[[2]string{ms.Name, ms.Version}] = true
		}
		for _, mi := range s.b.Models() {
			if !seen[[2]string{mi.Name, mi.Version}] {
				list = append(list, inferstats.Zero(mi.Name, mi.Version))
			}
		}
		inferstats.Sort(list)
	} else {
		mi, err := s.b.Model(name, version)
		if err != nil {
			writeError(w, statusOf(err), err.Error())
			return
		}
		list = s.stats.List(mi.Name, version)
		if len(list) == 0 {
			list = []inferstats.Model{inferstats.Zero(mi.Name, mi.Version)}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"model_stats": list})
}
