package observe

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Health is the gRPC health checking service (grpc.health.v1.Health) of the server,
// for the overall server ("") and the Flight service by name. It answers NOT_SERVING
// until SetServing and again from Shutdown on.
//
// Unlike grpc-go's health.Server alone, a Watch stream ends (with OK) once it has
// told its client NOT_SERVING at shutdown: an open Watch would otherwise hold a
// graceful stop for its whole grace period.
type Health struct {
	*health.Server
	serving  atomic.Bool
	stopping chan struct{}
	stopOnce sync.Once
}

// services are the names Health reports on.
var services = []string{"", flightService}

// NewHealth returns a Health answering NOT_SERVING.
func NewHealth() *Health {
	h := &Health{Server: health.NewServer(), stopping: make(chan struct{})}
	for _, s := range services {
		h.Server.SetServingStatus(s, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	return h
}

// Register registers the health service on gs.
func (h *Health) Register(gs *grpc.Server) { healthgrpc.RegisterHealthServer(gs, h) }

// SetServing reports SERVING: call it once the server accepts calls.
func (h *Health) SetServing() {
	for _, s := range services {
		h.Server.SetServingStatus(s, healthpb.HealthCheckResponse_SERVING)
	}
	h.serving.Store(true)
}

// Serving reports whether the server is serving: after SetServing, before Shutdown.
func (h *Health) Serving() bool { return h.serving.Load() }

// Shutdown reports NOT_SERVING for good and ends the Watch streams once they have
// said so. Call it as shutdown begins, before the gRPC server's GracefulStop.
func (h *Health) Shutdown() {
	h.stopOnce.Do(func() {
		h.serving.Store(false)
		h.Server.Shutdown()
		close(h.stopping)
	})
}

// watchLinger is how long a Watch stream of a service Health does not report on
// (always SERVICE_UNKNOWN, so never told NOT_SERVING) may stay open after Shutdown.
const watchLinger = 500 * time.Millisecond

// Watch is health.Server's, ended after shutdown: the first status sent after
// Shutdown (NOT_SERVING for the services Health reports on) is the last.
func (h *Health) Watch(req *healthpb.HealthCheckRequest, ss healthgrpc.Health_WatchServer) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-h.stopping:
		case <-ctx.Done():
			return
		}
		t := time.NewTimer(watchLinger)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := h.Server.Watch(req, &watchStream{Health_WatchServer: ss, ctx: ctx, cancel: cancel, stopping: h.stopping})
	select {
	case <-h.stopping:
		return nil
	default:
		return err
	}
}

// watchStream cancels its Watch once a status has been sent after shutdown began.
type watchStream struct {
	healthgrpc.Health_WatchServer
	ctx      context.Context
	cancel   context.CancelFunc
	stopping <-chan struct{}
}

func (w *watchStream) Context() context.Context { return w.ctx }

func (w *watchStream) Send(resp *healthpb.HealthCheckResponse) error {
	err := w.Health_WatchServer.Send(resp)
	select {
	case <-w.stopping:
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			w.cancel()
		}
	default:
	}
	return err
}
