/**
 * The synthetic shapes dataset: random scenes of coloured shapes and question–answer pairs about them, in
 * the seed's row schema. Deterministic from a seed (mulberry32), isomorphic (the browser demo draws example
 * pictures with it too). Designed so a tiny LMM can learn it: colour and shape questions use one large shape
 * per picture, colours are far apart, and each answer type has one fixed wording ("Red.", "A circle.",
 * "Three.", "The first image.", "Yes."), while questions vary.
 */
import { Rng } from '../util/rng.js';
import { BOUND, COLOUR_NAMES, SHAPE_KINDS, type ColourName, type Scene, type ShapeKind, type ShapeSpec } from './shapes-raster.js';
import { classifyRow, type HoldoutClass, type HoldoutRule } from './shapes-holdout.js';

export * from './shapes-raster.js';
export * from './shapes-holdout.js';

export const QUESTION_TYPES = ['caption', 'colour', 'shape', 'count', 'compare', 'exists'] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];

/** Relative frequency of each question type; colour and shape get the most rows, as the demo is judged on them. */
export const DEFAULT_MIX: Readonly<Record<QuestionType, number>> = { caption: 2, colour: 3, shape: 3, count: 2, compare: 1, exists: 1 };

/** One generated conversation: the question (with one `<image>` per scene), the answer, and the scenes. */
export interface ShapesExample {
  questionType: QuestionType;
  question: string;
  answer: string;
  scenes: Scene[];
  /** The colour×kind pair the question names (compare, exists), if any. */
  target?: { colour: ColourName; kind: ShapeKind };
}

const NUMBER_WORDS = ['Zero', 'One', 'Two', 'Three', 'Four'];

const QUESTIONS: Record<QuestionType, string[]> = {
  caption: ['Describe <image>', 'What is in <image>?', 'Write a caption for <image>.', '<image>\nDescribe the picture.'],
  colour: ['What colour is the shape in <image>?', 'What color is the shape in <image>?', '<image>\nWhat colour is this shape?', 'Which colour does the shape in <image> have?'],
  shape: ['What shape is in <image>?', 'What shape is shown in <image>?', '<image>\nWhat shape is this?', 'Name the shape in <image>.'],
  count: ['How many shapes are in <image>?', 'How many shapes are there in <image>?', 'Count the shapes in <image>.', '<image>\nHow many shapes do you see?'],
  compare: ['Which image has the {target}, <image> or <image>?', 'Which image shows the {target}: <image> or <image>?', '<image> <image>\nWhich image has the {target}, the first or the second?'],
  exists: ['Is there {a_target} in <image>?', 'Does <image> contain {a_target}?', '<image>\nIs there {a_target} in this picture?'],
};

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng.next() * items.length)];
}

function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next();
}

/** Rounds to 1/8 px so scene descriptions (and meta.jsonl) stay short and exact. */
function q(v: number): number {
  return Math.round(v * 8) / 8;
}

/** "a red circle" / "an orange star". */
export function nounPhrase(s: { colour: ColourName; kind: ShapeKind }): string {
  return `${/^[aeiou]/.test(s.colour) ? 'an' : 'a'} ${s.colour} ${s.kind}`;
}

/**
 * "a circle in red": the kind named first, for answers a small LM writes one word at a time. With the colour
 * first, the kind it writes next leaned on that colour word: a held-out pair ("a green star") came out as one
 * of the colour's usual kinds ("a green diamond"), while the same LM named the kind alone right (bench/RESULTS.md,
 * runs H and J). Named first, the kind is read from the picture before any colour word is written.
 */
export function kindFirstPhrase(s: { colour: ColourName; kind: ShapeKind }): string {
  return `${/^[aeiou]/.test(s.kind) ? 'an' : 'a'} ${s.kind} in ${s.colour}`;
}

