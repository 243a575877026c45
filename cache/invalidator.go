package cache

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ChangeLog is the durable, ordered record of changes: the database's
// transactional outbox (models.Store). Every write records its change
// there in its own transaction, so the log is the guarantee; Redis pub/sub
// is only the fast path.
type ChangeLog interface {
	// Last returns the newest change id, 0 when there is none.
	Last(ctx context.Context) (int64, error)
	// Since returns up to limit changes with ids above after, oldest first.
	Since(ctx context.Context, after int64, limit int) ([]Change, error)
	// Changed reports, cheaply, whether the log may have grown since the
	// last call (any instance's commit).
	Changed(ctx context.Context) (bool, error)
}

// Invalidator applies every committed change to this instance's memory
// generations and to Redis, in order, whichever instance made it and
// whatever failed meanwhile:
//
//   - The instance that commits a change applies it at once to its own
//     memory and to Redis, and announces it over Redis pub/sub, so other
//     instances usually hear of it within milliseconds.
//   - Every instance also polls the change log (PollEvery, a cheap check
//     of SQLite's data_version) and applies what it has not seen, so a lost
//     message, a paused or dead Redis, or a restart delays a change by at
//     most one poll.
//   - Redis records the last change it applied. An instance trusts Redis's
//     generations only when Redis has applied every change the instance
//     knows of; otherwise its Redis reads fail with ErrBehind and are served
//     from the database, and its relay sends Redis the missing changes as
//     soon as Redis answers (any instance may relay: applying is
//     idempotent and ordered).
type Invalidator struct {
	Memory *Memory
	Redis  *Redis // nil when there is no Redis at all
	Log    ChangeLog
	// Channel is the pub/sub channel of the fast path; empty disables it.
	Channel string
	// ID tells this instance's own announcements apart from others'.
	ID     string
	Logger *slog.Logger
	// PollEvery is how often the change log is checked (default 100 ms);
	// RetryEvery how often a relay to a failing Redis is retried (default
	// 250 ms). Their sum bounds how long any change can go unseen.
	PollEvery, RetryEvery time.Duration

	known        atomic.Int64 // the newest change id this instance knows of
	memCursor    atomic.Int64 // every change up to it is applied to memory
	redisApplied atomic.Int64 // Redis's applied id, as last read
	kick         chan struct{}
}

// InvalidationResult says what one backend did with a change, for the
// learner-facing invalidation log.
type InvalidationResult struct {
	Mode  Mode // the backend's mode
	Names []string
	Err   error
}

func (inv *Invalidator) defaults() {
	if inv.PollEvery <= 0 {
		inv.PollEvery = 100 * time.Millisecond
	}
	if inv.RetryEvery <= 0 {
		inv.RetryEvery = 250 * time.Millisecond
	}
	if inv.Logger == nil {
		inv.Logger = slog.Default()
	}
	if inv.kick == nil {
		inv.kick = make(chan struct{}, 1)
	}
}

// Start prepares the invalidator before the instance serves: every change
// already in the log happened before this process cached anything, so it
// is the floor of the memory generations; Redis is trusted only once it
// has applied them all.
func (inv *Invalidator) Start(ctx context.Context) error {
	inv.defaults()
	last, err := inv.Log.Last(ctx)
	if err != nil {
		return err
	}
	inv.Memory.SetFloor(last)
	inv.memCursor.Store(last)
	inv.learn(last)
	if inv.Redis != nil {
		inv.Redis.OnBehind(inv.wake)
		if err := inv.catchUp(ctx); err != nil {
			inv.Logger.Warn("redis has not applied every invalidation yet; Redis-mode pages come from the database until it has", "err", err)
		}
	}
	return nil
}

// learn records that change id exists.
func (inv *Invalidator) learn(id int64) {
	for {
		cur := inv.known.Load()
		if cur >= id || inv.known.CompareAndSwap(cur, id) {
			break
		}
	}
	if inv.Redis != nil {
		inv.Redis.Require(id)
	}
}

// wake asks the relay to catch Redis up now.
func (inv *Invalidator) wake() {
	select {
	case inv.kick <- struct{}{}:
	default:
	}
}

// Committed applies a change this instance has just committed: to memory,
// to Redis (with any earlier change Redis lacks), and announces it. A Redis
// failure is reported, never fatal: the relay retries it in the background.
func (inv *Invalidator) Committed(ctx context.Context, c Change) []InvalidationResult {
	inv.defaults()
	_ = inv.Memory.Apply(ctx, c)
	inv.learn(c.ID)
	res := []InvalidationResult{{Mode: ModeMemory, Names: c.Names}}
	if inv.Redis == nil {
		return res
	}
	err := inv.catchUp(ctx)
	if err != nil {
		inv.wake()
		inv.Logger.Warn("redis invalidation deferred: the relay applies it when Redis answers", "change", c.ID, "err", err)
	}
	res = append(res, InvalidationResult{Mode: ModeRedis, Names: c.Names, Err: err})
	if inv.Channel != "" {
		msg := inv.ID + " " + strconv.FormatInt(c.ID, 10) + " " + strings.Join(c.Names, " ")
		if err := inv.Redis.client.Publish(ctx, inv.Channel, msg).Err(); err != nil {
			inv.Logger.Debug("invalidation announcement failed; other instances see it at their next poll", "err", err)
		}
	}
	return res
}

