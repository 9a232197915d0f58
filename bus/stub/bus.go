package stub

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// Bus is the embedded log. Create it with New.
type Bus struct {
	cfg  Config
	dir  string   // Dir/topics, "" in memory
	lock *os.File // holds the directory lock

	mu     sync.RWMutex
	closed bool
	topics map[string]*topic

	closeOnce   sync.Once
	stopJanitor chan struct{}
	janitorDone chan struct{}
}

var (
	_ bus.Bus          = (*Bus)(nil)
	_ bus.GroupDeleter = (*Bus)(nil)
)

const (
	topicsDir     = "topics"
	lockFile      = "LOCK"
	deletedPrefix = ".deleted-"
)

// New opens (or creates) the log in cfg.Dir, or an empty in-memory log. It
// recovers from a crash: a torn or corrupt tail is cut off and groups resume
// from their committed offsets.
func New(cfg Config) (*Bus, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Bus{
		cfg:         cfg,
		topics:      make(map[string]*topic),
		stopJanitor: make(chan struct{}),
		janitorDone: make(chan struct{}),
	}
	if !cfg.InMemory {
		if err := b.open(); err != nil {
			for _, t := range b.topics {
				t.shutdown(bus.ErrClosed)
			}
			if b.lock != nil {
				b.lock.Close()
			}
			return nil, err
		}
	}
	go b.janitor()
	return b, nil
}

// open locks the directory and opens its topics.
func (b *Bus) open() error {
	b.dir = filepath.Join(b.cfg.Dir, topicsDir)
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return fmt.Errorf("stub: %w", err)
	}
	lock, err := lockDir(filepath.Join(b.cfg.Dir, lockFile))
	if err != nil {
		return err
	}
	b.lock = lock
	ents, err := os.ReadDir(b.dir)
	if err != nil {
		return fmt.Errorf("stub: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, deletedPrefix) {
			if err := os.RemoveAll(filepath.Join(b.dir, name)); err != nil {
				b.cfg.Logger.Warn("stub: removing a deleted topic's leftovers", "dir", name, "err", err)
			}
			continue
		}
		if !e.IsDir() || bus.ValidateName("topic", name) != nil {
			continue
		}
		t, err := openTopic(name, filepath.Join(b.dir, name), &b.cfg)
		if err != nil {
			return fmt.Errorf("stub: opening topic %s: %w", name, err)
		}
		b.topics[name] = t
	}
	return nil
}

// Features implements bus.Bus.
func (b *Bus) Features() bus.Features {
	return bus.Features{
		Durable:       !b.cfg.InMemory,
		OrderedByKey:  true,
		Replay:        true,
		Offsets:       true,
		AckDeadline:   true,
		MaxEventBytes: b.cfg.MaxEventBytes,
	}
}

// topic returns the named topic.
func (b *Bus) topic(name string) (*topic, error) {
	b.mu.RLock()
	t, ok := b.topics[name]
	closed := b.closed
	b.mu.RUnlock()
	switch {
	case closed:
		return nil, bus.ErrClosed
	case ok:
		return t, nil
	}
	if err := bus.ValidateName("topic", name); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %s", bus.ErrTopicNotFound, name)
}

// Publish implements bus.Bus.
func (b *Bus) Publish(ctx context.Context, topic string, events ...*event.Event) error {
	t, err := b.topic(topic)
	if err != nil {
		return err
	}
	return t.publish(ctx, events)
}

// Subscribe implements bus.Bus.
func (b *Bus) Subscribe(ctx context.Context, topic, group string, opts bus.SubscribeOptions) (bus.Subscription, error) {
	if err := bus.ValidateName("group", group); err != nil {
		return nil, err
	}
	if err := validateOptions(opts); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := b.topic(topic)
	if err != nil {
		return nil, err
	}
	g, err := t.group(group, opts.StartFrom)
	if err != nil {
		return nil, err
	}
	m, err := g.join(opts)
	if err != nil {
		return nil, fmt.Errorf("stub: subscribing %s/%s: %w", topic, group, err)
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { m.Close() })
		g.mu.Lock()
		m.stopWatch = stop
		g.mu.Unlock()
	}
	return m, nil
}

