// Picks the next token on the GPU, so a decode step reads back 4 bytes (the token id) instead of the logits.
// The rule is the CPU sampler's (src/lm/sampling.ts):
//
//   greedy (temperature 0)  argmax, the lowest id on ties
//   otherwise               tokens sorted by logit (lower id first on ties), cut to the top k, softmax with
//                           temperature T, cut to the shortest prefix whose probability reaches top-p, then one
//                           draw from what is left, in proportion to its probability
//
// Without sorting the vocabulary, in five single-workgroup entry points dispatched in this order (each returns
// at once when its stage is not needed; five small kernels because SwiftShader compiles one large kernel with
// many barriers in tens of seconds):
//
//   sampleMax      the max logit, and the greedy answer
//   sampleWindows  with top-k / top-p: counts the tokens, and sums their probability, within W·T of the max
//                  for a ladder of widths W, and picks the narrowest window that holds the top k tokens (or,
//                  without top-k, at least top-p of the probability) in at most CAND_CAP tokens: it holds
//                  every token the cuts can keep
//   sampleSorted   compacts that window into workgroup memory, ranks each candidate in the CPU's order (and
//                  sums the probability ahead of it) by comparing it with the others, and cuts and draws
//                  exactly as the CPU does (the top-p denominator being the whole vocabulary's probability)
//   sampleCuts     when no window qualifies (a flat distribution with a wide nucleus, or k > CAND_CAP): the
//                  cuts as a threshold on the logit, by bisection over the float's order-preserving 32-bit
//                  key (tokens tied with the threshold all stay in)
//   sampleDraw     temperature only, or after sampleCuts: Gumbel-max, argmax (l − max)/T − log(−log u), an
//                  exact draw from the softmax over the tokens above the threshold; then moves the position on
//
// u is a counter-based hash of (seed, position, id): the same seed and prompt give the same tokens. The token
// goes to state[0] and, with `advance`, state[1] (the position) moves on by one: the next step's embedding
// kernel reads both from there.
//
// Host declares: bindings logits (array<f32>, [V]), state (array<i32>, read_write), scratch (array<u32>,
// read_write, 4 words: max logit bits, total probability bits, chosen window, threshold key); uniform params
// with temperature (f32), topK (u32, 0 = off), topP (f32, 1 = off), seed (u32), advance (u32), V (u32).

const LANES : u32 = 128u;
// At most this many candidates take the exact path: one per lane of sampleSorted's 256.
const CAND_CAP : u32 = 256u;
const LEVELS : u32 = 12u;

// Window widths, in units of T (a token 20·T below the max has e^-20 of the top one's probability).
const WIDTHS_A = vec4<f32>(1.0, 2.0, 3.0, 4.0);
const WIDTHS_B = vec4<f32>(5.0, 6.0, 7.0, 8.0);
const WIDTHS_C = vec4<f32>(10.0, 12.0, 15.0, 20.0);

var<workgroup> rf : array<f32, 128>;
var<workgroup> ru : array<u32, 128>;
// Per window: tokens within it, and their probability relative to the top one in fixed point (2^-12 steps,
// rounded down, so a window never looks like it holds more than it does; a 150k vocabulary cannot overflow).
var<workgroup> wideCount : array<atomic<u32>, 12>;
var<workgroup> wideMass : array<atomic<u32>, 12>;
var<workgroup> drawn : atomic<u32>;
var<workgroup> candV : array<f32, 256>;
var<workgroup> candI : array<u32, 256>;
var<workgroup> candCount : atomic<u32>;
var<workgroup> shared0 : u32;

fn width(j : u32) -> f32 {
  if (j < 4u) {
    return WIDTHS_A[j];
  }
  if (j < 8u) {
    return WIDTHS_B[j - 4u];
  }
  return WIDTHS_C[j - 8u];
}

fn sampling() -> bool {
  return params.temperature > 0.0;
}

fn hasCuts() -> bool {
  return (params.topK > 0u && params.topK < params.V) || params.topP < 1.0;
}

