package conns

import (
	"bytes"
	"io"
)

// ReadMessage reads one whole message from r, keeping it only if it is at most limit bytes. A
// longer message is read to its end and thrown away, so the connection stays usable and the
// edge can answer it with an error: it returns (nil, size, nil). The transport's own read limit
// bounds how much is read.
func ReadMessage(r io.Reader, limit int64) ([]byte, int64, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, n, err
	}
	if n <= limit {
		return buf.Bytes(), n, nil
	}
	rest, err := io.Copy(io.Discard, r)
	return nil, n + rest, err
}
