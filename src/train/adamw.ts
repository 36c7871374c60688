import { tf, type Tensor } from '../tf.js';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/**
 * AdamW (Loshchilov & Hutter) exactly as PyTorch's `torch.optim.AdamW` (the HF Trainer's default): decoupled
 * weight decay `p -= lr·wd·p`, then the bias-corrected Adam step. Written here (tfjs has Adam but no AdamW)
 * with explicit, named state so it checkpoints to safetensors and a resumed run continues bit for bit.
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Optimizer steps taken. */
  step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
  }

  /**
   * One update of `params` (name → variable) with `grads` (name → gradient) at learning rate `lr`.
   * Parameters without a gradient are left alone. `noDecay` names skip weight decay (HF: biases, norms).
   * `gate`, a boolean scalar on the device, keeps parameters and moments unchanged where it is false: the
   * trainer passes "every step so far was finite", so a blown-up step changes nothing without the CPU having
   * to read the loss first.
   */
  apply(
    params: Map<string, tf.Variable>,
    grads: Map<string, Tensor>,
    lr: number,
    noDecay: (name: string) => boolean = () => false,
    gate?: Tensor,
  ): void {
    this.step++;
    const bc1 = 1 - Math.pow(this.beta1, this.step);
    const bc2 = 1 - Math.pow(this.beta2, this.step);
    // One broadcast of the gate per distinct shape (tf.where would tile it for every tensor: 3 dispatches each).
    const gates = new Map<string, Tensor>();
    const gateLike = (t: Tensor) => {
      const key = t.shape.join('x');
      if (!gates.has(key)) gates.set(key, tf.keep(tf.broadcastTo(gate!, t.shape)));
      return gates.get(key)!;
    };
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      if (!this.m.has(name)) {
        this.m.set(name, tf.variable(tf.zerosLike(p), false));
        this.v.set(name, tf.variable(tf.zerosLike(p), false));
      }
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      tf.tidy(() => {
        const wd = noDecay(name) ? 0 : this.weightDecay;
        const decayed = wd > 0 ? tf.mul(p, 1 - lr * wd) : p;
        const m1 = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
        const v1 = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        // PyTorch: denom = sqrt(v)/sqrt(bc2) + eps; p -= (lr/bc1) · m / denom
        const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(bc2)), this.eps);
        const p1 = tf.sub(decayed, tf.mul(tf.div(m1, denom), lr / bc1));
        const keep = (next: Tensor, old: Tensor) => (gate ? tf.where(gateLike(old), next, old) : next);
        m.assign(keep(m1, m));
        v.assign(keep(v1, v));
        p.assign(keep(p1, p));
      });
    }
    for (const g of gates.values()) g.dispose();
  }

  /** State as named tensors (`<param>.exp_avg`, `<param>.exp_avg_sq`) for a checkpoint. */
  state(): { step: number; tensors: Map<string, Tensor> } {
    const tensors = new Map<string, Tensor>();
    for (const [name, m] of this.m) {
      tensors.set(`${name}.exp_avg`, m);
      tensors.set(`${name}.exp_avg_sq`, this.v.get(name)!);
    }
    return { step: this.step, tensors };
  }

  /** Restores state saved by `state()`; tensors are copied. */
  load(step: number, tensors: Map<string, Tensor>): void {
    this.dispose();
    this.step = step;
    for (const [key, t] of tensors) {
      const m = /^(.*)\.(exp_avg|exp_avg_sq)$/.exec(key);
      if (!m) throw new Error(`optimizer state: unexpected entry "${key}"`);
      (m[2] === 'exp_avg' ? this.m : this.v).set(m[1], tf.variable(t.clone(), false));
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
