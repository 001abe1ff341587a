// Command pion-client is a WHEP load client built on pion/webrtc v3: N viewers in one process, each a pion
// PeerConnection that POSTs a recvonly H.264 + Opus offer to a WHEP URL and counts what it receives. It is
// the independent (non-werift, non-browser) WebRTC peer of srs-ts's e2e tests and benchmarks
// (tests/helpers/pion.ts builds and runs it; bench/rtc-viewers.ts --client pion).
//
// Build (Debian's Go and pion packages, GOPATH mode, no network):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o pion-client .
//
// pion is imported as "github.com/pion/webrtc", not ".../webrtc/v3": in GOPATH mode the /v3 path only
// resolves for code that itself lives inside a GOPATH tree with a go.mod ("minimal module compatibility"),
// and this directory is neither. pion's own packages still import each other with their /vN paths.
//
// pion gathers host candidates of every interface that is up EXCEPT loopback (unless -loopback), so against a
// server on 127.0.0.1 it has nothing to offer: run it in a network namespace (tests/helpers/netns.ts).
//
// Output: JSON lines on stdout. {"type":"offer"} (viewer 0's candidates), {"type":"event"} per viewer
// (connected, first-frame, disconnected, failed, closed), {"type":"stats"} every -interval seconds, and a
// final {"type":"summary"}. Exit status 0 unless the flags are wrong (2).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/pion/ice/v2"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc"
)

type config struct {
	n           int
	url         string
	seconds     float64
	join        int
	pliEvery    float64
	closeAfter  float64
	bye         bool
	noDelete    bool
	interval    float64
	warmup      float64
	fps         float64
	mdns        bool
	loopback    bool
	joinTimeout float64
	rate        float64
}

func parseFlags() *config {
	c := &config{}
	flag.IntVar(&c.n, "n", 1, "number of viewers")
	flag.StringVar(&c.url, "url", "", "WHEP endpoint, e.g. http://10.1.2.1:1985/rtc/v1/whep/?app=live&stream=livestream")
	flag.Float64Var(&c.seconds, "seconds", 10, "run time in seconds from start; 0 = until SIGINT/SIGTERM")
	flag.IntVar(&c.join, "join", 0, "how many viewers join (offer..answer) at once; 0 = all at once (a burst)")
	flag.Float64Var(&c.rate, "rate", 0, "at most this many viewers begin joining per second (0 = no pacing)")
	flag.Float64Var(&c.pliEvery, "pli-every", 0, "each viewer sends an RTCP PLI every this many seconds (0 = never)")
	flag.Float64Var(&c.closeAfter, "close-after", 0, "each viewer closes (pc.Close) this many seconds after it began joining (0 = at the end)")
	flag.BoolVar(&c.bye, "bye", false, "send an RTCP BYE before pc.Close")
	flag.BoolVar(&c.noDelete, "no-delete", false, "do not DELETE the WHEP resource when a viewer closes")
	flag.Float64Var(&c.interval, "interval", 1, "seconds between {\"type\":\"stats\"} lines (0 = none)")
	flag.Float64Var(&c.warmup, "warmup", 1, "a viewer's fps window starts this many seconds after its first frame")
	flag.Float64Var(&c.fps, "fps", 25, "the stream's frame rate: a viewer at >= 90% of it is at full rate")
	flag.BoolVar(&c.mdns, "mdns", false, "keep pion's default mDNS mode (query only); off by default: one multicast socket per viewer is wasted work")
	flag.BoolVar(&c.loopback, "loopback", false, "also offer loopback candidates (pion does not by default; lets it run without a namespace)")
	flag.Float64Var(&c.joinTimeout, "join-timeout", 15, "a viewer without a first frame this many seconds after it began joining is reported as a failed join")
	flag.Parse()
	if c.url == "" || c.n < 1 || c.seconds < 0 || c.join < 0 || c.pliEvery < 0 || c.closeAfter < 0 || c.interval < 0 || c.warmup < 0 || c.rate < 0 {
		fmt.Fprintln(os.Stderr, "pion-client: -url is required; -n >= 1; other numbers >= 0")
		flag.Usage()
		os.Exit(2)
	}
	return c
}

// output writes JSON lines to stdout, one writer at a time.
type output struct {
	mu    sync.Mutex
	start time.Time
}

// now is nanoseconds since the process started, never 0 (0 means "not yet" in the viewer's atomics).
func (o *output) now() int64 {
	return int64(time.Since(o.start)) + 1
}

