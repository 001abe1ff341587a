/**
 * AAC-LC constant tables (ISO/IEC 14496-3 subpart 4), shared by aac-decoder.ts and aac-encoder.ts.
 *
 * - Huffman codebooks: the scalefactor codebook (Table 4.A.1) and spectrum codebooks 1..11 (Tables 4.A.2..4.A.12),
 *   transcribed from the standard's tables (index, codeword length, codeword) by a one-off script, stored compactly:
 *   per book, one base-36 digit per index for the length, then the codewords in base 36 separated by spaces.
 *   tests/unit/audio/aac-tables.test.ts checks that every book is a complete prefix code (Kraft sum exactly 1).
 * - Scalefactor band offsets (Tables 4.129..4.147: swb_offset_long_window / swb_offset_short_window).
 * - TNS_MAX_BANDS for AAC-LC (Table 4.156) and the sampling frequency table (Table 1.18).
 * Windows (sine, KBD) and the TNS coefficient tables are computed from their definitions (4.6.11.3.2, 4.6.9.3).
 */
import { besselI0 } from "./bessel.ts";

const HUFFMAN_SPEC: Record<string, [string, string]> = {
  /* spectrum 1: 81 entries */
  B1: [
    "b9ba7ab9ba7a75797ab9b979b9b979757979757515757979757979b9b979b9ba7975797ab9ba79b9b",
    "1ko dt 1kt s5 2w s0 1kn do 1kl s1 36 s4 38 h 3a dn 30 s6 1ks dd 1kh ds 2p dy 1ki dm 1kr du 2x dp 3b n 33 di 2s dh 2v l 2q i 0 k 2t m 31 dl 2r dg 2z j 35 df 34 dv 1ku dj 1kj dr 2o dq 1kg de 1kq s3 2y dk 39 g 37 dw 32 s7 1km dc 1kp s2 2u dx 1kv dz 1kk",
  ],
  /* spectrum 2: 81 entries */
  B2: [
    "979868989867656768978868979867656768656535656867656868979868879867646867979768979",
    "dv 33 e5 6j z 6i dz 6g e2 6q 19 34 w 6 17 32 14 6h e1 2u 6w 6f r 6p dw 2z dx 6k 16 30 18 a 13 2v q 6t 10 8 v 9 0 7 t b 1c 6n s 2s u c 15 6r 1b 6o e4 35 du 6s x 6e 6v 2w e0 6m y 2t 1d 2 12 6l 11 2y e3 36 e6 2x 1a 6u e7 31 dy",
  ],
  /* spectrum 3: 81 entries */
  B3: [
    "14845899a46966999a9ad99bbac46a67aaac57b67a99b9ad89cabc8af9bfdeg8ae9aeccfbcgabfccf",
    "0 9 6n b p 6o dn di s2 a 1h dr 1g 1j dl dp dj s3 dq rx 6be do du 1kp 1ko s8 35k 8 1k s6 1i 39 s1 rv rw 35g o 3a 1kk 1l 38 rz dv dw 1km dk ru 6bg 6q dt 35n s5 1kj 35o 6m s7 pa6 ds 1kl pa5 6bf cmy 1ekf 6p s0 cn0 dm ry cmz 35i 35m pa4 1ki 35h 1eke s4 1kn pa3 35j 35l pa2",
  ],
  /* spectrum 4: 81 entries */
  B4: [
    "45854898b55854887a98b88abab45844888a44844787988a779a9a88b87abac87a779a9bbaca9bbab",
    "7 m 6u o 8 6n dr 6r 1ko p n 6l l 1 6a 6o 34 s0 dq 6p 1kq 6m 6c s2 1km rz 1kt 5 k 6q 9 4 6d 6s 6g s4 6 2 6f 3 0 2z 6b 2x dv 6j 6e s6 32 2y dw rw ds s9 6t 6k 1kr 6i 33 s7 1kp s3 35r 6h 31 s8 30 2w dx ry du 1kk 1kn s1 35q rx dt 1kl 1ku s5 1ks",
  ],
  /* spectrum 5: 81 entries */
  B5: [
    "dcbbabbcdcba989abcca98789abb9854589ba8741478bb9854589bba98789abcba989abcdccbaabcd",
    "6bj 35j 1kk 1k8 s1 1ke 1kp 35k 6bh 35p 1kh rs dk 6o do ry 1ki 35m 35g rz du 6g 34 6k ds ru 1kj 1kb dn 6i q 8 p 6m dr 1kd s0 6q 37 b 0 a 35 6r 1k9 1kf dq 6n o 9 r 6j dl 1kc 1km rv dv 6l 36 6h dt rx 1kn 35i 1kg rt dp 6p dm rw 1ko 35l 6bg 35o 35h 1ka s3 s2 1kl 35n 6bi",
  ],
  /* spectrum 6: 81 entries */
  B6: [
    "ba99999aba9877789a986666689976444679976444679976444679986666689a9877778aba99999ab",
    "1ku sd dt dn dw dm ds sc 1kt s6 dh 6i 30 35 2w 6o di s7 dv 6n 1e 13 14 12 1d 6j dz dk 33 1a 8 4 6 15 2z dq dr 36 19 2 0 3 1b 37 e2 dj 32 17 7 1 5 18 31 do e1 6m 1c 10 16 11 1f 6k du s8 dg 6l 2y 34 2x 38 6p sa 1kv s9 dy dp e0 dl dx sb 1ks",
  ],
  /* spectrum 7: 64 entries */
  B7: [
    "136789ab346788996678899a778899aa8899aaab9899aabba99aabccbaaabbcc",
    "0 5 1j 38 6q dn rx 1kn 4 c 1h 35 6k 6m dq dx 1i 1g 36 6i 6p dl dv s5 37 34 6j 6o dt ds rw sa 6r 6l dk dr rz s1 s9 1kr dp 6n dm du s3 s8 1kp 1ks ry do dw s4 s7 1ko 35p 35q 1km s0 s2 s6 1kq 1kt 35o 35r",
  ],
  /* spectrum 8: 64 entries */
  B8: [
    "5456789a434567785445677865566788766677898767788a97788899a888999a",
    "e 5 g 1c 33 6p e2 se 3 0 4 i 18 2y 39 6w f 2 6 k 1a 2x 36 6t 1b h j 16 1e 30 6k 6y 35 17 19 1d 31 34 6q e1 6n 2w 1f 2z 32 6m 6x sc e0 38 37 6l 6o 6u dy e5 sd 6r 6s 6v dz e3 e4 sf",
  ],
  /* spectrum 9: 169 entries */
  B9: [
    "13689aabbccdd3467889aaabcc667889aaabccc87899aabbbccd9899aabbbcccda99abbbcbccddb9abbbccccdddbaabbccddddddbaabbbccddedebabbccccddeeecbbcccdddeeefcbcccddddeeffdcccddddeeeef",
    "0 5 1j 6f da r2 rd 1jc 1jh 348 34t 6as 6b0 4 c 1h 36 6i 6l de r5 r7 rk 1js 34f 34l 1i 1g 35 6g 6k dd r3 rh rf 1jk 347 34k 350 6e 34 6h d9 df r6 rg 1jg 1je 1jy 34o 356 6aj db 6j d8 di r9 ri 1jf 1jx 1jw 34d 34y 353 6ap r4 dc dg ra 1j9 1jl 1jv 34i 1k0 34p 357 6ar 6ax 1j8 dh rb 1ja 1jj 1ju 34b 34q 34z 355 6au 6b7 6bb 1jn rc rl 1jo 1jt 34j 34u 6al 6ah 6aq 6ay 6b5 6ba 1jm r8 re 1jb 1jr 1k2 34e 34r 6ag 6b2 cmo 6b8 cmq 1k1 rj 1jd 1jq 34a 34g 351 352 6az 6b3 cmr cms cmt 34w 1ji 1jp 346 34h 34x 6ao 6aw 6b4 cmp cmw cmu pa4 354 1jz 349 34n 34s 6ak 6an 6b1 6b9 cmx cmz pa5 pa6 6av 34c 34m 34v 6am 6ai 6at 6b6 cmy cmv cn0 cn1 pa7",
  ],
  /* spectrum 10: 169 entries */
  B10: [
    "6566789aaabbc5445677889aab64556678899aa65556778899aa76666778899aa8767778889aab9777788999aab988888999aabb98888899aaabba999999aaabbca9999aaaabbbcba9aaaaabbbbcbaaaaaabbcccc",
    "y 8 t 12 2n 5v cv r4 rb rx 1kg 1km 35p 7 0 1 9 w 2c 2o 5x 64 d0 r1 ri 1k7 s 2 6 c u 14 2j 5p 61 cu d8 rd s1 11 b a d 10 2f 2p 5o 65 cs da r7 rr 2l x v z 13 2h 2s 60 67 cy de rh ry 5t 2d 15 2e 2g 2q 5q 68 6a d6 r8 rn 1kb cp 2m 2i 2k 2r 5m 62 cn cq dc rf rs 1kc df 5u 5n 5s 5z 63 cm d1 d4 qy re 1ka 1kh dd 5w 5r 5y 66 69 cw d2 r5 r9 s2 1ke 1kr rt ct co cr cx d3 db r3 rk rz 1k6 1ko 35m rv d9 cz d5 d7 r6 r0 rg ru 1kd 1kj 1kp 35l 1ki r2 dg qz rc ra rm rp 1k8 1kk 1kl 1kn 35n 1kq rw rj rl ro rq s0 1k9 1kf 35k 35q 35o 35r",
  ],
  /* spectrum 11: 289 entries */
  B11: [
    "4567889aaabbcbcca54567788999aaaab8655677888999aaaa8766677888999aaaa8877778888999aaaa8877778889999aaaa898888888999aaaaa89888888999aaaaaa8a98899999aaaaaab8a9999999aaaaaabb8b999999aaaaababb8ba99a9aaaaabbbbb8baaaaaaaaaabbbbb9ba99aaaaaabbbbbb9baaaaaaaaabbbbbb9caaaaaaabbbbbbcc998888888888888895",
    "0 6 p 1p 4c 5i br pc qq rj 1k6 1kj 35n 1kc 35m 35q pa 5 1 8 k 1j 1u 42 4v b5 bp c5 pq qo pu r1 1jq 4u n 7 9 o 1l 1s 3y 4j 54 bd bw ch q9 pi qm qy 4d 1o l m q 1n 1w 41 4l 5a ba by c9 pt pd px r9 44 4a 1i 1k 1m 1t 3w 4b 4w 5f bi bv cc pr pb q1 r3 43 5b 1q 1r 1v 1x 4e 4n 55 b8 bm ca cj py pz qj r8 4f bk 3z 3x 40 48 4m 52 5g bj bz cf pl qn qc qx rr 4o c6 4r 4k 4q 4y 5e 5h bc bo c8 p8 pw qs qu rh rs 4t q7 b6 59 58 b2 bb be bn c1 p9 pk qf r7 r5 rf 1jx 50 ri bt bf bg bl bu bx c3 p7 qa qg r2 rl rk 1jm 1k5 53 1k3 cb bs bq c0 c2 c7 pn pm qi qd ra 1jr ro 1js 1ka 56 1k8 ps cd c4 p6 ck pe q2 q8 qk rb 1jo 1jw 1jv 1jp 1kg 5d 1kr qw pv ph pp q4 q6 qt rc rm rq 1k4 1k7 1k0 1k9 1kn b4 1ki pf ce cg pg pj q5 qr qp r6 1ju 1jt 1jz 1kb 1kk 1kq b9 1ko ql po q3 q0 qb qh r4 rn rp 1k2 1jy 1kd 1kh 1kp 1ks b7 35p rg qe qv r0 qz rd re 1jn 1k1 1ke 1kf 1kl 1km 35o 35r bh ci 51 4h 46 47 45 49 4g 4i 4s 4p 4x 4z 57 5c b3 4",
  ],
  /* scalefactor: 121 entries */
  SCF: [
    "iiiijjjjjjjjjjjjjjjijihhghggggffeeeeeeddcccbcbaaa99888766543144566778899aaabbbbccdddeegfgfijjjjjjjjjjjjjjjjjjjjjjjjjjjjjj",
    "5m94 5m92 5m93 5m91 b8j9 b8j5 b8j1 b8ja b8j2 b8j3 b8j4 b8jg b8jh b8jj b8ji b8jb b8jc b8jf b8jd 5m90 b8je 5m8z 2t4f 2t4g 1ek5 2t4e 1ek2 1ek3 1ek4 1ek1 p9y p9z cmx cmt cmv cmr cmu cmq 6bb 6b9 35l 35j 35i 1kp 35g 1ko s9 s7 s5 e0 dz 6y 6w 6u 3d 1m 1k q b 4 0 a c r 1l 1n 3c 3e 6v 6x dy e1 s4 s6 s8 1kl 1kk 1km 1kn 35h 35k 6b8 6ba 6bc cmw cms 1ek0 p9w 1ek6 p9x 5m8y b8ih b8ii b8ij b8ik b8il b8im b8ig b8ia b8ib b8ic b8id b8ie b8j6 b8in b8iv b8iw b8ix b8iy b8iz b8iu b8io b8ip b8iq b8ir b8is b8it b8if b8j0 b8j8 b8j7",
  ],
};

