package stub

import (
	"os"
	"path/filepath"

	"github.com/eddyplatform/eddy/bus"
)

// group returns the named group, creating it at pos if it does not exist.
func (t *topic) group(name string, pos bus.Position) (*group, error) {
	t.groupsMu.Lock()
	defer t.groupsMu.Unlock()
	if err := t.closedErr(); err != nil {
		return nil, err
	}
	if g := t.groups[name]; g != nil {
		return g, nil
	}
	off, err := t.offsetFor(pos)
	if err != nil {
		return nil, err
	}
	var file *offsetFile
	if t.dir != "" {
		if file, err = createOffsetFile(t.dir, name, off); err != nil {
			return nil, err
		}
	}
	g := newGroup(t, name, off, file)
	t.groups[name] = g
	return g, nil
}

// offsetFor returns the offset a new group starting at pos starts at.
func (t *topic) offsetFor(pos bus.Position) (int64, error) {
	switch pos.Kind {
	case bus.StartEarliest, bus.StartOffset:
		t.mu.RLock()
		defer t.mu.RUnlock()
		if pos.Kind == bus.StartEarliest {
			return t.startOffset(), nil
		}
		return min(max(pos.Offset, t.startOffset()), t.endOffset()), nil
	case bus.StartTime:
		c, err := t.seekTime(pos.Time.UnixNano())
		return c.off, err
	default:
		t.mu.RLock()
		defer t.mu.RUnlock()
		return t.endOffset(), nil
	}
}

// openGroups loads the groups stored with the topic. A group whose file is
// unreadable restarts at the oldest retained event: duplicates, not loss.
func (t *topic) openGroups() error {
	dir := filepath.Join(t.dir, groupsDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || bus.ValidateName("group", name) != nil {
			continue
		}
		file, off, err := openOffsetFile(filepath.Join(dir, name))
		if err != nil {
			off = t.startOffset()
			t.log.Warn("stub: group offset unreadable; it restarts at the oldest event", "group", name, "err", err)
			if file, err = createOffsetFile(t.dir, name, off); err != nil {
				return err
			}
		}
		if end := t.endOffset(); off > end {
			// Only if the disk lost fsynced records: skipping the offsets
			// the log will reuse would lose events.
			t.log.Warn("stub: group offset is past the end of the log; resuming at the end", "group", name, "offset", off, "end", end)
			off = end
		}
		t.groups[name] = newGroup(t, name, off, file)
	}
	return nil
}

// deleteGroup stops and forgets a group.
func (t *topic) deleteGroup(name string) {
	// Hold groupsMu until the file is gone, so that a new group of the same
	// name cannot create its file first.
	t.groupsMu.Lock()
	defer t.groupsMu.Unlock()
	if g := t.groups[name]; g != nil {
		delete(t.groups, name)
		g.stop(nil, true)
	}
}

// shutdown closes the topic: new publishes fail, accepted ones are stored,
// groups stop (their subscriptions end with reason) and stores close.
func (t *topic) shutdown(reason error) {
	t.mu.Lock()
	t.closeErr = reason
	t.mu.Unlock()
	t.stopWriter()
	t.groupsMu.Lock()
	groups := t.groups
	t.groups = map[string]*group{}
	t.groupsMu.Unlock()
	for _, g := range groups {
		g.stop(reason, false)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closeStores()
}
