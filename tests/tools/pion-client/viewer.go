package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc"
)

// viewer is one WHEP player: a pion PeerConnection with a recvonly H.264 and a recvonly Opus transceiver.
// Counters are atomics: the track readers write them, the stats ticker and the summary read them.
type viewer struct {
	id  int
	cfg *config
	api *webrtc.API
	out *output

	pc        *webrtc.PeerConnection
	location  string // WHEP resource (absolute URL) for DELETE
	localSSRC uint32 // our RTCP sender SSRC (PLI, BYE); a receive-only peer picks one at random

	startNs     atomic.Int64 // when this viewer began joining (ns since process start, +1 so 0 = unset)
	answerNs    atomic.Int64 // 201 received
	connectedNs atomic.Int64 // PeerConnectionState connected
	firstNs     atomic.Int64 // first complete video frame
	closedNs    atomic.Int64 // closed by us (-close-after or end of run)

	frames      atomic.Int64 // complete video frames (RTP marker bit, duplicates not counted)
	keyframes   atomic.Int64
	videoPkts   atomic.Int64 // distinct video packets
	dupPkts     atomic.Int64 // video packets seen again (retransmissions of packets we had, duplicates)
	expected    atomic.Int64 // video packets the sequence numbers say were sent (highest - first + 1)
	audioPkts   atomic.Int64
	bytes       atomic.Int64 // RTP header + payload of both tracks, after SRTP
	rtcpIn      atomic.Int64 // RTCP packets read (sender reports...)
	plis        atomic.Int64 // PLIs we sent
	disconnects atomic.Int64 // transitions to disconnected
	warmNs      atomic.Int64 // start of the fps window: first frame + warmup
	warmFrames  atomic.Int64 // frames at warmNs
	closeFrames atomic.Int64 // frames when closed

	mu         sync.Mutex
	state      string // last PeerConnectionState, or "signal-failed"
	err        string
	deleteCode int
	videoSSRC  uint32
}

func (v *viewer) setErr(format string, a ...interface{}) {
	v.mu.Lock()
	if v.err == "" {
		v.err = fmt.Sprintf(format, a...)
	}
	v.mu.Unlock()
}

func (v *viewer) setState(s string) {
	v.mu.Lock()
	v.state = s
	v.mu.Unlock()
}

func (v *viewer) snapshot() (state, err string, deleteCode int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.state, v.err, v.deleteCode
}

// join creates the peer connection, POSTs the offer and applies the answer. It returns when the answer is
// set (or on error); ICE, DTLS and media go on in pion's goroutines.
func (v *viewer) join(ctx context.Context, client *http.Client) error {
	v.startNs.Store(v.out.now())
	v.setState("new")
	pc, err := v.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("new peer connection: %w", err)
	}
	v.pc = pc
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		v.setState(s.String())
		switch s {
		case webrtc.PeerConnectionStateConnected:
			if v.connectedNs.Load() == 0 {
				v.connectedNs.Store(v.out.now())
				v.out.event(v.id, "connected", nil)
			}
		case webrtc.PeerConnectionStateDisconnected:
			v.disconnects.Add(1)
			v.out.event(v.id, "disconnected", nil)
		case webrtc.PeerConnectionStateFailed:
			v.setErr("peer connection failed (ICE or DTLS)")
			v.out.event(v.id, "failed", nil)
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		go v.readRTCP(r)
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			v.mu.Lock()
			v.videoSSRC = uint32(t.SSRC())
			v.mu.Unlock()
			go v.readVideo(t)
			if v.cfg.pliEvery > 0 {
				go v.sendPLIs(ctx, uint32(t.SSRC()))
			}
		} else {
			go v.readAudio(t)
		}
	})
	recv := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, recv); err != nil {
		return fmt.Errorf("add video transceiver: %w", err)
	}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, recv); err != nil {
		return fmt.Errorf("add audio transceiver: %w", err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set local description: %w", err)
	}
	// WHEP without trickle: the offer carries every candidate (RFC 9725 section 4.1 allows either).
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("ICE gathering did not complete in 10 s")
	case <-ctx.Done():
		return ctx.Err()
	}
	sdp := pc.LocalDescription().SDP
	if v.id == 0 {
		v.out.line(map[string]interface{}{"type": "offer", "id": 0, "candidates": candidateLines(sdp)})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.cfg.url, strings.NewReader(sdp))
	if err != nil {
		return fmt.Errorf("WHEP request: %w", err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("WHEP POST: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if err != nil {
		return fmt.Errorf("WHEP POST: reading the answer: %w", err)
	}
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("WHEP POST: status %d: %.200s", res.StatusCode, bytes.TrimSpace(body))
	}
	v.answerNs.Store(v.out.now())
	if loc := res.Header.Get("Location"); loc != "" {
		v.location = resolve(v.cfg.url, loc)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		return fmt.Errorf("set remote description (answer): %w", err)
	}
	return nil
}

// candidateLines returns the a=candidate values of an SDP (for the report of what pion offers).
func candidateLines(sdp string) []string {
	var c []string
	for _, l := range strings.Split(sdp, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "a=candidate:") {
			c = append(c, strings.TrimPrefix(l, "a="))
		}
	}
	return c
}