func validateOptions(o bus.SubscribeOptions) error {
	var errs []error
	if o.AckDeadline < 0 {
		errs = append(errs, fmt.Errorf("AckDeadline %v is negative", o.AckDeadline))
	}
	if o.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("MaxInFlight %d is negative", o.MaxInFlight))
	}
	if k := o.StartFrom.Kind; k < bus.StartLatest || k > bus.StartTime {
		errs = append(errs, fmt.Errorf("unknown StartFrom kind %d", k))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stub: invalid subscribe options: %w", err)
	}
	return nil
}

// EnsureTopic implements bus.Bus.
func (b *Bus) EnsureTopic(ctx context.Context, name string) error {
	if err := bus.ValidateName("topic", name); err != nil {
		return err
	}
	b.mu.RLock()
	_, ok := b.topics[name]
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return bus.ErrClosed
	}
	if ok {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return bus.ErrClosed
	}
	if _, ok := b.topics[name]; ok {
		return nil
	}
	dir := ""
	if b.dir != "" {
		dir = filepath.Join(b.dir, name)
	}
	t, err := createTopic(name, dir, &b.cfg)
	if err != nil {
		return fmt.Errorf("stub: creating topic %s: %w", name, err)
	}
	b.topics[name] = t
	return nil
}

// DeleteTopic implements bus.Bus.
func (b *Bus) DeleteTopic(ctx context.Context, name string) error {
	if err := bus.ValidateName("topic", name); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return bus.ErrClosed
	}
	t, ok := b.topics[name]
	if !ok {
		return nil
	}
	delete(b.topics, name)
	t.shutdown(bus.ErrTopicNotFound)
	if t.dir == "" {
		return nil
	}
	// Rename first so that a crash never leaves half a topic behind.
	gone := filepath.Join(b.dir, fmt.Sprintf("%s%s-%d", deletedPrefix, name, time.Now().UnixNano()))
	if err := os.Rename(t.dir, gone); err != nil {
		return fmt.Errorf("stub: deleting topic %s: %w", name, err)
	}
	if err := syncDir(b.dir); err != nil {
		return fmt.Errorf("stub: deleting topic %s: %w", name, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		b.cfg.Logger.Warn("stub: removing a deleted topic's files", "dir", gone, "err", err)
	}
	return nil
}

// DeleteGroup implements bus.GroupDeleter.
func (b *Bus) DeleteGroup(ctx context.Context, topic, group string) error {
	if err := bus.ValidateName("group", group); err != nil {
		return err
	}
	t, err := b.topic(topic)
	if err != nil {
		if errors.Is(err, bus.ErrTopicNotFound) {
			return nil
		}
		return err
	}
	t.deleteGroup(group)
	return nil
}

// Close implements bus.Bus.
func (b *Bus) Close() error {
	var err error
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		topics := b.topics
		b.topics = nil
		b.mu.Unlock()
		close(b.stopJanitor)
		<-b.janitorDone
		for _, t := range topics {
			t.shutdown(bus.ErrClosed)
		}
		if b.lock != nil {
			err = b.lock.Close()
		}
	})
	return err
}

// janitor applies age retention periodically.
func (b *Bus) janitor() {
	defer close(b.janitorDone)
	tick := time.NewTicker(b.cfg.RetentionCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.stopJanitor:
			return
		case now := <-tick.C:
			b.mu.RLock()
			ts := make([]*topic, 0, len(b.topics))
			for _, t := range b.topics {
				ts = append(ts, t)
			}
			b.mu.RUnlock()
			for _, t := range ts {
				t.applyRetention(now)
			}
		}
	}
}