/**
 * How generated answers word things (questions keep the everyday colour-first wording either way).
 * `explain`: exists and compare answers say what the pictures show before the verdict; `kindFirst`: answers name
 * each shape kind first (`kindFirstPhrase`); `checkEach`: an explained exists answer checks the shapes one at a
 * time ("A square in green? I see a star in green: no, a circle in red: no. No.").
 */
export interface ShapesWording {
  explain?: boolean;
  kindFirst?: boolean;
  checkEach?: boolean;
}

function shapePhrase(s: { colour: ColourName; kind: ShapeKind }, wording: ShapesWording): string {
  return wording.kindFirst ? kindFirstPhrase(s) : nounPhrase(s);
}

function leftToRight(scene: Scene): ShapeSpec[] {
  return [...scene.shapes].sort((a, b) => a.cx - b.cx);
}

function capitalised(text: string): string {
  return `${text[0].toUpperCase()}${text.slice(1)}`;
}

/** The caption of a scene: its shapes from left to right, e.g. "A red circle and a blue square." */
export function describeScene(scene: Scene, wording: ShapesWording = {}): string {
  const parts = leftToRight(scene).map((s) => shapePhrase(s, wording));
  const text = parts.length <= 2 ? parts.join(' and ') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
  return `${capitalised(text)}.`;
}

export interface SceneOptions {
  /** Fixed colour / kind for the first shape (used to plant a target). */
  first?: { colour: ColourName; kind: ShapeKind };
}

/**
 * A random scene with `count` shapes that do not touch. One shape is large (radius 22–32% of the canvas);
 * several are smaller (9–13%) so four fit.
 */
export function sampleScene(rng: Rng, size: number, count: number, opts: SceneOptions = {}): Scene {
  const [lo, hi] = count === 1 ? [0.22, 0.32] : [0.09, 0.13];
  for (let attempt = 0; ; attempt++) {
    if (attempt > 1000) throw new Error(`cannot place ${count} shapes on a ${size}px canvas`);
    const shapes: ShapeSpec[] = [];
    for (let k = 0; k < count && shapes.length === k; k++) {
      const r = q(uniform(rng, lo, hi) * size);
      const margin = BOUND * r + 1;
      for (let tries = 0; tries < 50; tries++) {
        const cx = q(uniform(rng, margin, size - margin));
        const cy = q(uniform(rng, margin, size - margin));
        if (shapes.every((o) => Math.hypot(o.cx - cx, o.cy - cy) >= BOUND * (o.r + r) + 2)) {
          const base = k === 0 && opts.first ? opts.first : { colour: pick(rng, COLOUR_NAMES), kind: pick(rng, SHAPE_KINDS) };
          shapes.push({ kind: base.kind, colour: base.colour, cx, cy, r });
          break;
        }
      }
    }
    if (shapes.length === count) return { size, shapes };
  }
}

/** A stable text key of a scene, to keep held-out pictures out of the training split. */
export function sceneKey(scene: Scene): string {
  return scene.shapes.map((s) => `${s.kind}:${s.colour}:${s.cx}:${s.cy}:${s.r}`).join('|');
}

function hasTarget(scene: Scene, t: { colour: ColourName; kind: ShapeKind }): boolean {
  return scene.shapes.some((s) => s.colour === t.colour && s.kind === t.kind);
}

/** A colour/kind pair that differs from `t` in colour, kind or both ("near misses" teach both attributes). */
function otherTarget(rng: Rng, t: { colour: ColourName; kind: ShapeKind }): { colour: ColourName; kind: ShapeKind } {
  const mode = Math.floor(rng.next() * 3);
  const colour = mode === 1 ? t.colour : pick(rng, COLOUR_NAMES.filter((c) => c !== t.colour));
  const kind = mode === 0 ? t.kind : pick(rng, SHAPE_KINDS.filter((k) => k !== t.kind));
  return { colour, kind };
}