export interface HuffmanBook {
  /** Codeword length by index. */
  readonly len: Uint8Array;
  /** Codeword by index (MSB-first, `len` bits). */
  readonly code: Uint32Array;
}

function unpack(name: string): HuffmanBook {
  const [l, c] = HUFFMAN_SPEC[name]!;
  const len = new Uint8Array(l.length);
  for (let i = 0; i < l.length; i++) len[i] = parseInt(l[i]!, 36);
  const parts = c.split(" ");
  const code = new Uint32Array(parts.length);
  for (let i = 0; i < parts.length; i++) code[i] = parseInt(parts[i]!, 36);
  return { len, code };
}

/** Scalefactor codebook (Table 4.A.1): 121 entries, index = delta + 60. */
export const SCF_BOOK: HuffmanBook = unpack("SCF");

/** Spectrum codebooks 1..11 (index 0 unused). */
export const SPECTRUM_BOOKS: readonly HuffmanBook[] = [
  { len: new Uint8Array(0), code: new Uint32Array(0) },
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => unpack(`B${i}`)),
];

/** Per spectrum codebook: values per codeword, unsigned (sign bits follow), largest absolute value, modulus. */
export const BOOK_DIM: readonly number[] = [0, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2];
export const BOOK_UNSIGNED: readonly boolean[] = [false, false, false, true, true, false, false, true, true, true, true, true];
export const BOOK_LAV: readonly number[] = [0, 1, 1, 2, 2, 4, 4, 7, 7, 12, 12, 16];
export const BOOK_MOD: readonly number[] = [0, 3, 3, 3, 3, 9, 9, 8, 8, 13, 13, 17];