func (o *output) line(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"type":"error","error":%q}`, err.Error()))
	}
	o.mu.Lock()
	os.Stdout.Write(append(b, '\n'))
	o.mu.Unlock()
}

func (o *output) event(id int, name string, extra map[string]interface{}) {
	m := map[string]interface{}{"type": "event", "t": secs(o.now()), "id": id, "event": name}
	for k, v := range extra {
		m[k] = v
	}
	o.line(m)
}

func secs(ns int64) float64 { return math.Round(float64(ns)/1e6) / 1e3 }

func msBetween(a, b int64) float64 {
	if a == 0 || b == 0 {
		return -1
	}
	return math.Round(float64(b-a)/1e5) / 10
}

// newAPI builds what every viewer shares: a media engine with H.264 (packetization-mode 1, the profiles
// browsers offer) and Opus, pion's default interceptors (NACK generator/responder, RTCP sender/receiver
// reports, TWCC feedback: the same set as webrtc.NewPeerConnection without an API), and the setting engine.
func newAPI(c *config) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}}
	for _, h := range []struct {
		pt   webrtc.PayloadType
		fmtp string
	}{
		{102, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"},
		{106, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
		{112, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f"},
	} {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h.fmtp, RTCPFeedback: fb},
			PayloadType:        h.pt,
		}, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	if !c.mdns {
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if c.loopback {
		se.SetIncludeLoopbackCandidate(true)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

func main() {
	c := parseFlags()
	out := &output{start: time.Now()}
	api, err := newAPI(c)
	if err != nil {
		out.line(map[string]interface{}{"type": "error", "error": "pion API: " + err.Error()})
		os.Exit(1)
	}
	client := &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second},
	}
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		cancel()
	}()
	if c.seconds > 0 {
		t := time.AfterFunc(time.Duration(c.seconds*float64(time.Second)), cancel)
		defer t.Stop()
	}
	out.line(map[string]interface{}{"type": "start", "viewers": c.n, "url": c.url, "join": c.join, "pliEvery": c.pliEvery,
		"closeAfter": c.closeAfter, "bye": c.bye, "noDelete": c.noDelete, "mdns": c.mdns})

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	viewers := make([]*viewer, c.n)
	for i := range viewers {
		viewers[i] = &viewer{id: i, cfg: c, api: api, out: out, localSSRC: newLocalSSRC(rng)}
	}
	slots := c.join
	if slots == 0 {
		slots = c.n
	}
	sem := make(chan struct{}, slots)
	var wg sync.WaitGroup
	for _, v := range viewers {
		wg.Add(1)
		go func(v *viewer) {
			defer wg.Done()
			if c.rate > 0 {
				select {
				case <-time.After(time.Duration(float64(v.id) / c.rate * float64(time.Second))):
				case <-ctx.Done():
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			err := v.join(ctx, client)
			<-sem
			if err != nil {
				v.setErr("%v", err)
				v.setState("signal-failed")
				v.out.event(v.id, "failed", map[string]interface{}{"error": err.Error()})
				return
			}
			if c.closeAfter > 0 {
				due := time.Duration(v.startNs.Load()) + time.Duration(c.closeAfter*float64(time.Second))
				select {
				case <-time.After(due - time.Since(out.start)):
					v.close(client)
				case <-ctx.Done():
				}
			}
		}(v)
	}

	if c.interval > 0 {
		go statsLoop(ctx, c, out, viewers)
	}
	<-ctx.Done()
	end := out.now()
	s := summarize(c, viewers, end)
	// Close every viewer still open (bounded: a stuck close must not hang the run).
	closed := make(chan struct{})
	go func() {
		var cw sync.WaitGroup
		for _, v := range viewers {
			cw.Add(1)
			go func(v *viewer) {
				defer cw.Done()
				v.close(client)
			}(v)
		}
		cw.Wait()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		s["closeTimedOut"] = true
	}
	deletes := map[string]int{}
	for _, v := range viewers {
		_, _, code := v.snapshot()
		deletes[fmt.Sprint(code)]++
	}
	s["deleteStatus"] = deletes
	out.line(s)
}

// statsLoop prints a line every -interval: per viewer, cumulative complete frames, bytes, distinct and expected
// video packets and audio packets (so a caller can compute any window); how many viewers are connected and
// receiving; the fps spread over the last interval.
func statsLoop(ctx context.Context, c *config, out *output, viewers []*viewer) {
	tick := time.NewTicker(time.Duration(c.interval * float64(time.Second)))
	defer tick.Stop()
	prev := make([]int64, len(viewers))
	prevT := out.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := out.now()
		dt := float64(now-prevT) / 1e9
		prevT = now
		frames := make([]int64, len(viewers))
		vbytes := make([]int64, len(viewers))
		vpkts := make([]int64, len(viewers))
		vexp := make([]int64, len(viewers))
		apkts := make([]int64, len(viewers))
		var fps []float64
		started, answered, connected, receiving, failed := 0, 0, 0, 0, 0
		var bytes int64
		for i, v := range viewers {
			f := v.frames.Load()
			frames[i] = f
			vbytes[i] = v.bytes.Load()
			vpkts[i] = v.videoPkts.Load()
			vexp[i] = v.expected.Load()
			apkts[i] = v.audioPkts.Load()
			bytes += vbytes[i]
			state, err, _ := v.snapshot()
			if v.startNs.Load() != 0 {
				started++
			}
			if v.answerNs.Load() != 0 {
				answered++
			}
			if state == "connected" && v.closedNs.Load() == 0 {
				connected++
			}
			if err != "" {
				failed++
			}
			if v.firstNs.Load() != 0 && v.closedNs.Load() == 0 {
				fps = append(fps, float64(f-prev[i])/dt)
				if f > prev[i] {
					receiving++
				}
			}
			prev[i] = f
		}
		out.line(map[string]interface{}{
			"type": "stats", "t": secs(now), "viewers": len(viewers), "started": started, "answered": answered,
			"connected": connected, "receiving": receiving, "failed": failed, "fps": spread(fps), "bytes": bytes,
			"frames": frames, "viewerBytes": vbytes, "videoPackets": vpkts, "videoExpected": vexp, "audioPackets": apkts,
		})
	}
}

// spread is min / p50 / p99 / max of xs (rounded), or zeros for none.
func spread(xs []float64) map[string]float64 {
	r := map[string]float64{"min": 0, "p50": 0, "p99": 0, "max": 0, "n": float64(len(xs))}
	if len(xs) == 0 {
		return r
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		if i < 0 {
			i = 0
		}
		return math.Round(s[i]*10) / 10
	}
	r["min"] = math.Round(s[0]*10) / 10
	r["p50"] = q(0.5)
	r["p99"] = q(0.99)
	r["max"] = math.Round(s[len(s)-1]*10) / 10
	return r
}

// summarize is the final line: per viewer, its fps over its window (first frame + -warmup .. its close or the
// end of the run), join time (began joining -> first complete frame), keyframes, bytes; and over all viewers
// the join time percentiles, the failed joins and their reasons, and how many were at full rate.
func summarize(c *config, viewers []*viewer, end int64) map[string]interface{} {
	var joins, connects, fpsAll []float64
	per := make([]map[string]interface{}, 0, len(viewers))
	reasons := map[string]int{}
	joined, failed, full, connectedNow := 0, 0, 0, 0
	keyMin := int64(-1)
	timeout := int64(c.joinTimeout * 1e9)
	for _, v := range viewers {
		state, err, code := v.snapshot()
		start, first := v.startNs.Load(), v.firstNs.Load()
		stop := end
		endFrames := v.frames.Load()
		if cl := v.closedNs.Load(); cl != 0 {
			stop, endFrames = cl, v.closeFrames.Load()
		} else if state == "connected" {
			connectedNow++
		}
		fps := -1.0 // no window (no frame, or closed before the warm-up ended)
		if w := v.warmNs.Load(); w != 0 && stop > w {
			fps = float64(endFrames-v.warmFrames.Load()) / (float64(stop-w) / 1e9)
			fpsAll = append(fpsAll, fps)
			if fps >= 0.9*c.fps {
				full++
			}
		}
		join := msBetween(start, first)
		if first != 0 && first-start <= timeout {
			joined++
			joins = append(joins, join)
		} else {
			failed++
			why := err
			switch {
			case why != "":
			case start == 0:
				why = "never started"
			case first != 0:
				why = "first frame after join-timeout"
			case v.connectedNs.Load() != 0:
				why = "connected but no video frame"
			default:
				why = "not connected (state " + state + ")"
			}
			reasons[why]++
		}
		if cn := msBetween(start, v.connectedNs.Load()); cn >= 0 {
			connects = append(connects, cn)
		}
		k := v.keyframes.Load()
		if keyMin < 0 || k < keyMin {
			keyMin = k
		}
		window := 0.0
		if w := v.warmNs.Load(); w != 0 && stop > w {
			window = secs(stop - w)
		}
		per = append(per, map[string]interface{}{
			"id": v.id, "state": state, "error": err, "joinMs": join, "connectMs": msBetween(start, v.connectedNs.Load()),
			"frames": v.frames.Load(), "keyframes": k, "fps": math.Round(fps*100) / 100, "window": window,
			"videoPackets": v.videoPkts.Load(), "videoExpected": v.expected.Load(), "duplicates": v.dupPkts.Load(), "audioPackets": v.audioPkts.Load(),
			"bytes": v.bytes.Load(), "rtcpIn": v.rtcpIn.Load(), "plis": v.plis.Load(), "disconnects": v.disconnects.Load(),
			"closedAt": secs(v.closedNs.Load()), "delete": code,
		})
	}
	if keyMin < 0 {
		keyMin = 0
	}
	return map[string]interface{}{
		"type": "summary", "t": secs(end), "viewers": len(viewers), "joined": joined, "failedJoins": failed,
		"failReasons": reasons, "connectedAtEnd": connectedNow, "join": spread(joins), "connect": spread(connects),
		"fps": spread(fpsAll), "full": full, "fullThreshold": 0.9 * c.fps, "keyframesMin": keyMin, "perViewer": per,
	}
}
