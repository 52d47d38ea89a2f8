package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// SignalProtocol is the signalling protocol version the harness announces:
// what current LiveKit client SDKs speak; livekit-server v1.13.3 accepts up
// to 17.
const SignalProtocol = 16

// joinTimeout bounds the handshake and the wait for the JoinResponse.
const joinTimeout = 60 * time.Second

// JoinRefusedError is a websocket upgrade the server answered with an HTTP
// error instead of joining.
type JoinRefusedError struct {
	Status int
	// Body is the server's answer, with tokens redacted (it echoes them).
	Body string
}

func (e *JoinRefusedError) Error() string {
	return fmt.Sprintf("join refused: HTTP %d: %s", e.Status, e.Body)
}

// SignalConn is a signalling websocket that has joined a room. It keeps
// reading in the background so that the server's websocket pings are
// answered, and sends LiveKit pings at the interval the server asked for,
// so the participant stays in the room until Close.
type SignalConn struct {
	// Join is the server's JoinResponse.
	Join *livekit.JoinResponse

	conn    *websocket.Conn
	writeMu sync.Mutex
	stop    chan struct{}
	readEnd chan struct{} // closed when the background reader returns
	readErr error
	once    sync.Once
}

// Join opens a signalling websocket to livekit-server at wsURL (ws://host:port)
// with token, the way LiveKit's client SDKs do (GET /rtc?access_token=...),
// and reads until the JoinResponse. A refused upgrade returns a
// *JoinRefusedError.
func Join(ctx context.Context, wsURL, token string) (*SignalConn, error) {
	q := url.Values{}
	q.Set("access_token", token)
	q.Set("protocol", fmt.Sprint(SignalProtocol))
	q.Set("auto_subscribe", "1")
	q.Set("adaptive_stream", "0")
	q.Set("sdk", "go")
	q.Set("version", "lktoken-e2e")
	dialer := websocket.Dialer{HandshakeTimeout: joinTimeout}
	conn, resp, err := dialer.DialContext(ctx, wsURL+"/rtc?"+q.Encode(), nil)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return nil, &JoinRefusedError{Status: resp.StatusCode, Body: Redact(string(body), token)}
		}
		// Dial errors carry the URL, and so the token.
		return nil, errors.New(Redact(fmt.Sprintf("signalling websocket: %v", err), token, url.QueryEscape(token)))
	}
	// Bounded even when ctx is not.
	deadline := time.Now().Add(joinTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetReadDeadline(deadline)
	for {
		msg, err := readSignal(conn)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("waiting for the JoinResponse: %w", err)
		}
		switch m := msg.Message.(type) {
		case *livekit.SignalResponse_Join:
			_ = conn.SetReadDeadline(time.Time{})
			sc := &SignalConn{Join: m.Join, conn: conn, stop: make(chan struct{}), readEnd: make(chan struct{})}
			go sc.readLoop()
			go sc.pingLoop(time.Duration(m.Join.PingInterval) * time.Second)
			return sc, nil
		case *livekit.SignalResponse_Leave:
			conn.Close()
			return nil, fmt.Errorf("server sent leave before joining: reason %s", m.Leave.GetReason())
		}
	}
}

// readSignal reads one SignalResponse: binary protobuf, or JSON from servers
// that answer in text frames.
func readSignal(conn *websocket.Conn) (*livekit.SignalResponse, error) {
	kind, data, err := conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	msg := &livekit.SignalResponse{}
	switch kind {
	case websocket.BinaryMessage:
		err = proto.Unmarshal(data, msg)
	case websocket.TextMessage:
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, msg)
	}
	if err != nil {
		return nil, fmt.Errorf("decode SignalResponse: %w", err)
	}
	return msg, nil
}

func (sc *SignalConn) readLoop() {
	defer close(sc.readEnd)
	for {
		if _, err := readSignal(sc.conn); err != nil {
			sc.readErr = err
			return
		}
	}
}

// Done is closed once the connection has ended, by the server or by Close.
func (sc *SignalConn) Done() <-chan struct{} { return sc.readEnd }

// Err says how the connection ended; it is nil until Done is closed.
func (sc *SignalConn) Err() error {
	select {
	case <-sc.readEnd:
		return sc.readErr
	default:
		return nil
	}
}

func (sc *SignalConn) pingLoop(every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-sc.stop:
			return
		case <-sc.readEnd:
			return
		case <-t.C:
			now := time.Now().UnixMilli()
			_ = sc.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: now}}})
		}
	}
}

func (sc *SignalConn) send(req *livekit.SignalRequest) error {
	b, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	sc.writeMu.Lock()
	defer sc.writeMu.Unlock()
	_ = sc.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return sc.conn.WriteMessage(websocket.BinaryMessage, b)
}

// Close leaves the room cleanly: a LeaveRequest, a websocket close, then it
// waits (bounded) for the server to end the connection.
func (sc *SignalConn) Close() error {
	var err error
	sc.once.Do(func() {
		close(sc.stop)
		err = sc.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Leave{Leave: &livekit.LeaveRequest{
			Reason: livekit.DisconnectReason_CLIENT_INITIATED,
			Action: livekit.LeaveRequest_DISCONNECT,
		}}})
		sc.writeMu.Lock()
		_ = sc.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
		sc.writeMu.Unlock()
		select {
		case <-sc.readEnd:
		case <-time.After(10 * time.Second):
		}
		_ = sc.conn.Close() // the server has usually closed it already
	})
	return err
}
