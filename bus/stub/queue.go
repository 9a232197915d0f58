package stub

// queue is a FIFO on a growable ring buffer. The zero value is empty.
type queue[T any] struct {
	buf  []T
	head int
	n    int
}

func (q *queue[T]) len() int { return q.n }

func (q *queue[T]) push(v T) {
	if q.n == len(q.buf) {
		nb := make([]T, max(16, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
}

// front returns the oldest element; the queue must not be empty.
func (q *queue[T]) front() T { return q.buf[q.head] }

// at returns the i-th oldest element.
func (q *queue[T]) at(i int) T { return q.buf[(q.head+i)%len(q.buf)] }

// pop removes and returns the oldest element; the queue must not be empty.
func (q *queue[T]) pop() T {
	var zero T
	v := q.buf[q.head]
	q.buf[q.head] = zero
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return v
}

// reset empties the queue.
func (q *queue[T]) reset() { *q = queue[T]{} }
