package main

// H.264 RTP payload inspection (RFC 6184): enough to tell whether a packet carries part of an IDR picture.

const (
	nalIDR  = 5  // coded slice of an IDR picture (H.264 Table 7-1)
	nalSPS  = 7  // sequence parameter set
	nalSTAP = 24 // STAP-A aggregation packet (RFC 6184 section 5.7.1)
	nalFUA  = 28 // FU-A fragmentation unit (RFC 6184 section 5.8)
)

// carriesIDR reports whether an H.264 RTP payload holds (the start of) an IDR slice: a single NAL unit packet
// of type 5 (RFC 6184 section 5.6), a STAP-A with a type-5 unit inside (5.7.1), or the first fragment of a
// FU-A whose original unit is type 5 (5.8). Malformed payloads are simply "not IDR".
func carriesIDR(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case nalIDR:
		return true
	case nalSTAP:
		// STAP-A: 1-byte header, then [16-bit size][NAL unit]...
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if p[i]&0x1f == nalIDR {
				return true
			}
			i += size
		}
		return false
	case nalFUA:
		// FU indicator, FU header (S|E|R|type): the start fragment names the original unit's type.
		return len(p) >= 2 && p[1]&0x80 != 0 && p[1]&0x1f == nalIDR
	default:
		return false
	}
}
