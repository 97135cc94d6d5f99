package cluster

import "context"

// fixStream checks the stream's settings (see checkStream), changes those
// it safely can, and returns an error naming the first it cannot.
func (e *Engine) fixStream(ctx context.Context) error {
	return nil
}
