package rabbitmq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eddyplatform/eddy/bus"
)

// connector owns the bus's one AMQP connection and reconnects it, with
// exponential backoff and jitter, whenever it is lost. Everything else gets
// the current connection from it and opens its own channels.
type connector struct {
	cfg       *Config
	log       *slog.Logger
	tls       *tls.Config
	onConnect func(*amqp.Connection) error // run on each new connection before it is handed out

	mu   sync.Mutex
	conn *amqp.Connection // nil while disconnected
	gen  uint64           // counts connections
	up   chan struct{}    // closed while conn is set; replaced when it is lost

	stop chan struct{} // closed by close
	done chan struct{} // closed when run returns
}

// errDisconnected is returned by operations cut short by a lost connection;
// callers retry them on the next one.
var errDisconnected = errors.New("rabbitmq: connection lost")

func newConnector(cfg *Config, tc *tls.Config, onConnect func(*amqp.Connection) error) *connector {
	return &connector{
		cfg:       cfg,
		log:       cfg.Logger,
		tls:       tc,
		onConnect: onConnect,
		up:        make(chan struct{}),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// start dials the first connection, failing if it cannot be had before ctx
// ends or the first attempt fails, and then keeps the bus connected in the
// background.
func (c *connector) start(ctx context.Context) error {
	conn, err := c.dial(ctx)
	if err != nil {
		close(c.done)
		return err
	}
	go c.run(conn)
	return nil
}

// dial makes one connection attempt, bounded by ctx and DialTimeout.
func (c *connector) dial(ctx context.Context) (*amqp.Connection, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	props := amqp.NewConnectionProperties()
	props[connectionNameProp] = c.cfg.ConnectionName
	acfg := amqp.Config{
		SASL:            c.cfg.auth(),
		Vhost:           c.cfg.vhost(),
		Heartbeat:       c.cfg.Heartbeat,
		TLSClientConfig: c.tls,
		Properties:      props,
		Dial: func(network, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// Handshake deadline; amqp091 clears it once the AMQP
			// handshake is done.
			deadline, _ := ctx.Deadline()
			if err := nc.SetDeadline(deadline); err != nil {
				nc.Close()
				return nil, err
			}
			return nc, nil
		},
	}
	type result struct {
		conn *amqp.Connection
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		conn, err := amqp.DialConfig(c.cfg.URL, acfg)
		if err == nil && c.onConnect != nil {
			if err = c.onConnect(conn); err != nil {
				conn.Close()
				conn = nil
			}
		}
		ch <- result{conn, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("rabbitmq: connecting to %s: %w", c.cfg.address(), sanitize(r.err))
		}
		return r.conn, nil
	case <-ctx.Done():
		go func() { // the dial goroutine ends by the handshake deadline
			if r := <-ch; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, fmt.Errorf("rabbitmq: connecting to %s: %w", c.cfg.address(), ctx.Err())
	}
}

// sanitize strips anything but the reason from dial errors: url.Error would
// quote the URL.
func sanitize(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// run keeps the bus connected until close.
func (c *connector) run(conn *amqp.Connection) {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := c.cfg.ReconnectBackoff
	for {
		if conn == nil {
			var err error
			conn, err = c.dial(ctx)
			if err != nil {
				wait := jitter(backoff)
				c.log.Warn("rabbitmq: reconnect failed; retrying", "url", c.cfg.address(), "err", err, "retryIn", wait)
				backoff = min(2*backoff, c.cfg.MaxReconnectBackoff)
				select {
				case <-time.After(wait):
					continue
				case <-c.stop:
					return
				}
			}
			c.log.Info("rabbitmq: reconnected", "url", c.cfg.address())
			backoff = c.cfg.ReconnectBackoff
		}
		closed := conn.NotifyClose(make(chan *amqp.Error, 1))
		blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
		c.mu.Lock()
		c.conn = conn
		c.gen++
		close(c.up)
		c.mu.Unlock()
	watch:
		for {
			select {
			case b, ok := <-blocked:
				if !ok { // closed with the connection
					blocked = nil
					continue
				}
				if b.Active {
					c.log.Warn("rabbitmq: broker blocks publishing (resource alarm)", "reason", b.Reason)
				} else {
					c.log.Info("rabbitmq: broker unblocked publishing")
				}
			case e := <-closed:
				c.mu.Lock()
				c.conn = nil
				c.up = make(chan struct{})
				c.mu.Unlock()
				c.log.Warn("rabbitmq: connection lost; reconnecting", "url", c.cfg.address(), "err", e)
				conn = nil
				break watch
			case <-c.stop:
				c.mu.Lock()
				c.conn = nil
				c.mu.Unlock()
				conn.Close()
				return
			}
		}
	}
}

// get returns the current connection and its generation, waiting for one
// until ctx ends, or abort is closed or the connector stops (then
// bus.ErrClosed).
func (c *connector) get(ctx context.Context, abort <-chan struct{}) (*amqp.Connection, uint64, error) {
	for {
		c.mu.Lock()
		conn, gen, up := c.conn, c.gen, c.up
		c.mu.Unlock()
		if conn != nil && !conn.IsClosed() {
			return conn, gen, nil
		}
		if conn != nil { // closed, and run has not noticed yet
			select {
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			case <-c.stop:
				return nil, 0, bus.ErrClosed
			case <-abort:
				return nil, 0, bus.ErrClosed
			}
			continue
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-c.stop:
			return nil, 0, bus.ErrClosed
		case <-abort:
			return nil, 0, bus.ErrClosed
		}
	}
}

// close stops reconnecting, closes the connection and waits for run.
func (c *connector) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d)
}