// readVideo counts complete frames: a distinct packet (by extended sequence number, RFC 3550 appendix A.1)
// with the marker bit ends a frame (RFC 6184 section 5.1). A packet seen before (a retransmission of a packet
// that was not lost, a duplicate) is not counted again. A frame with an IDR slice is a keyframe.
func (v *viewer) readVideo(t *webrtc.TrackRemote) {
	buf := make([]byte, 1600)
	var pkt rtp.Packet
	seen := make([]uint8, 65536) // per 16-bit sequence number: (lap & 0x7f) + 1 when last received
	maxSeq := int64(-1)
	firstSeq := int64(0)
	var frameTS uint32
	frameIDR := false
	haveTS := false
	warm := time.Duration(v.cfg.warmup * float64(time.Second))
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		v.bytes.Add(int64(n))
		seq := int64(pkt.SequenceNumber)
		ext := seq
		if maxSeq >= 0 {
			ext = maxSeq - (maxSeq & 0xffff) + seq
			if ext < maxSeq-0x8000 {
				ext += 0x10000
			} else if ext > maxSeq+0x8000 {
				ext -= 0x10000
			}
		} else {
			firstSeq = ext
		}
		tag := uint8((ext>>16)&0x7f) + 1
		if seen[seq] == tag {
			v.dupPkts.Add(1)
			continue
		}
		seen[seq] = tag
		v.videoPkts.Add(1)
		if ext > maxSeq {
			maxSeq = ext
			v.expected.Store(maxSeq - firstSeq + 1)
		}
		if !haveTS || pkt.Timestamp != frameTS {
			frameTS, haveTS, frameIDR = pkt.Timestamp, true, false
		}
		if carriesIDR(pkt.Payload) {
			frameIDR = true
		}
		if !pkt.Marker {
			continue
		}
		frames := v.frames.Add(1)
		if frameIDR {
			v.keyframes.Add(1)
		}
		now := v.out.now()
		if frames == 1 {
			v.firstNs.Store(now)
			v.out.event(v.id, "first-frame", map[string]interface{}{"joinMs": msBetween(v.startNs.Load(), now), "keyframe": frameIDR})
		}
		if v.warmNs.Load() == 0 && time.Duration(now-v.firstNs.Load()) >= warm {
			v.warmFrames.Store(frames)
			v.warmNs.Store(now)
		}
	}
}

func (v *viewer) readAudio(t *webrtc.TrackRemote) {
	buf := make([]byte, 1600)
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		v.audioPkts.Add(1)
		v.bytes.Add(int64(n))
	}
}

// readRTCP drains a receiver's RTCP: pion's interceptors (receiver reports need the sender reports' times,
// RFC 3550 section 6.4.1) only see RTCP that is read.
func (v *viewer) readRTCP(r *webrtc.RTPReceiver) {
	for {
		pkts, _, err := r.ReadRTCP()
		if err != nil {
			return
		}
		v.rtcpIn.Add(int64(len(pkts)))
	}
}

// sendPLIs sends a Picture Loss Indication (RFC 4585 section 6.3.1) every -pli-every seconds.
func (v *viewer) sendPLIs(ctx context.Context, mediaSSRC uint32) {
	tick := time.NewTicker(time.Duration(v.cfg.pliEvery * float64(time.Second)))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if v.closedNs.Load() != 0 {
				return
			}
			if err := v.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{SenderSSRC: v.localSSRC, MediaSSRC: mediaSSRC}}); err == nil {
				v.plis.Add(1)
			}
		}
	}
}

// close ends the viewer like a well-behaved app: optionally an RTCP BYE (RFC 3550 section 6.6), then
// pc.Close() (which sends a DTLS close_notify alert, RFC 5246 section 7.2.1), then the WHEP DELETE (RFC 9725
// section 4.3) unless -no-delete.
func (v *viewer) close(client *http.Client) {
	if v.closedNs.Load() != 0 || v.pc == nil {
		return
	}
	v.closeFrames.Store(v.frames.Load())
	v.closedNs.Store(v.out.now())
	if v.cfg.bye {
		_ = v.pc.WriteRTCP([]rtcp.Packet{&rtcp.Goodbye{Sources: []uint32{v.localSSRC}}})
	}
	if err := v.pc.Close(); err != nil {
		v.setErr("close: %v", err)
	}
	code := 0
	if !v.cfg.noDelete && v.location != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, v.location, nil)
		if err == nil {
			if res, err := client.Do(req); err == nil {
				code = res.StatusCode
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			} else {
				code = -1
			}
		}
		cancel()
	}
	v.mu.Lock()
	v.deleteCode = code
	v.mu.Unlock()
	v.out.event(v.id, "closed", map[string]interface{}{"bye": v.cfg.bye, "delete": code})
}

func newLocalSSRC(r *rand.Rand) uint32 {
	for {
		if s := r.Uint32(); s != 0 {
			return s
		}
	}
}

// resolve makes a Location header absolute against the WHEP URL.
func resolve(base, loc string) string {
	b, err := url.Parse(base)
	if err != nil {
		return loc
	}
	u, err := b.Parse(loc)
	if err != nil {
		return loc
	}
	return u.String()
}
