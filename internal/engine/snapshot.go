package engine

import (
	"context"

	"golang.org/x/sync/errgroup"

	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
	"github.com/dynamosync/dynamosync/internal/state"
)

type segmentPlan struct {
	segment int
	start   state.Key
}

func pendingSegments(snap *state.Snapshot) []segmentPlan {
	var out []segmentPlan
	for i, seg := range snap.Segments {
		if !seg.Done {
			out = append(out, segmentPlan{segment: i, start: seg.LastKey})
		}
	}
	return out
}

// snapshot scans the pending segments of r's snapshot in parallel and
// queues every page for the writer. It returns once every page is queued;
// the snapshot is complete when the writer has committed them all.
func (e *Engine) snapshot(ctx context.Context, scanner *source.Scanner, q *queue, r *tableRun, segments []segmentPlan) error {
	r.snapshots.Add(1)
	total := r.snap.TotalSegments
	r.log.Info("snapshot started", "segments", total, "pending_segments", len(segments),
		"estimated_items", r.info.ItemCount, "size_bytes", r.info.SizeBytes, "resumed", r.resumed)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(e.MaxRequests, 1))
	for _, sp := range segments {
		g.Go(func() error {
			return scanner.Segment(gctx, r.info.Name, sp.segment, total, sp.start, func(ctx context.Context, p source.Page) error {
				r.addCapacity(p.Capacity)
				return q.send(ctx, msg{run: r, page: &p})
			})
		})
	}
	return g.Wait()
}