// catchUp sends Redis every change it has not applied, in order.
func (inv *Invalidator) catchUp(ctx context.Context) error {
	applied, err := inv.Redis.Applied(ctx)
	if err != nil {
		return err
	}
	for applied < inv.known.Load() {
		changes, err := inv.Log.Since(ctx, applied, 500)
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			break
		}
		err = inv.Redis.Apply(ctx, changes...)
		if errors.Is(err, ErrGap) {
			// Another instance relayed meanwhile, or the server lost
			// its data: start again from what it has.
			if applied, err = inv.Redis.Applied(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		applied = changes[len(changes)-1].ID
	}
	inv.redisApplied.Store(applied)
	return nil
}

// Flush catches Redis up once, for a clean shutdown.
func (inv *Invalidator) Flush(ctx context.Context) error {
	if inv.Redis == nil || inv.redisApplied.Load() >= inv.known.Load() {
		return nil
	}
	return inv.catchUp(ctx)
}

// Pending is how many changes this instance knows of that Redis has not
// applied, as far as it last checked.
func (inv *Invalidator) Pending() int64 {
	if inv.Redis == nil {
		return 0
	}
	return max(0, inv.known.Load()-inv.redisApplied.Load())
}

// Known is the newest change id this instance knows of.
func (inv *Invalidator) Known() int64 { return inv.known.Load() }

// Run keeps memory and Redis up to date until ctx ends: it listens for
// announcements, polls the change log and relays to Redis.
func (inv *Invalidator) Run(ctx context.Context) {
	inv.defaults()
	if inv.Redis != nil {
		go inv.relay(ctx)
		if inv.Channel != "" {
			go inv.listen(ctx)
		}
	}
	inv.poll(ctx)
}

// poll applies the change log to memory. While it cannot read the log for
// longer than a second, the memory copies are unverified (ErrUnverified):
// another instance may have changed something this one cannot see.
func (inv *Invalidator) poll(ctx context.Context) {
	t := time.NewTicker(inv.PollEvery)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := inv.pollOnce(ctx); err != nil {
			if time.Since(lastOK) > time.Second {
				inv.Memory.SetVerified(false)
			}
			continue
		}
		lastOK = time.Now()
		inv.Memory.SetVerified(true)
	}
}

func (inv *Invalidator) pollOnce(ctx context.Context) error {
	changed, err := inv.Log.Changed(ctx)
	if err != nil || !changed {
		return err
	}
	for {
		changes, err := inv.Log.Since(ctx, inv.memCursor.Load(), 500)
		if err != nil || len(changes) == 0 {
			return err
		}
		_ = inv.Memory.Apply(ctx, changes...)
		last := changes[len(changes)-1].ID
		inv.memCursor.Store(last)
		inv.learn(last)
		if inv.Redis != nil && inv.redisApplied.Load() < last {
			inv.wake()
		}
	}
}

// relay catches Redis up whenever it is behind: when woken, and every
// RetryEvery while a relay is failing.
func (inv *Invalidator) relay(ctx context.Context) {
	t := time.NewTicker(inv.RetryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-inv.kick:
			// Woken by a read that found Redis behind, or by a new
			// change: ask Redis itself. The applied id last read may be
			// out of date, for Redis may have restarted empty since.
		case <-t.C:
			if inv.redisApplied.Load() >= inv.known.Load() && inv.Redis.Required() <= inv.redisApplied.Load() {
				continue
			}
		}
		if err := inv.catchUp(ctx); err != nil {
			inv.Logger.Debug("redis relay failed; retrying", "err", err)
		}
	}
}

// listen applies other instances' announcements to memory until ctx ends,
// subscribing again after a connection loss.
//
// On a Redis Cluster this is classic pub/sub: a message published on any
// node is passed over the cluster bus to every node, so publisher and
// subscriber need not be connected to the same node. Sharded pub/sub
// (SPUBLISH, SSUBSCRIBE) would keep the messages on one shard, which
// matters at thousands of messages a second, not at a few edits; and its
// subscribers must follow their channel's slot from node to node.
func (inv *Invalidator) listen(ctx context.Context) {
	for ctx.Err() == nil {
		sub := inv.Redis.client.Subscribe(ctx, inv.Channel)
		ch := sub.Channel()
	drain:
		for {
			select {
			case <-ctx.Done():
				break drain
			case msg, ok := <-ch:
				if !ok {
					break drain
				}
				f := strings.Fields(msg.Payload)
				if len(f) < 3 || f[0] == inv.ID {
					continue
				}
				id, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					continue
				}
				_ = inv.Memory.Apply(ctx, Change{ID: id, Names: f[2:]})
				inv.learn(id)
			}
		}
		_ = sub.Close()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
