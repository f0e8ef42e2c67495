//go:build !edged_grpc

package agent

import (
	"errors"
	"sync"
)

// serveGRPC: this edged is built without the gRPC service.
func (a *Agent) serveGRPC(token string, errc chan<- error, wg *sync.WaitGroup) (stop func(), err error) {
	if a.cfg.GRPC.Listen == "" {
		return func() {}, nil
	}
	return nil, errors.New("grpc.listen is set, but this edged is built without the gRPC service (build edged with -tags edged_grpc)")
}