export const ZERO_HCB = 0;
export const ESC_HCB = 11;
export const NOISE_HCB = 13;
export const INTENSITY_HCB2 = 14;
export const INTENSITY_HCB = 15;

export const ONLY_LONG_SEQUENCE = 0;
export const LONG_START_SEQUENCE = 1;
export const EIGHT_SHORT_SEQUENCE = 2;
export const LONG_STOP_SEQUENCE = 3;

/** Sampling frequencies by samplingFrequencyIndex (Table 1.18). */
export const SAMPLE_RATES: readonly number[] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

// swb offsets: band ends (the leading 0 is added below), for 1024-line frames.
const SWB_LONG_96 = [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 64, 72, 80, 88, 96, 108, 120, 132, 144, 156, 172, 188, 212, 240, 276, 320, 384, 448, 512, 576, 640, 704, 768, 832, 896, 960, 1024];
const SWB_SHORT_96 = [4, 8, 12, 16, 20, 24, 32, 40, 48, 64, 92, 128];
const SWB_LONG_64 = [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 64, 72, 80, 88, 100, 112, 124, 140, 156, 172, 192, 216, 240, 268, 304, 344, 384, 424, 464, 504, 544, 584, 624, 664, 704, 744, 784, 824, 864, 904, 944, 984, 1024];
const SWB_LONG_48 = [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 48, 56, 64, 72, 80, 88, 96, 108, 120, 132, 144, 160, 176, 196, 216, 240, 264, 292, 320, 352, 384, 416, 448, 480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800, 832, 864, 896, 928, 1024];
const SWB_SHORT_48 = [4, 8, 12, 16, 20, 28, 36, 44, 56, 68, 80, 96, 112, 128];
const SWB_LONG_32 = [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 48, 56, 64, 72, 80, 88, 96, 108, 120, 132, 144, 160, 176, 196, 216, 240, 264, 292, 320, 352, 384, 416, 448, 480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800, 832, 864, 896, 928, 960, 992, 1024];
const SWB_LONG_24 = [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 52, 60, 68, 76, 84, 92, 100, 108, 116, 124, 136, 148, 160, 172, 188, 204, 220, 240, 260, 284, 308, 336, 364, 396, 432, 468, 508, 552, 600, 652, 704, 768, 832, 896, 960, 1024];
const SWB_SHORT_24 = [4, 8, 12, 16, 20, 24, 28, 36, 44, 52, 64, 76, 92, 108, 128];
const SWB_LONG_16 = [8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 100, 112, 124, 136, 148, 160, 172, 184, 196, 212, 228, 244, 260, 280, 300, 320, 344, 368, 396, 424, 456, 492, 532, 572, 616, 664, 716, 772, 832, 896, 960, 1024];
const SWB_SHORT_16 = [4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 60, 72, 88, 108, 128];
const SWB_LONG_8 = [12, 24, 36, 48, 60, 72, 84, 96, 108, 120, 132, 144, 156, 172, 188, 204, 220, 236, 252, 268, 288, 308, 328, 348, 372, 396, 420, 448, 476, 508, 544, 580, 620, 664, 712, 764, 820, 880, 944, 1024];
const SWB_SHORT_8 = [4, 8, 12, 16, 20, 24, 28, 36, 44, 52, 60, 72, 88, 108, 128];

