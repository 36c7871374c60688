// A custom modality: lunar-lander game state (8 floats) as 4 LM tokens, like the seed's annotated example.
import { tf, registerModalityBuilder, registerModalityKind } from 'multi-token';
import type { Modality, ModalityConfig, ProjectorSpec, Tensor } from 'multi-token';

const LIMITS = [1.5, 1.5, 5, 5, 3.14, 5, 1, 1]; // x, y, vx, vy, angle, angular velocity, left leg, right leg

export class LunarLanderModality implements Modality<Float32Array[]> {
  readonly name = 'lunar_lander'; // projector weights are saved as lunar_lander_lmm_projector.*
  readonly token = '<state>'; // where a state goes in the text
  readonly dataKey = 'states'; // where a dataset row lists its states
  readonly tokenWidth = 4; // LM tokens per state
  // The projector [items, 1, 8] → [items, tokenWidth, lmHidden]: training and loading both build it from this
  // spec, and config.json keeps a copy that loading checks the rebuilt modality against.
  readonly projectorSpec: ProjectorSpec = { type: 'vector_mlp', inputSize: 8, layers: 2, numTokens: 4 };

  // Raw row values → encoder input (CPU). Errors should name the item.
  async preprocess(values: unknown[]): Promise<Float32Array[]> {
    return values.map((v, i) => {
      if (!Array.isArray(v) || v.length !== 8) throw new Error(`states[${i}] must be 8 numbers`);
      return Float32Array.from(v, (x, j) => Math.max(-1, Math.min(1, Number(x) / LIMITS[j])));
    });
  }

  // One [items, 1, 8] tensor per row: the "encoder" here is just normalisation.
  async encode(rows: Float32Array[][]): Promise<Tensor[]> {
    return rows.map((items) => tf.tensor3d(items.flatMap((s) => [...s]), [items.length, 1, 8]));
  }

  // Stored in config.json so a saved checkpoint can rebuild this modality.
  toConfig(): ModalityConfig {
    return { kind: 'lunar_lander', name: this.name, token: this.token, dataKey: this.dataKey };
  }
}

registerModalityKind('lunar_lander', async () => new LunarLanderModality()); // rebuild from config.json
registerModalityBuilder('lunar_lander', async () => [new LunarLanderModality()]); // --modality_builder lunar_lander
