package app

import (
	"context"
	"sync"

	"cacheworkshop/cache"
	"cacheworkshop/models"
)

// changeLog is the database's outbox as the invalidator reads it.
type changeLog struct {
	store *models.Store

	mu sync.Mutex // Changed is called from one goroutine; this guards opening
	w  *models.Watcher
}

var _ cache.ChangeLog = (*changeLog)(nil)

// Last implements cache.ChangeLog.
func (l *changeLog) Last(ctx context.Context) (int64, error) { return l.store.LastChange(ctx) }

// Since implements cache.ChangeLog.
func (l *changeLog) Since(ctx context.Context, after int64, limit int) ([]cache.Change, error) {
	rows, err := l.store.ChangesSince(ctx, after, limit)
	out := make([]cache.Change, len(rows))
	for i, r := range rows {
		out[i] = cache.Change{ID: r.ID, Names: r.Names}
	}
	return out, err
}

// Changed implements cache.ChangeLog with SQLite's data_version.
func (l *changeLog) Changed(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		w, err := l.store.Watch(ctx)
		if err != nil {
			return false, err
		}
		// A new watcher has nothing to compare with: report a change, so
		// the caller reads the log once.
		l.w = w
		return true, nil
	}
	return l.w.Changed(ctx)
}

// close releases the watcher's connection.
func (l *changeLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w != nil {
		_ = l.w.Close()
		l.w = nil
	}
}