const withZero = (a: number[]): Uint16Array => Uint16Array.from([0, ...a]);
const LONG_BY_INDEX = [SWB_LONG_96, SWB_LONG_96, SWB_LONG_64, SWB_LONG_48, SWB_LONG_48, SWB_LONG_32, SWB_LONG_24, SWB_LONG_24, SWB_LONG_16, SWB_LONG_16, SWB_LONG_16, SWB_LONG_8, SWB_LONG_8].map(withZero);
const SHORT_BY_INDEX = [SWB_SHORT_96, SWB_SHORT_96, SWB_SHORT_96, SWB_SHORT_48, SWB_SHORT_48, SWB_SHORT_48, SWB_SHORT_24, SWB_SHORT_24, SWB_SHORT_16, SWB_SHORT_16, SWB_SHORT_16, SWB_SHORT_8, SWB_SHORT_8].map(withZero);

/** TNS_MAX_BANDS for AAC-LC (Main/LC), long and short windows, by sampling index. */
const TNS_MAX_BANDS_LONG = [31, 31, 34, 40, 42, 51, 46, 46, 42, 42, 42, 39, 39];
const TNS_MAX_BANDS_SHORT = [9, 9, 10, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14];

/** Scalefactor band offsets of one sampling rate: num_swb + 1 entries each, last = 1024 / 128. */
export interface SwbInfo {
  long: Uint16Array;
  short: Uint16Array;
  tnsMaxBandsLong: number;
  tnsMaxBandsShort: number;
}

