//go:build edged_grpc

package agent

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"

	"github.com/edged-dev/edged/agent/grpcapi"
)

// serveGRPC starts the Open Inference Protocol's gRPC service when
// grpc.listen is set, with the HTTP endpoint's token and body bound; stop
// ends it (calls in flight finish first).
func (a *Agent) serveGRPC(token string, errc chan<- error, wg *sync.WaitGroup) (stop func(), err error) {
	if a.cfg.GRPC.Listen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", a.cfg.GRPC.Listen)
	if err != nil {
		return nil, fmt.Errorf("grpc: %w", err)
	}
	srv := grpcapi.NewServer(a, grpcapi.Options{Token: token, Version: Version, MaxRequestBytes: int(a.cfg.HTTP.MaxRequestBytes), Log: a.log, Repository: a, Stats: &a.stats})
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			errc <- fmt.Errorf("grpc: %w", err)
		}
	}()
	a.log.Info("gRPC service listening", "addr", ln.Addr().String())
	return srv.GracefulStop, nil
}