/** "a red circle and a blue square": a scene's shapes from left to right, as the caption lists them, in lower case. */
function shapeList(scene: Scene, wording: ShapesWording): string {
  const caption = describeScene(scene, wording);
  return `${caption[0].toLowerCase()}${caption.slice(1, -1)}`;
}

/**
 * Generates one example of the given type on `size`-pixel canvases. With `explain`, exists and compare answers
 * first say what the pictures show, then repeat the shape asked about, then give the verdict ("I see a blue
 * circle and a red square. A red circle? No."): the verdict is then a match of words against words a few
 * tokens back, which a small LM learns, where a match against image tokens, or against the question's words far
 * back, stayed at chance (bench/RESULTS.md, issue #17). With `checkEach`, the shape asked about comes first and
 * each shape seen gets its own verdict: a match of one phrase against one phrase, where matching against a list
 * left a 4-layer LM wrong on one row in ten even with the pictures in words (runs H and K).
 */
export function makeExample(rng: Rng, type: QuestionType, size: number, wording: ShapesWording = {}): ShapesExample {
  let question = pick(rng, QUESTIONS[type]);
  let scenes: Scene[];
  let answer: string;
  let target: { colour: ColourName; kind: ShapeKind } | undefined;
  switch (type) {
    case 'caption':
      scenes = [sampleScene(rng, size, 1 + Math.floor(rng.next() * 3))];
      answer = describeScene(scenes[0], wording);
      break;
    case 'colour':
    case 'shape': {
      scenes = [sampleScene(rng, size, 1)];
      const s = scenes[0].shapes[0];
      answer = type === 'colour' ? `${s.colour[0].toUpperCase()}${s.colour.slice(1)}.` : `A ${s.kind}.`;
      break;
    }
    case 'count': {
      const n = 1 + Math.floor(rng.next() * 4);
      scenes = [sampleScene(rng, size, n)];
      answer = `${NUMBER_WORDS[n]}.`;
      break;
    }
    case 'compare': {
      target = { colour: pick(rng, COLOUR_NAMES), kind: pick(rng, SHAPE_KINDS) };
      const firstHasIt = rng.next() < 0.5;
      const withIt = sampleScene(rng, size, 1, { first: target });
      const without = sampleScene(rng, size, 1, { first: otherTarget(rng, target) });
      scenes = firstHasIt ? [withIt, without] : [without, withIt];
      question = question.replace('{target}', `${target.colour} ${target.kind}`);
      answer = firstHasIt ? 'The first image.' : 'The second image.';
      if (wording.explain) {
        const named = shapePhrase(target, wording).replace(/^an? /, '');
        answer = `The first shows ${shapeList(scenes[0], wording)}, the second ${shapeList(scenes[1], wording)}: the ${named} is in the ${firstHasIt ? 'first' : 'second'} image.`;
      }
      break;
    }
    case 'exists': {
      target = { colour: pick(rng, COLOUR_NAMES), kind: pick(rng, SHAPE_KINDS) };
      const yes = rng.next() < 0.5;
      const n = 1 + Math.floor(rng.next() * 2);
      const t = target;
      let scene = sampleScene(rng, size, n, { first: yes ? t : otherTarget(rng, t) });
      while (!yes && hasTarget(scene, t)) scene = sampleScene(rng, size, n, { first: otherTarget(rng, t) });
      scenes = [scene];
      question = question.replace('{a_target}', nounPhrase(target));
      answer = yes ? 'Yes.' : 'No.';
      if (wording.explain) {
        const asked = capitalised(shapePhrase(t, wording));
        if (wording.checkEach) {
          const verdicts = leftToRight(scene).map((s) => `${shapePhrase(s, wording)}: ${s.colour === t.colour && s.kind === t.kind ? 'yes' : 'no'}`);
          answer = `${asked}? I see ${verdicts.join(', ')}. ${answer}`;
        } else {
          answer = `I see ${shapeList(scene, wording)}. ${asked}? ${answer}`;
        }
      }
      break;
    }
  }
  return { questionType: type, question, answer, scenes, ...(target ? { target } : {}) };
}