/**
 * Band layout for a sampling frequency index (0..12). Explicit rates (index 15) use the table of the nearest
 * standard rate (the mapping of 4.6.3.2 / Table 4.68: the index whose rate is closest).
 */
export function swbInfo(samplingIndex: number, sampleRate?: number): SwbInfo {
  let i = samplingIndex;
  if (i < 0 || i > 12) {
    const r = sampleRate ?? 44100;
    let best = 0;
    for (let k = 1; k < SAMPLE_RATES.length; k++) {
      if (Math.abs(SAMPLE_RATES[k]! - r) < Math.abs(SAMPLE_RATES[best]! - r)) best = k;
    }
    i = best;
  }
  return {
    long: LONG_BY_INDEX[i]!,
    short: SHORT_BY_INDEX[i]!,
    tnsMaxBandsLong: TNS_MAX_BANDS_LONG[i]!,
    tnsMaxBandsShort: TNS_MAX_BANDS_SHORT[i]!,
  };
}

/**
 * Rising half of a window of total length n (n/2 values): sine (4.6.11.3.2: sin(pi/N (i + 1/2))) or
 * Kaiser-Bessel-derived with alpha 4 (long) / 6 (short). The falling half is the mirror image.
 */
export function windowRisingHalf(n: number, kbd: boolean): Float64Array {
  const half = n / 2;
  const w = new Float64Array(half);
  if (!kbd) {
    for (let i = 0; i < half; i++) w[i] = Math.sin((Math.PI / n) * (i + 0.5));
    return w;
  }
  const alpha = n === 2048 ? 4 : 6;
  const kernel = new Float64Array(half + 1);
  let total = 0;
  for (let p = 0; p <= half; p++) {
    const r = (p - n / 4) / (n / 4);
    kernel[p] = besselI0(Math.PI * alpha * Math.sqrt(Math.max(0, 1 - r * r)));
    total += kernel[p]!;
  }
  let acc = 0;
  for (let i = 0; i < half; i++) {
    acc += kernel[i]!;
    w[i] = Math.sqrt(acc / total);
  }
  return w;
}
