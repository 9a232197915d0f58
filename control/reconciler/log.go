package reconciler

import (
	"context"
	"log/slog"
)

type loggerKey struct{}

// WithLogger returns a context carrying l, for LoggerFrom.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// LoggerFrom returns the logger in ctx, or slog.Default(). The context a Controller passes to
// Reconcile carries a logger with the controller's name and the key as attributes.
func LoggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