/** The question types to cycle through for a mix: each type `weight` times, reshuffled every cycle. */
function schedule(rng: Rng, mix: Partial<Record<QuestionType, number>>): () => QuestionType {
  const cycle: QuestionType[] = [];
  for (const t of QUESTION_TYPES) for (let k = 0; k < (mix[t] ?? 0); k++) cycle.push(t);
  if (cycle.length === 0) throw new Error('synth-shapes: the question mix selects no question type');
  let order: QuestionType[] = [];
  return () => {
    if (order.length === 0) {
      order = [...cycle];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    return order.pop()!;
  };
}

export interface GenerateShapesOptions {
  seed: number;
  n: number;
  size: number;
  /** Question-type weights (non-negative integers); default `DEFAULT_MIX`. */
  mix?: Partial<Record<QuestionType, number>>;
  /** Scene keys that must not be reused (the other split's); new keys are added to it. */
  seen?: Set<string>;
  /** Keep only rows of this class under this rule (see `shapes-holdout.ts`); others are drawn again. */
  holdout?: { rule: HoldoutRule; keep: HoldoutClass };
  /** How answers are worded (see `ShapesWording`, `makeExample`). */
  wording?: ShapesWording;
}

/**
 * `n` examples, deterministic from `seed`. Types follow the mix in exact proportions per cycle. With `seen`,
 * no picture repeats one already in the set, which keeps a held-out split's images new; with `holdout`, every
 * row belongs to the class asked for (rows of other classes are drawn again, so each class keeps the
 * generator's own distribution, restricted to it).
 */
export function generateShapesExamples(opts: GenerateShapesOptions): ShapesExample[] {
  const rng = new Rng(opts.seed);
  const next = schedule(rng, opts.mix ?? DEFAULT_MIX);
  const seen = opts.seen ?? new Set<string>();
  const out: ShapesExample[] = [];
  while (out.length < opts.n) {
    const type = next();
    const h = opts.holdout;
    const rejected = (e: ShapesExample) =>
      e.scenes.some((s) => seen.has(sceneKey(s))) || (h !== undefined && classifyRow(h.rule, e.scenes, e.target ? [e.target] : []) !== h.keep);
    let ex = makeExample(rng, type, opts.size, opts.wording);
    for (let tries = 1; rejected(ex); tries++) {
      if (tries > 100_000) throw new Error(`synth-shapes: no ${type} row of class "${h?.keep}" in 100000 draws; is the holdout rule too wide?`);
      ex = makeExample(rng, type, opts.size, opts.wording);
    }
    for (const s of ex.scenes) seen.add(sceneKey(s));
    out.push(ex);
  }
  return out;
}

/**
 * A text-only row for an exists or compare example: each `<image>` of its question is replaced by the picture's
 * description in words ("Is there a red circle in a picture of a blue circle?"), the answer kept. Mixed into
 * training (`synth-shapes --drills`), such rows teach the verdict of an explained answer (the question's shape
 * against the answer's own description) on rows a fifth as long as a row with pictures.
 */
export function drillRow(id: string, ex: ShapesExample, wording: ShapesWording = {}): { id: string; messages: { role: string; content: string }[] } {
  let k = 0;
  const question = ex.question.replace(/<image>/g, () => `a picture of ${shapeList(ex.scenes[k++], wording)}`);
  return { id, messages: [{ role: 'user', content: question }, { role: 'assistant', content: ex.answer }] };
}

/** A dataset row in the seed's schema for an example whose pictures are stored at `images`. */
export function shapesRow(id: string, ex: ShapesExample, images: string[]): { id: string; messages: { role: string; content: string }[]; images: string[] } {
  return {
    id,
    messages: [
      { role: 'user', content: ex.question },
      { role: 'assistant', content: ex.answer },
    ],
    images,
  };
}
