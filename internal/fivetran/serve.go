package fivetran

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"

	"github.com/dynamosync/dynamosync/internal/fivetran/pb"
)

// stopGrace is how long a stopping server waits for running calls.
const stopGrace = 30 * time.Second

// Serve listens on port on every address, IPv4 and IPv6, and serves the
// SourceConnector service until ctx ends; then it stops taking calls, lets
// running ones finish for a while and returns. When ready is not nil it
// receives the listening address first.
func Serve(ctx context.Context, port int, log *slog.Logger, ready func(net.Addr)) error {
	lis, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", port, err)
	}
	srv := grpc.NewServer()
	pb.RegisterSourceConnectorServer(srv, &Server{Log: log})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		log.Info("stopping")
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(stopGrace):
			srv.Stop()
		}
	}()
	log.Info("listening", "address", lis.Addr().String())
	if ready != nil {
		ready(lis.Addr())
	}
	err = srv.Serve(lis)
	if ctx.Err() != nil {
		<-stopped
		return nil
	}
	return err
}
