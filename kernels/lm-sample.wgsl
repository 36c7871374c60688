// Picks the next token on the GPU, so a decode step reads back 4 bytes (the token id) instead of the logits:
//
//   greedy (temperature 0)  argmax, the lowest id on ties (as the CPU sampler)
//   otherwise               softmax((logits − max) / T) cut to the top-k logits, then to the smallest set of
//                           the most likely tokens whose probability reaches top-p, then one draw from the
//                           renormalised rest
//
// The top-k and top-p cuts are thresholds on the logit, found by bisection over the 32-bit order-preserving
// key of the float (32 counting or summing passes each), so nothing is sorted; tokens tied with the threshold
// all stay in (the CPU sampler breaks such ties by id). The draw is the Gumbel-max trick,
// argmax (l − max)/T − log(−log u), an exact sample from the renormalised distribution, with u a
// counter-based hash of (seed, position, id): the same seed and prompt give the same tokens.
//
// It writes the token to state[0] and, with `advance`, moves state[1] (the position) on by one: the next
// step's embedding kernel reads both from there.
//
// Host declares: bindings logits (array<f32>, [V]), state (array<i32>, read_write); uniform params with
// temperature (f32), topK (u32, 0 = off), topP (f32, 1 = off), seed (u32), advance (u32), V (u32).

const LANES : u32 = 256u;

var<workgroup> rf : array<f32, 256>;
var<workgroup> ru : array<u32, 256>;

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

// Sum of ru over the workgroup, returned to every lane.
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

// The largest (value, lowest index) over the workgroup, returned to every lane.
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
  let best = ru[0];
  workgroupBarrier();
  return best;
}

@compute @workgroup_size(256)
fn sample(@builtin(local_invocation_index) t : u32) {
  let V = params.V;
  var best = -3.4e38;
  var bestId = V;
  for (var i = t; i < V; i += LANES) {
    let v = logits[i];
    if (v > best) {
      best = v;
      bestId = i;
    }
  }
  var token = argmaxAll(t, best, bestId);
  if (params.temperature > 0.0) {
    let top = logits[token];
    let invT = 1.0 / params.temperature;
    // Top-k: the largest key with at least k logits at or above it.
    var lo = 0u;
    if (params.topK > 0u && params.topK < V) {
      var cut = 0u;
      for (var bit = 31; bit >= 0; bit--) {
        let cand = cut | (1u << u32(bit));
        var n = 0u;
        for (var i = t; i < V; i += LANES) {
          n += select(0u, 1u, key(logits[i]) >= cand);
        }
        if (sumU(t, n) >= params.topK) {
          cut = cand;
        }
      }
      lo = cut;
    }
    // Top-p: the largest key whose tokens (within top-k) hold at least p of the probability.
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
    let pos = u32(state[1]);
    let stream = hash(params.seed ^ hash(pos * 0x9e3779b9u + 0x632be5abu));
    var gBest = -3.4e38;
    var gId = token;
    for (var i = t; i < V; i += LANES) {
      let l = logits[i];
      if (key(l) >= lo) {
        let u = (f32(hash(stream ^ (i * 0x85ebca6bu)) >> 8u) + 0.5) / 16777216.0;
        let gv = (l - top) * invT - log(-log(u));
        if (gv > gBest) {
          gBest = gv;
          gId = i;
        }
      }
    }
    token = argmaxAll(t, gBest, gId);
  }
  if (t == 0u) {
    state[0] = i32(token);
    if (params.advance != 0u) {
      state[1] = state[1] + 1;
    }
  }
}
