package stub

// deadlineHeap is a min-heap of received, unsettled entries by deadline.
// Each entry keeps its index in hidx so that it can be removed or fixed in
// O(log n).
type deadlineHeap []*entry

func (h deadlineHeap) len() int { return len(h) }

// min returns the entry with the earliest deadline; h must not be empty.
func (h deadlineHeap) min() *entry { return h[0] }

func (h *deadlineHeap) push(e *entry) {
	e.hidx = len(*h)
	*h = append(*h, e)
	h.up(e.hidx)
}

// remove removes the entry at index i.
func (h *deadlineHeap) remove(i int) {
	s := *h
	n := len(s) - 1
	e := s[i]
	if i != n {
		h.swap(i, n)
	}
	s[n] = nil
	*h = s[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
	e.hidx = -1
}

// fix restores the order after the entry at i changed its deadline.
func (h *deadlineHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h deadlineHeap) less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }

func (h deadlineHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx = i
	h[j].hidx = j
}

func (h deadlineHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

// down sifts the entry at i0 down and reports whether it moved.
func (h deadlineHeap) down(i0 int) bool {
	i := i0
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