// Order-preserving key of a float: a > b as floats iff key(a) > key(b) as unsigned integers.
fn key(f : f32) -> u32 {
  let b = bitcast<u32>(f);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn hash(v : u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

fn stream() -> u32 {
  return hash(params.seed ^ hash(u32(state[1]) * 0x9e3779b9u + 0x632be5abu));
}

// Uniform in (0, 1) from (stream, i).
fn uniform01(s : u32, i : u32) -> f32 {
  return (f32(hash(s ^ (i * 0x85ebca6bu)) >> 8u) + 0.5) / 16777216.0;
}

// A scratch word, read by lane 0 and made uniform across the workgroup.
fn uniformScratch(t : u32, i : u32) -> u32 {
  if (t == 0u) {
    shared0 = scratch[i];
  }
  return workgroupUniformLoad(&shared0);
}

fn sumU(t : u32, v : u32) -> u32 {
  ru[t] = v;
  workgroupBarrier();
  for (var off = LANES / 2u; off > 0u; off >>= 1u) {
    if (t < off) {
      ru[t] += ru[t + off];
    }
    workgroupBarrier();
  }
  let s = ru[0];
  workgroupBarrier();
  return s;
}

fn sumF(t : u32, v : f32) -> f32 {
  rf[t] = v;
  workgroupBarrier();
  for (var off = LANES / 2u; off > 0u; off >>= 1u) {
    if (t < off) {
      rf[t] += rf[t + off];
    }
    workgroupBarrier();
  }
  let s = rf[0];
  workgroupBarrier();
  return s;
}

// The largest value (lowest index on ties) over the workgroup.
fn argmaxAll(t : u32, v : f32, i : u32) -> u32 {
  rf[t] = v;
  ru[t] = i;
  workgroupBarrier();
  for (var off = LANES / 2u; off > 0u; off >>= 1u) {
    if (t < off) {
      let ov = rf[t + off];
      let oi = ru[t + off];
      if (ov > rf[t] || (ov == rf[t] && oi < ru[t])) {
        rf[t] = ov;
        ru[t] = oi;
      }
    }
    workgroupBarrier();
  }
  return ru[0];
}

@compute @workgroup_size(128)
fn sampleMax(@builtin(local_invocation_index) t : u32) {
  var best = -3.4e38;
  var bestId = params.V;
  for (var i = t; i < params.V; i += LANES) {
    let v = logits[i];
    if (v > best) {
      best = v;
      bestId = i;
    }
  }
  let token = argmaxAll(t, best, bestId);
  if (t == 0u) {
    state[0] = i32(token);
    scratch[0] = bitcast<u32>(logits[token]);
    scratch[2] = LEVELS;
    scratch[3] = 0u;
  }
}

const FIXED : f32 = 4096.0;

@compute @workgroup_size(128)
fn sampleWindows(@builtin(local_invocation_index) t : u32) {
  if (!sampling() || !hasCuts()) {
    return;
  }
  if (t < LEVELS) {
    atomicStore(&wideCount[t], 0u);
    atomicStore(&wideMass[t], 0u);
  }
  workgroupBarrier();
  let top = bitcast<f32>(scratch[0]);
  let invT = 1.0 / params.temperature;
  var mass = array<vec4<u32>, 3>(vec4<u32>(0u), vec4<u32>(0u), vec4<u32>(0u));
  var cnt = array<vec4<u32>, 3>(vec4<u32>(0u), vec4<u32>(0u), vec4<u32>(0u));
  var allP = 0.0;
  for (var i = t; i < params.V; i += LANES) {
    let z = (logits[i] - top) * invT;
    let p = exp(z);
    allP += p;
    let q = vec4<u32>(u32(p * FIXED));
    let inA = vec4<f32>(-z) <= WIDTHS_A;
    let inB = vec4<f32>(-z) <= WIDTHS_B;
    let inC = vec4<f32>(-z) <= WIDTHS_C;
    mass[0] += select(vec4<u32>(0u), q, inA);
    mass[1] += select(vec4<u32>(0u), q, inB);
    mass[2] += select(vec4<u32>(0u), q, inC);
    cnt[0] += select(vec4<u32>(0u), vec4<u32>(1u), inA);
    cnt[1] += select(vec4<u32>(0u), vec4<u32>(1u), inB);
    cnt[2] += select(vec4<u32>(0u), vec4<u32>(1u), inC);
  }
  for (var g = 0u; g < 3u; g++) {
    for (var c = 0u; c < 4u; c++) {
      atomicAdd(&wideCount[4u * g + c], cnt[g][c]);
      atomicAdd(&wideMass[4u * g + c], mass[g][c]);
    }
  }
  let allMass = sumF(t, allP);
  if (t == 0u) {
    let hasK = params.topK > 0u && params.topK < params.V;
    let wantP = params.topP * allMass;
    // The narrowest qualifying window (LEVELS: none): at most CAND_CAP tokens, holding the top k (or p).
    var pick = LEVELS;
    for (var j = LEVELS; j > 0u; j--) {
      let c = atomicLoad(&wideCount[j - 1u]);
      let m = f32(atomicLoad(&wideMass[j - 1u])) / FIXED;
      if (c <= CAND_CAP && select(m >= wantP, c >= params.topK, hasK)) {
        pick = j - 1u;
      }
    }
    scratch[1] = bitcast<u32>(allMass);
    scratch[2] = pick;
  }
}

// Whether candidate a comes before b in the CPU sampler's order: higher logit first, lower id on ties.
fn before(av : f32, ai : u32, bv : f32, bi : u32) -> bool {
  return av > bv || (av == bv && ai < bi);
}

var<workgroup> kTotal : f32;
var<workgroup> keepVar : atomic<u32>;
var<workgroup> keptMass : f32;

@compute @workgroup_size(256)
fn sampleSorted(@builtin(local_invocation_index) t : u32) {
  let pick = uniformScratch(t, 2u);
  if (!sampling() || !hasCuts() || pick >= LEVELS) {
    return;
  }
  let top = bitcast<f32>(scratch[0]);
  let invT = 1.0 / params.temperature;
  if (t == 0u) {
    atomicStore(&candCount, 0u);
    atomicStore(&keepVar, 0xffffffffu);
    atomicStore(&drawn, 0xffffffffu);
    kTotal = bitcast<f32>(scratch[1]);
  }
  workgroupBarrier();
  for (var i = t; i < params.V; i += 256u) {
    let l = logits[i];
    if (-((l - top) * invT) <= width(pick)) {
      let slot = atomicAdd(&candCount, 1u);
      if (slot < CAND_CAP) {
        candV[slot] = l;
        candI[slot] = i;
      }
    }
  }
  workgroupBarrier();
  let n = min(atomicLoad(&candCount), CAND_CAP);
  // No sort: lane t's candidate learns its rank in the CPU order, and the probability of the candidates ahead
  // of it, by comparing itself with the others (n ≤ 256 comparisons).
  let mine = t < n;
  var rank = 0u;
  var below = 0.0;
  var prob = 0.0;
  if (mine) {
    let vi = candV[t];
    let ii = candI[t];
    for (var j = 0u; j < n; j++) {
      if (before(candV[j], candI[j], vi, ii)) {
        rank += 1u;
        below += exp((candV[j] - top) * invT);
      }
    }
    prob = exp((vi - top) * invT);
  }
  let upTo = below + prob;
  // Top-k: the denominator becomes the probability of the first k.
  let hasK = params.topK > 0u && params.topK < params.V;
  let k = select(n, min(params.topK, n), hasK);
  if (mine && hasK && rank == k - 1u) {
    kTotal = upTo;
  }
  workgroupBarrier();
  // Top-p: the first position where the running probability reaches p.
  let want = params.topP * kTotal;
  if (mine && rank < k && params.topP < 1.0 && upTo >= want && below < want) {
    atomicMin(&keepVar, rank + 1u);
  }
  workgroupBarrier();
  let keep = min(atomicLoad(&keepVar), k);
  if (mine && rank == keep - 1u) {
    keptMass = upTo;
  }
  workgroupBarrier();
  // The draw: the first kept candidate whose running probability reaches u · (their probability).
  let u = uniform01(stream(), 0xffffffffu) * keptMass;
  if (mine && rank < keep && upTo >= u && below < u) {
    atomicMin(&drawn, rank);
  }
  workgroupBarrier();
  if (mine && rank == min(atomicLoad(&drawn), keep - 1u)) {
    state[0] = i32(candI[t]);
  }
}

@compute @workgroup_size(128)
fn sampleCuts(@builtin(local_invocation_index) t : u32) {
  let pick = uniformScratch(t, 2u);
  if (!sampling() || !hasCuts() || pick < LEVELS) {
    return;
  }
  let V = params.V;
  let top = bitcast<f32>(scratch[0]);
  let invT = 1.0 / params.temperature;
  var lo = 0u;
  if (params.topK > 0u && params.topK < V) {
    var cut = 0u;
    for (var bit = 31; bit >= 0; bit--) {
      let cand = cut | (1u << u32(bit));
      var cnt = 0u;
      for (var i = t; i < V; i += LANES) {
        cnt += select(0u, 1u, key(logits[i]) >= cand);
      }
      if (sumU(t, cnt) >= params.topK) {
        cut = cand;
      }
    }
    lo = cut;
  }
  if (params.topP < 1.0) {
    var mass = 0.0;
    for (var i = t; i < V; i += LANES) {
      let l = logits[i];
      mass += select(0.0, exp((l - top) * invT), key(l) >= lo);
    }
    let want = params.topP * sumF(t, mass);
    var cut = 0u;
    for (var bit = 31; bit >= 0; bit--) {
      let cand = cut | (1u << u32(bit));
      let minKey = max(cand, lo);
      var part = 0.0;
      for (var i = t; i < V; i += LANES) {
        let l = logits[i];
        part += select(0.0, exp((l - top) * invT), key(l) >= minKey);
      }
      if (sumF(t, part) >= want) {
        cut = cand;
      }
    }
    lo = max(lo, cut);
  }
  if (t == 0u) {
    scratch[3] = lo;
  }
}

@compute @workgroup_size(128)
fn sampleDraw(@builtin(local_invocation_index) t : u32) {
  let pick = uniformScratch(t, 2u);
  let gumbel = sampling() && (!hasCuts() || pick >= LEVELS);
  if (gumbel) {
    let top = bitcast<f32>(scratch[0]);
    let lo = scratch[3];
    let invT = 1.0 / params.temperature;
    let s = stream();
    var best = -3.4e38;
    var bestId = params.V;
    for (var i = t; i < params.V; i += LANES) {
      let l = logits[i];
      if (key(l) >= lo) {
        let g = (l - top) * invT - log(-log(uniform01(s, i)));
        if (g > best) {
          best = g;
          bestId = i;
        }
      }
    }
    let token = argmaxAll(t, best, bestId);
    if (t == 0u) {
      state[0] = i32(token);
    }
  }
  if (t == 0u && params.advance != 0u) {
    state[1] = state[1] + 1;
  }
}
